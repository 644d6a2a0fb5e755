"""W2GN on the Wasserstein-2 benchmark pairs Mix3toMix10 (notebooks/W2GN_benchmark.ipynb): the
config and the run of one dimension; the pairs and their scores live in :mod:`src.benchmark`."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from ..benchmark import Mix3ToMix10
from ..configs import ExperimentConfig
from ..distributions import StandardNormalSampler
from ..icnn import DenseICNN
from ..w2gn import W2GNConfig, train
from .common import make_pair

__all__ = ["BenchmarkConfig", "make_benchmark_nets", "train_w2gn_on_benchmark"]


@dataclass
class BenchmarkConfig(ExperimentConfig):
    """W2GN on the Wasserstein-2 benchmark pairs Mix3toMix10 with the benchmark's protocol:
    DenseICNN(D, [max(2D, 64), max(2D, 64), max(D, 32)], rank 1, no dropout, strong convexity
    1e-4), init N(0, 1)·0.1, identity pretraining (blow 3), Adam lr 1e-3 with default betas for
    both nets, batch 1024, λ = D, cycle on both directions, 250k steps; the FINAL weights are
    scored (no selection by the true map).

    ``root``: folder holding ``Mix3toMix10/{D}_v1.pt, {D}_v2.pt``; ``None`` looks at env
    ``W2GN_W2BENCH``, then the copy shipped in ``data/w2bench`` (D ≤ 128), then the download
    cache (see :func:`src.benchmark.locate_root`).
    """

    dims: tuple = (2, 4, 8, 16, 32, 64, 128)
    root: str | None = None
    batch_size: int = 1024
    lr: float = 1e-3
    betas: tuple = (0.9, 0.999)
    conj_betas: tuple = (0.9, 0.999)
    lambda_per_dim: float = 1.0          # λ = lambda_per_dim · D
    cycle: str = "both_sum"
    iterations: int = 250_000
    iterations_by_dim: dict = field(default_factory=dict)
    strong_convexity: float = 1e-4
    dropout: float = 0.0
    init_scale: float = 0.1
    pretrain_iterations: int = 10000
    pretrain_lr: float = 1e-3
    pretrain_blow: float = 3.0
    pretrain_tol: float = 1e-3
    pretrain_batch_size: int = 1024
    eval_every: int = 5000
    estimate_size: int = 2 ** 16
    progress: bool = True

    def iterations_for(self, dim: int) -> int:
        return int(self.iterations_by_dim.get(dim, self.iterations))

    @classmethod
    def paper(cls):
        return cls(profile="paper")

    @classmethod
    def cpu(cls):
        return cls(profile="cpu", dims=(2, 4, 8, 16, 32, 64), iterations=2000, pretrain_iterations=1000,
                   eval_every=250, progress=False)

    @classmethod
    def smoke(cls):
        return cls(profile="smoke", dims=(2,), iterations=100, eval_every=50, pretrain_iterations=200,
                   batch_size=256, pretrain_batch_size=256, estimate_size=2 ** 12, progress=False)


def make_benchmark_nets(dim: int, cfg, device=None):
    """ψ_θ (``D``) and ψ_ω (``D_conj``) with the benchmark's protocol: DenseICNN(D,
    [max(2D, 64), max(2D, 64), max(D, 32)], rank 1), init N(0, 1)·``cfg.init_scale``, ψ_θ
    pretrained to the identity on ``cfg.pretrain_blow``·N(0, I), ψ_ω a copy of it.

    Args:
        cfg: a :class:`BenchmarkConfig`.
    """
    return make_pair(net, cfg.init_scale, cfg.seed * 100_003 + dim,
                     StandardNormalSampler(dim, device=device, seed=cfg.seed + 7),
                     dict(iterations=cfg.pretrain_iterations, lr=cfg.pretrain_lr, blow=cfg.pretrain_blow,
                          tol=cfg.pretrain_tol, batch_size=cfg.pretrain_batch_size, progress=cfg.progress),
                     device, cfg.checkpoint(f"d{dim}_pretrain"))


def train_w2gn_on_benchmark(bench: Mix3ToMix10, cfg, device=None) -> dict:
    """Train W2GN on ``bench`` with ``cfg`` (a :class:`BenchmarkConfig`) and score the
    final weights. The scores are also recorded every ``cfg.eval_every`` steps for the curves;
    they are never used to pick weights.

    Returns:
        dict with ``final`` (the :meth:`Mix3ToMix10.score` of the final weights), ``curve``
        (iteration, l2_uvp_fwd, cos_fwd, l2_uvp_inv, cos_inv lists), ``history`` (the trainer's),
        ``time_s``, ``pretrain_loss``, ``D``, ``D_conj``.
    """
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    D, D_conj, pre = make_benchmark_nets(bench.dim, cfg, device)
    n_iter = cfg.iterations_for(bench.dim)
    w2cfg = W2GNConfig(batch_size=cfg.batch_size, lr=cfg.lr, betas=cfg.betas, conj_betas=cfg.conj_betas,
                       lambda_cycle=float(cfg.lambda_per_dim * bench.dim), cycle=cfg.cycle, iterations=n_iter,
                       log_every=min(cfg.eval_every, max(n_iter, 1)), seed=cfg.seed, progress=cfg.progress,
                       checkpoint_path=cfg.checkpoint(f"d{bench.dim}_{n_iter}"))
    curve = {"iteration": [], "l2_uvp_fwd": [], "cos_fwd": [], "l2_uvp_inv": [], "cos_inv": []}

    def record(iteration, D_, D_conj_):
        s = bench.score(D_, D_conj_)
        curve["iteration"].append(iteration)
        for k in ("l2_uvp_fwd", "cos_fwd", "l2_uvp_inv", "cos_inv"):
            curve[k].append(s[k])
        return s

    def track(iteration, D_, D_conj_, logs):
        if iteration % cfg.eval_every == 0:
            record(iteration, D_, D_conj_)
        return True

    record(0, D, D_conj)
    track.state_dict, track.load_state_dict = (lambda: {"curve": curve}), (lambda s: curve.update(s["curve"]))
    history = train(D, D_conj, bench.input_sampler, bench.output_sampler, w2cfg, callback=track) if n_iter else {}
    final = bench.score(D, D_conj)
    if not curve["iteration"] or curve["iteration"][-1] != n_iter:
        for k, v in (("iteration", n_iter), *((k, final[k]) for k in ("l2_uvp_fwd", "cos_fwd", "l2_uvp_inv", "cos_inv"))):
            curve[k].append(v)
    return {"final": final, "curve": curve, "history": history, "time_s": time.perf_counter() - start,
            "pretrain_loss": float(pre), "D": D, "D_conj": D_conj}
