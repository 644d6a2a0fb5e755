"""W2GN on a benchmark pair (the shipped D = 2 checkpoints): the run glue of the notebook."""
import math

import torch

from src.benchmark import Mix3ToMix10
from src.experiments.benchmark import BenchmarkConfig, make_benchmark_nets, train_w2gn_on_benchmark


def _cfg():
    return BenchmarkConfig.smoke().replace(w2gn__iterations=20, w2gn__batch_size=64, pretrain__iterations=20,
                                           pretrain__batch_size=64, eval_every=10, estimate_size=1024)


def test_benchmark_nets_start_as_equal_copies():
    D, D_conj, loss = make_benchmark_nets(2, _cfg())
    assert math.isfinite(loss) and D.hidden_layer_sizes == [64, 64, 32]
    assert all(torch.equal(a, b) for a, b in zip(D.state_dict().values(), D_conj.state_dict().values()))


def test_run_scores_the_final_weights_and_records_the_curve():
    out = train_w2gn_on_benchmark(Mix3ToMix10(2), _cfg())
    assert out["curve"]["iteration"] == [0, 10, 20]
    assert out["curve"]["l2_uvp_fwd"][-1] == out["final"]["l2_uvp_fwd"]
    best = out["best_seen"]
    assert best["l2_uvp_fwd"] == min(out["curve"]["l2_uvp_fwd"]) and best["iteration_fwd"] in out["curve"]["iteration"]
    assert best["l2_uvp_inv"] == min(out["curve"]["l2_uvp_inv"])
    assert all(math.isfinite(out["final"][k]) for k in ("l2_uvp_fwd", "cos_fwd", "l2_uvp_inv", "cos_inv"))


def test_per_dimension_steps_and_batches_accept_int_and_json_string_keys():
    """iterations_by_dim / batch_size_by_dim / lr_by_dim: int keys (presets) and string keys (JSON
    overrides) both apply; other dimensions fall back to the w2gn settings; w2gn_for(D) carries them."""
    from src.experiments.benchmark import BenchmarkConfig
    cfg = BenchmarkConfig.cpu().replace(iterations_by_dim={2: 11, "4": 12}, batch_size_by_dim={"2": 64},
                                        lr_by_dim={"4": 0.5, 8: 0.25}, lambda_by_dim={"4": 3.0})
    assert (cfg.iterations_for(2), cfg.iterations_for(4), cfg.iterations_for(8)) == (11, 12, cfg.w2gn.iterations)
    assert (cfg.batch_size_for(2), cfg.batch_size_for(4)) == (64, cfg.w2gn.batch_size)
    assert (cfg.lr_for(2), cfg.lr_for(4), cfg.lr_for(8)) == (cfg.w2gn.lr, 0.5, 0.25)
    assert (cfg.lambda_for(4), cfg.lambda_for(8)) == (3.0, cfg.lambda_per_dim * 8)
    w = cfg.w2gn_for(4)
    assert (w.iterations, w.batch_size, w.lr, w.lambda_cycle, w.checkpoint_path) == (12, cfg.w2gn.batch_size, 0.5,
                                                                                      3.0, None)
    assert BenchmarkConfig().batch_size_for(64) == 1024 and BenchmarkConfig().iterations_for(64) == 250_000
    assert BenchmarkConfig().w2gn_for(64).lr == BenchmarkConfig().w2gn.lr == 1e-3


def test_celu_alpha_by_dim_reaches_the_nets():
    """celu_alpha_by_dim (int or JSON string keys) sets that dimension's ICNNs; the others keep icnn.celu_alpha."""
    from src.experiments.benchmark import BenchmarkConfig, make_benchmark_nets
    cfg = BenchmarkConfig.smoke().replace(celu_alpha_by_dim={2: 0.3, "4": 0.6}, pretrain__iterations=0)
    assert (cfg.icnn_for(2).celu_alpha, cfg.icnn_for(4).celu_alpha, cfg.icnn_for(8).celu_alpha) == (0.3, 0.6, 1.0)
    assert cfg.icnn_for(2).rank == cfg.icnn.rank and cfg.icnn.celu_alpha == 1.0
    for dim, alpha in ((2, 0.3), (8, 1.0)):
        D, D_conj, _ = make_benchmark_nets(dim, cfg)
        assert D.celu_alpha == D_conj.celu_alpha == alpha
