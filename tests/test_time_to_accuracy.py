"""benchmarks/time_to_accuracy.py runs end to end on a tiny problem and writes a well-formed JSON
(no timing assertions)."""
import dataclasses
import json

import torch

from benchmarks import time_to_accuracy as tta


def test_time_to_accuracy_writes_its_record(tmp_path):
    out = tmp_path / "tta.json"
    threads = torch.get_num_threads()
    try:
        record = tta.main(["--dims", "2", "--cap", "5", "--max-steps", "6", "--eval-every", "3",
                           "--pretrain-iterations", "5", "--quick-size", "256", "--thresholds", "1000", "1e-3",
                           "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(record))
    again = tmp_path / "again.json"
    tta.main(["--reanalyse", str(out), "--out", str(again)])   # only recomputes the estimates: the same
    assert json.loads(again.read_text()) == saved
    assert saved["experiment"] == "time_to_accuracy" and saved["threads"] == 1 and saved["clock"] == "cpu"
    assert saved["settings"]["w2gn"]["cycle"] == "both_sum" and saved["settings"]["pretrain"]["iterations"] == 5
    entry = saved["runs"]["2"]
    assert entry["pretrain"]["cpu_s"] >= 0 and entry["linear_l2_uvp_fwd"] > 0
    for impl in ("ours", "ref"):
        run = entry[impl]
        curve = run["curve"]
        assert curve["steps"] == [0, 3, 6] and run["steps"] == 6 and run["stopped"] == "max_steps 6"
        assert len(curve["seconds"]) == len(curve["wall_s"]) == len(curve["l2_uvp_fwd"]) == 3
        assert curve["seconds"] == sorted(curve["seconds"]) and all(v > 0 for v in curve["l2_uvp_fwd"])
        assert set(run["to"]) == {"1000", "0.001"}
        low = run["to"]["0.001"]   # out of reach in 6 steps
        assert low["reached"] is False and low["best_l2_uvp_fwd_estimate"] == min(curve["l2_uvp_fwd"])
        assert low["last_l2_uvp_fwd"] == run["final"]["l2_uvp_fwd"]
        high = run["to"]["1000"]   # met at the start: the full score confirms the first estimate
        assert high["reached"] is True and high["l2_uvp_fwd"] <= 1000 and high["steps"] == 0 == high["seconds"]
        assert run["full_scores"] and run["full_scores"][0]["l2_uvp_fwd"] == high["l2_uvp_fwd"]
    # same weights, same batches, same computation: the two curves agree up to float rounding
    assert entry["curves_max_abs_diff"]["l2_uvp_fwd"] < 0.05
    assert set(entry["ratio_ref_over_ours"]) <= {"1000"}


def test_estimates_for_a_threshold_not_reached():
    seconds = [0.0] + [10.0 * i for i in range(1, 11)]
    values = [90.0] + [100 * s ** -0.5 for s in seconds[1:]]          # 10 % at 100 s, 5 % at 400 s
    est = tta.extrapolate(seconds, values, 5.0, steps_per_second=10)
    assert est["estimate"] is True and abs(est["seconds"] - 400) < 1 and abs(est["steps"] - 4000) <= 10
    assert tta.extrapolate(seconds, [10.0] * 11, 5.0, 10) is None      # flat: no estimate

    def run(steps, train_s, reached):
        to = {"5": {"reached": True, "steps": 300, "seconds": 3.0} if reached else
              {"reached": False, "extrapolation": None}}
        return {"steps": steps, "train_s": train_s, "to": to,
                "curve": {"steps": [0, 100], "l2_uvp_fwd": [50.0, 20.0]}}

    entry = tta.compare({"ours": run(1000, 10.0, True), "ref": run(500, 10.0, False)})
    guess = entry["ref"]["to"]["5"]["same_trajectory_estimate"]
    assert guess["estimate"] is True and guess["steps"] == 300 and guess["seconds"] == 6.0
    assert entry["curves_max_abs_diff"]["l2_uvp_fwd"] == 0 and entry["ratio_ref_over_ours"] == {}
    # neither reached: the run that got further lends its extrapolated step
    ours, ref = run(1000, 10.0, False), run(500, 10.0, False)
    ours["to"]["5"]["extrapolation"] = {"estimate": True, "steps": 2000, "seconds": 20.0}
    entry = tta.compare({"ours": ours, "ref": ref})
    assert entry["ref"]["to"]["5"]["same_trajectory_estimate"]["seconds"] == 40.0
    assert "same_trajectory_estimate" not in entry["ours"]["to"]["5"]


def test_cpu_recipe_trains_the_cpu_preset(tmp_path, monkeypatch):
    from src.experiments.benchmark import BenchmarkConfig

    monkeypatch.setattr(tta, "results_dir", lambda: tmp_path)        # the default --out of --recipe cpu
    threads = torch.get_num_threads()
    try:
        record = tta.main(["--recipe", "cpu", "--dims", "4", "--cap", "5", "--max-steps", "6", "--eval-every", "3",
                           "--pretrain-iterations", "5", "--quick-size", "256", "--thresholds", "1000", "1e-3"])
    finally:
        torch.set_num_threads(threads)
    saved = json.loads((tmp_path / "time_to_accuracy_cpu.json").read_text())
    assert saved == json.loads(json.dumps(record))
    preset, st = BenchmarkConfig.cpu(), saved["settings"]
    assert st["recipe"] == "cpu" and st["lambda_cycle"].startswith(f"{preset.lambda_per_dim:g}·D")
    assert st["by_dim"]["4"] == {"batch_size": preset.batch_size_for(4), "lr": preset.lr_for(4),
                                 "lambda_cycle": preset.lambda_for(4), "iterations": preset.iterations_for(4),
                                 "celu_alpha": preset.icnn_for(4).celu_alpha}
    for key in ("lr_schedule", "warmup", "lr_end", "cycle"):
        assert st["w2gn"][key] == getattr(preset.w2gn, key), key
    assert st["w2gn"]["lr_schedule"] == "cosine" and st["w2gn"]["warmup"] > 0
    entry = saved["runs"]["4"]
    for impl in ("ours", "ref"):
        run = entry[impl]
        assert run["steps"] == 6 and run["recipe_steps"] == preset.iterations_for(4)
        assert run["stopped"] == "max_steps 6" == run["to"]["0.001"]["run_ended_by"]
    assert entry["curves_max_abs_diff"]["l2_uvp_fwd"] < 0.05


def test_both_trainers_follow_the_lr_schedule_and_stop_at_the_recipe_end():
    from src.benchmark import Mix3ToMix10
    from src.training import scheduled_lr

    cfg = tta.settings(5, "cpu")
    bench = Mix3ToMix10(4, estimate_size=2 ** 10)   # D = 2 of the cpu recipe has CELU α = 0.1: ours only
    D, D_conj, _ = tta.make_benchmark_nets(4, cfg)
    # a short horizon so that warm-up and decay both show within a few steps
    w2cfg = dataclasses.replace(cfg.w2gn_for(4), iterations=8, warmup=3, batch_size=64)
    g = torch.Generator().manual_seed(3)
    batches = [(torch.randn(64, 4, generator=g), torch.randn(64, 4, generator=g)) for _ in range(8)]
    steps = {impl: tta.make_trainer(impl, D, D_conj, w2cfg) for impl in tta.IMPLS}
    opts = {"ours": steps["ours"][0].__self__.opt, "ref": steps["ref"][0].__self__.opt_conj}
    for k, (X, Y) in enumerate(batches):
        for impl, (step, _) in steps.items():
            step(X, Y)
            want = scheduled_lr(w2cfg.lr, k, w2cfg.iterations, w2cfg.lr_schedule, w2cfg.warmup, w2cfg.lr_end)
            assert opts[impl].param_groups[0]["lr"] == want, (impl, k)
    lrs = [scheduled_lr(w2cfg.lr, k, 8, "cosine", 3, w2cfg.lr_end) for k in range(8)]
    assert lrs[0] < lrs[2] == w2cfg.lr > lrs[7]                       # warm-up, then decay
    # the same trajectory: both maps moved alike (weights may differ by ~lr where Adam meets ~0 gradients)
    X = bench.X_eval[:512]
    start, ours, ref = (net.push_nograd(X) for net in (D, steps["ours"][1]()[0], steps["ref"][1]()[0]))
    moved = (ours - start).norm()
    assert moved > 0 and (ours - ref).norm() < 1e-3 * moved
    # a run ends with the recipe's steps, recorded as such (distinct from the cap)
    states = [s.state_dict() for s in (bench.input_sampler, bench.output_sampler)]
    run = tta.run("ours", bench, D, D_conj, dataclasses.replace(w2cfg, iterations=4), states, [1e-3], cap=60, eval_every=3,
                  quick_size=256)
    assert run["curve"]["steps"] == [0, 3, 4] and run["steps"] == 4 == run["recipe_steps"]
    assert run["stopped"] == "end of the recipe's 4 steps" == run["to"]["0.001"]["run_ended_by"]


def test_the_reference_pattern_refuses_a_celu_alpha_it_does_not_have():
    import pytest

    cfg = tta.settings(0, "cpu")
    D, D_conj, _ = tta.make_benchmark_nets(2, cfg)           # α = 0.1 at D = 2 in the cpu recipe
    assert D.celu_alpha == 0.1
    tta.make_trainer("ours", D, D_conj, cfg.w2gn_for(2))
    with pytest.raises(ValueError, match="paper's CELU"):
        tta.make_trainer("ref", D, D_conj, cfg.w2gn_for(2))
