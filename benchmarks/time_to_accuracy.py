"""Time to accuracy on the Wasserstein-2 benchmark pair Mix3toMix10: training time until the forward
L2-UVP reaches given thresholds (default 10 % and 5 %), ours against the reference computation pattern.

* ours: ``src.w2gn.W2GN(D, D_conj, config).step`` as users get it (the fast path of ``src.fast``);
* reference: ``RefTrainer`` / ``RefDenseICNN`` of :mod:`benchmarks.reference`, the reference
  implementation's computation pattern (as ``benchmarks/step_speed.py`` times it).

Both train from the same identity-pretrained weights on the same batches (the pair's samplers are
reset to the same state before each run) with one of two recipes of
``src.experiments.benchmark.BenchmarkConfig`` (``--recipe``), both with the identity pretraining
of its ``cpu`` preset (timed and reported apart) and its DenseICNN widths from D, rank 1, init
N(0, 1)·0.1, Adam with default betas, cycle ``both_sum``:

* ``paper`` (default): the paper's settings — batch 1024, lr 1e-3 constant, λ = D, 250k steps;
* ``cpu``: the ``cpu`` preset as the benchmark notebook trains it at each D — batch
  ``batch_size_for(D)`` (256; 2048 at D = 2, 1024 at D = 4), λ ``lambda_for(D)`` (0.25·D; 0.5·D at D = 64), peak lr
  ``lr_for(D)`` with a 200-step linear
  warm-up and cosine decay to ``lr_end`` over the run's ``iterations_for(D)`` steps
  (:func:`src.training.scheduled_lr`, applied before every step by both implementations).

The clock counts training only (drawing the batches and the steps; the time spent drawing them is
reported as well). Every ``--eval-every`` steps the clock stops and the forward L2-UVP is estimated
on the first ``--quick-size`` points of the pair's evaluation set; when the estimate is at or below
a threshold not yet reached, the full score (:meth:`src.benchmark.Mix3ToMix10.score`, 4096 points)
decides, and the first step it confirms is the crossing. A run stops when every threshold is
reached, at the end of the recipe's steps (``iterations_for(D)``) or when the clock passes
``--cap`` seconds; a threshold not reached is recorded as such, with what ended the run
(``run_ended_by``: "cap of … s", "end of the recipe's … steps", "max_steps …"), the best estimate
and the last full score, and an extrapolation labelled as an estimate: a straight line through log
L2-UVP against log seconds over the second half of the curve (``null`` where the curve does not
fall there; a crude guide where the curve is no power law, and past the recipe's end, where its
learning rate has decayed, only a guide to what another recipe might do; noted so). Both
implementations compute the same steps, so their curves agree up to float rounding (the largest difference is recorded); where one reached a threshold and
the other did not, the other also gets ``same_trajectory_estimate``: the crossing step (else, when
neither reached it, the extrapolated step of the run that got further) times its own measured
seconds per step (also an estimate, labelled so). ``--reanalyse JSON`` recomputes the estimates of
a written record from its stored curves.

The clock is this process's CPU time (``--clock cpu``, the default): with one thread it is the time
the run takes on one core of its own, also on a shared machine; ``--clock wall`` uses the wall clock
(both are recorded at every curve point either way).

The record (``settings``) names the recipe and its settings, per D (``by_dim``) the batch size, lr, λ, CELU α
and the recipe's steps (from ``BenchmarkConfig.w2gn_for(D)`` and ``icnn_for(D)``).

Run:  python benchmarks/time_to_accuracy.py [--recipe paper] [--dims 16 64] [--cap 360]
      [--thresholds 10 5] [--impls ours ref] [--threads 1] [--out results/time_to_accuracy.json]
      python benchmarks/time_to_accuracy.py --recipe cpu [--cap 1200]
      (writes results/time_to_accuracy_cpu.json unless --out is given)
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from src.benchmark import Mix3ToMix10  # noqa: E402
from src.experiments.benchmark import BenchmarkConfig, make_benchmark_nets  # noqa: E402
from src.fast import gemm  # noqa: E402
from src.metrics import l2_uvp  # noqa: E402
from src.utils import atomic_write_text, results_dir  # noqa: E402
from src.w2gn import W2GN  # noqa: E402

from benchmarks.reference import RefDenseICNN, RefTrainer  # noqa: E402
from benchmarks.step_speed import cpu_name  # noqa: E402

IMPLS = ("ours", "ref")
RECIPES = ("paper", "cpu")
IMPL_NAMES = {"ours": "ours (src.w2gn.W2GN, fast path)", "ref": "reference pattern (benchmarks/reference.py)"}


def settings(pretrain_iterations: int | None = None, recipe: str = "paper") -> BenchmarkConfig:
    """The benchmark config of ``recipe`` (no checkpoints, no progress bars): ``"paper"``, the
    paper protocol with the identity pretraining of the ``cpu`` preset; ``"cpu"``, the ``cpu``
    preset itself (same pretraining)."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    cpu = BenchmarkConfig.cpu()
    cfg = (BenchmarkConfig.paper().replace(pretrain=cpu.pretrain) if recipe == "paper" else cpu).replace(
        checkpoint_dir=None, w2gn__progress=False)
    return cfg if pretrain_iterations is None else cfg.replace(pretrain__iterations=pretrain_iterations)


def _quick_l2_uvp(net, X, Y, var_y) -> float:
    """Forward L2-UVP (%) of ∇``net`` on the points ``X`` ``[n, D]`` (true images ``Y``)."""
    net.eval()
    try:
        return l2_uvp(net.push_nograd(X), Y, var_y)
    finally:
        net.train()


def make_trainer(impl: str, D, D_conj, w2cfg):
    """``(step, scored_nets)``: one training step ``step(X, Y)`` of ``impl`` on copies of ``D``,
    ``D_conj``, and a function returning the current (ψ_θ, ψ_ω) as DenseICNNs for scoring."""
    if impl == "ours":
        nets = copy.deepcopy(D), copy.deepcopy(D_conj)
        return W2GN(*nets, w2cfg).step, (lambda: nets)
    if impl != "ref":
        raise ValueError(f"impl must be one of {IMPLS}, got {impl!r}")
    c = D.config()
    if c.get("celu_alpha", 1.0) != 1.0 or c.get("activation", "celu") != "celu":
        raise ValueError("the reference pattern has the paper's CELU (α = 1) only; this net has "
                         f"{c.get('activation')} with α = {c.get('celu_alpha')} (time D = 2 of the cpu recipe "
                         "with impl 'ours' alone, or pass a net with the paper's activation)")
    refs = [RefDenseICNN(c["in_dim"], c["hidden_layer_sizes"], c["rank"], c["dropout"],
                                    c["strong_convexity"]) for _ in range(2)]
    for ref, net in zip(refs, (D, D_conj)):
        ref.load_state_dict(net.state_dict())
    scorers = copy.deepcopy(D), copy.deepcopy(D_conj)

    def scored():
        for scorer, ref in zip(scorers, refs):
            scorer.load_state_dict(ref.state_dict())
        return scorers

    return RefTrainer(*refs, w2cfg).step, scored


def extrapolate(seconds, values, threshold, steps_per_second):
    """Where a line through (log seconds, log L2-UVP) over the second half of the curve meets
    ``threshold``; ``None`` if it does not fall there (or too few points)."""
    s, v = np.asarray(seconds, float), np.asarray(values, float)
    keep = (s >= s[-1] / 2) & (s > 0) & (v > 0)
    if keep.sum() < 4:
        return None
    slope, intercept = np.polyfit(np.log(s[keep]), np.log(v[keep]), 1)
    if not slope < 0:
        return None
    at = math.exp((math.log(threshold) - intercept) / slope)
    return {"estimate": True, "seconds": round(at, 1), "steps": int(round(at * steps_per_second)),
            "method": "extrapolated: least-squares line through log l2_uvp_fwd (the estimates) against log "
                      f"seconds over the second half of the curve ({int(keep.sum())} points, slope {slope:.3f})"}


def run(impl, bench, D, D_conj, w2cfg, sampler_states, thresholds, cap, eval_every, quick_size,
        max_steps=None, clock="cpu"):
    """Train ``impl`` from (``D``, ``D_conj``) until every threshold is reached, the recipe's
    ``w2cfg.iterations`` steps are done or the clock passes ``cap`` seconds (or ``max_steps``).
    Returns the run's record (see the module docstring)."""
    now = time.process_time if clock == "cpu" else time.perf_counter
    for sampler, state in zip((bench.input_sampler, bench.output_sampler), sampler_states):
        sampler.load_state_dict(state)
    step, scored = make_trainer(impl, D, D_conj, w2cfg)
    Xq, Yq = bench.X_eval[:quick_size], bench.Y_eval[:quick_size]
    b = w2cfg.batch_size
    curve = {"steps": [], "seconds": [], "wall_s": [], "l2_uvp_fwd": []}
    full_scores, crossings = [], {}
    todo = sorted(thresholds, reverse=True)
    recipe_steps = int(w2cfg.iterations)
    limit = recipe_steps if max_steps is None else min(max_steps, recipe_steps)
    steps, train_s, wall_s, sample_s = 0, 0.0, 0.0, 0.0

    def point():
        curve["steps"].append(steps)
        curve["seconds"].append(round(train_s, 3))
        curve["wall_s"].append(round(wall_s, 3))
        curve["l2_uvp_fwd"].append(round(_quick_l2_uvp(scored()[0], Xq, Yq, bench.var_y), 4))
        if todo and curve["l2_uvp_fwd"][-1] <= todo[0]:
            full = bench.score(*scored())
            full_scores.append({"steps": steps, "seconds": round(train_s, 3),
                                **{k: round(full[k], 4) for k in ("l2_uvp_fwd", "l2_uvp_inv")}})
            while todo and full["l2_uvp_fwd"] <= todo[0]:
                crossings[todo.pop(0)] = {"reached": True, "steps": steps, "seconds": round(train_s, 2),
                                          "wall_s": round(wall_s, 2), "l2_uvp_fwd": round(full["l2_uvp_fwd"], 4)}

    point()
    stopped = "every threshold reached"
    while todo:
        if steps >= recipe_steps:
            stopped = f"end of the recipe's {recipe_steps} steps"
            break
        if train_s >= cap:
            stopped = f"cap of {cap:g} s"
            break
        if max_steps is not None and steps >= max_steps:
            stopped = f"max_steps {max_steps}"
            break
        n = min(eval_every, limit - steps)
        t0, w0 = now(), time.perf_counter()
        for _ in range(n):
            s0 = now()
            X, Y = bench.input_sampler.sample(b), bench.output_sampler.sample(b)
            sample_s += now() - s0
            step(X, Y)
        train_s += now() - t0
        wall_s += time.perf_counter() - w0
        steps += n
        point()
    final = bench.score(*scored())
    record = {"impl": IMPL_NAMES[impl], "steps": steps, "train_s": round(train_s, 2), "wall_s": round(wall_s, 2),
              "sample_s": round(sample_s, 2), "ms_per_step": round(1e3 * train_s / max(steps, 1), 3),
              "stopped": stopped, "recipe_steps": recipe_steps, "to": {f"{t:g}": crossings.get(t, {"reached": False})
                                         for t in sorted(thresholds, reverse=True)},
              "final": {k: round(v, 4) for k, v in final.items()}, "full_scores": full_scores, "curve": curve}
    return estimate(record)


def estimate(record):
    """Fill the entries of ``record["to"]`` (one run) not reached: what ended the run
    (``run_ended_by``: the cap, the recipe's last step, ``max_steps``), best estimate, last full
    score and :func:`extrapolate` of the curve. Returns ``record``."""
    curve, rate = record["curve"], record["steps"] / record["train_s"] if record["train_s"] > 0 else float("nan")
    recipe_done = record.get("recipe_steps") is not None and record["steps"] >= record["recipe_steps"]
    for key, entry in record["to"].items():
        if not entry["reached"]:
            entry.clear()
            entry.update(reached=False, run_ended_by=record["stopped"],
                         best_l2_uvp_fwd_estimate=min(curve["l2_uvp_fwd"]),
                         last_l2_uvp_fwd=record["final"]["l2_uvp_fwd"],
                         extrapolation=extrapolate(curve["seconds"], curve["l2_uvp_fwd"], float(key), rate))
            if recipe_done and entry["extrapolation"]:
                entry["extrapolation"]["note"] = (
                    f"beyond the recipe's {record['recipe_steps']} steps, where its lr schedule ends: a longer "
                    "run is another recipe, so this is a crude guide only")
    return record


def compare(entry, tolerance=0.02):
    """Add to ``entry`` (one D, both runs :func:`estimate`-d) the largest difference of the two runs'
    curves on their common steps and, where the curves agree within ``tolerance`` (relative) and
    one run did not reach a threshold, ``same_trajectory_estimate``: the step at which the other run
    reached it (else the other's extrapolated step, if its curve goes further) times this run's
    measured seconds per step. Returns ``entry``."""
    o, r = entry["ours"], entry["ref"]
    n = min(len(o["curve"]["steps"]), len(r["curve"]["steps"]))
    pairs = list(zip(o["curve"]["l2_uvp_fwd"][:n], r["curve"]["l2_uvp_fwd"][:n]))
    rel = max(abs(a - b) / max(abs(b), 1e-12) for a, b in pairs)
    entry["curves_max_abs_diff"] = {"steps": o["curve"]["steps"][n - 1],
                                    "l2_uvp_fwd": round(max(abs(a - b) for a, b in pairs), 4),
                                    "relative": round(rel, 5)}
    ratios = {}
    for k in o["to"]:
        for run_, other in ((o, r), (r, o)):
            mine, theirs = run_["to"][k], other["to"][k]
            mine.pop("same_trajectory_estimate", None)
            if mine["reached"] or rel > tolerance:
                continue
            if theirs["reached"]:
                steps, source = theirs["steps"], "the step at which the other implementation reached it"
            elif theirs["extrapolation"] and other["steps"] > run_["steps"]:
                steps, source = theirs["extrapolation"]["steps"], ("the other implementation's extrapolated step "
                                                                    "(its curve goes further; itself an estimate)")
            else:
                continue
            mine["same_trajectory_estimate"] = {
                "estimate": True, "steps": steps, "seconds": round(steps * run_["train_s"] / run_["steps"], 1),
                "method": f"{source} times this run's measured seconds per step (both follow the same "
                          "trajectory up to rounding, see curves_max_abs_diff)"}
        if o["to"][k]["reached"] and r["to"][k]["reached"] and o["to"][k]["seconds"] > 0:
            ratios[k] = round(r["to"][k]["seconds"] / o["to"][k]["seconds"], 2)
    entry["ratio_ref_over_ours"] = ratios
    return entry


def _fmt(entry) -> str:
    if entry["reached"]:
        return f"{entry['seconds']:.1f} s ({entry['steps']})"
    est = entry.get("same_trajectory_estimate") or entry["extrapolation"]
    why = " in recipe" if entry.get("run_ended_by", "").startswith("end of the recipe") else ""
    return f"not reached{why}" + (f" (est. ~{est['seconds']:.0f} s)" if est else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", choices=RECIPES, default="paper",
                    help="paper: batch 1024, constant lr 1e-3, λ = D; cpu: the benchmark's cpu preset")
    ap.add_argument("--dims", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--impls", nargs="+", choices=IMPLS, default=list(IMPLS))
    ap.add_argument("--thresholds", type=float, nargs="+", default=[10.0, 5.0], help="forward L2-UVP, %%")
    ap.add_argument("--cap", type=float, default=300.0, help="clock seconds of training per run")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="the training clock: this process's CPU time (default) or the wall clock")
    ap.add_argument("--eval-every", type=int, default=50, help="steps between L2-UVP estimates")
    ap.add_argument("--quick-size", type=int, default=1024, help="evaluation points of the estimates")
    ap.add_argument("--max-steps", type=int, default=None, help="stop a run after this many steps (tests)")
    ap.add_argument("--pretrain-iterations", type=int, default=None,
                    help="identity pretraining steps (default: the cpu preset's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", type=Path, default=None,
                    help="default: results/time_to_accuracy.json (paper), results/time_to_accuracy_cpu.json (cpu)")
    ap.add_argument("--reanalyse", type=Path, default=None, metavar="JSON",
                    help="only recompute the estimates of a record this script wrote (written back, or to --out)")
    args = ap.parse_args(argv)
    if args.reanalyse is not None:
        return reanalyse(args.reanalyse, args.out)
    if args.cap <= 0 or args.eval_every < 1 or args.quick_size < 1 or any(t <= 0 for t in args.thresholds):
        ap.error("--cap, --eval-every, --quick-size and --thresholds must be positive")
    torch.set_num_threads(args.threads)
    cfg = settings(args.pretrain_iterations, args.recipe)
    out = args.out or results_dir() / ("time_to_accuracy.json" if args.recipe == "paper" else
                                       f"time_to_accuracy_{args.recipe}.json")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU {cpu_name()}; "
          f"recipe {args.recipe}; clock: {args.clock} time; cap {args.cap:g} s per run")
    runs, by_dim = {}, {}
    for dim in args.dims:
        bench = Mix3ToMix10(dim, estimate_size=cfg.estimate_size)
        states = [copy.deepcopy(s.state_dict()) for s in (bench.input_sampler, bench.output_sampler)]
        c0, w0 = time.process_time(), time.perf_counter()
        D, D_conj, pre_loss = make_benchmark_nets(dim, cfg)
        pretrain = {"iterations": cfg.pretrain.iterations, "cpu_s": round(time.process_time() - c0, 2),
                    "wall_s": round(time.perf_counter() - w0, 2), "last_loss": float(pre_loss)}
        w2cfg = cfg.w2gn_for(dim)   # the dimension's batch, lr, λ and steps (the lr schedule's horizon)
        by_dim[str(dim)] = {"batch_size": w2cfg.batch_size, "lr": w2cfg.lr, "lambda_cycle": w2cfg.lambda_cycle,
                            "iterations": w2cfg.iterations, "celu_alpha": cfg.icnn_for(dim).celu_alpha}
        entry = {"pretrain": pretrain, "linear_l2_uvp_fwd": round(bench.score_linear()["l2_uvp_fwd"], 4),
                 "hidden": D.hidden_layer_sizes}
        for impl in args.impls:
            entry[impl] = run(impl, bench, D, D_conj, w2cfg, states, args.thresholds, args.cap,
                              args.eval_every, args.quick_size, args.max_steps, args.clock)
            r = entry[impl]
            print(f"D={dim:<3} {impl:>4}: {r['steps']} steps, {r['ms_per_step']:.2f} ms/step, final forward L2-UVP "
                  f"{r['final']['l2_uvp_fwd']:.2f} % ({r['stopped']})", flush=True)
        if "ours" in entry and "ref" in entry:
            compare(entry)
        runs[str(dim)] = entry
    record = {
        "experiment": "time_to_accuracy", "torch": torch.__version__, "python": platform.python_version(),
        "threads": torch.get_num_threads(), "cpu": cpu_name(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(), "ours_cpu_matmul": gemm.cpu_matmul(),
        "pair": "Mix3toMix10", "clock": args.clock,
        "unit": f"seconds of training on the {args.clock} clock (drawing batches and steps; pretraining and "
                "scoring excluded)",
        "settings": {"recipe": args.recipe, "thresholds_l2_uvp_fwd": sorted(args.thresholds, reverse=True), "cap_s": args.cap,
                     "eval_every": args.eval_every, "quick_size": args.quick_size,
                     "full_size": int(bench.X_eval.shape[0]) if args.dims else None, "max_steps": args.max_steps,
                     "lambda_cycle": ("D" if cfg.lambda_per_dim == 1 else f"{cfg.lambda_per_dim:g}·D")
                                     + "".join(f", {d}: {v:g}" for d, v in cfg.lambda_by_dim.items()),
                     "by_dim": by_dim, "icnn": vars(cfg.icnn).copy(), "pretrain": vars(cfg.pretrain).copy(),
                     "w2gn": {k: v for k, v in cfg.w2gn.to_dict().items()
                              if k not in ("iterations", "log_every", "progress", "checkpoint_path",
                                           "checkpoint_every", "lambda_cycle", "batch_size", "lr")},
                     "seed": cfg.seed, "estimate_size": cfg.estimate_size},
        "runs": runs,
    }
    return _finish(record, out)


def _finish(record, out):
    print_table(record)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}")
    return record


def print_table(record) -> None:
    keys = [f"{t:g}" for t in record["settings"]["thresholds_l2_uvp_fwd"]]
    head = f"{'D':>3} | {'impl':>4} | {'ms/step':>7} | " + " | ".join(f"{'to ' + k + ' %: s (steps)':>26}" for k in keys) \
        + f" | {'final L2-UVP':>12}"
    print(f"clock: {record['clock']} seconds of training (pretraining and scoring excluded)\n{head}\n{'-' * len(head)}")
    for dim, entry in record["runs"].items():
        for impl in IMPLS:
            if impl in entry:
                r = entry[impl]
                print(f"{dim:>3} | {impl:>4} | {r['ms_per_step']:7.2f} | "
                      + " | ".join(f"{_fmt(r['to'][k]):>26}" for k in keys) + f" | {r['final']['l2_uvp_fwd']:12.2f}")
        if "curves_max_abs_diff" in entry:
            d = entry["curves_max_abs_diff"]
            print(f"{dim:>3} | ref / ours time to threshold: {entry['ratio_ref_over_ours'] or 'n/a (not both reached)'}; "
                  f"curves differ by ≤ {d['l2_uvp_fwd']} L2-UVP points ({100 * d['relative']:.2f} %) up to step {d['steps']}")
    print("est. = an estimate, not a measurement (the JSON's same_trajectory_estimate, else extrapolation)")


def reanalyse(path: Path, out: Path | None = None):
    """Recompute the estimates of a written record from its stored curves (nothing is re-measured)
    and write it back (to ``out`` if given)."""
    record = json.loads(Path(path).read_text())
    for entry in record["runs"].values():
        for impl in IMPLS:
            if impl in entry:
                estimate(entry[impl])
        if all(impl in entry for impl in IMPLS):
            compare(entry)
    return _finish(record, Path(out or path))


if __name__ == "__main__":
    main()
