"""W2GN on the Wasserstein-2 benchmark pairs Mix3toMix10 (notebooks/W2GN_benchmark.ipynb): the
config and the run of one dimension; the pairs and their scores live in :mod:`src.benchmark`."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import torch

from ..benchmark import Mix3ToMix10
from ..configs import ExperimentConfig, ICNNSpec, PretrainSpec, W2GNConfig
from ..distributions import StandardNormalSampler
from ..w2gn import train
from .common import make_pair

__all__ = ["BenchmarkConfig", "make_benchmark_nets", "train_w2gn_on_benchmark"]


@dataclass
class BenchmarkConfig(ExperimentConfig):
    """W2GN on the Wasserstein-2 benchmark pairs Mix3toMix10 with the benchmark's protocol:
    DenseICNN(D, [max(2D, 64), max(2D, 64), max(D, 32)], rank 1, no dropout, strong convexity
    1e-4), init N(0, 1)·0.1, identity pretraining (blow 3), Adam lr 1e-3 with default betas for
    both nets, batch 1024, λ = D, cycle on both directions, 250k steps; the FINAL weights are
    scored (no selection by the true map).

    ``root``: folder holding ``Mix3toMix10/{D}_v1.pt, {D}_v2.pt``; ``None``: the folder named by
    env ``W2GN_W2BENCH`` when it is set (only that one), else the copy shipped in ``data/w2bench``
    when it holds D (D ≤ 128), else the download cache ``~/.cache/w2gn/w2bench``; missing files
    are downloaded into the folder chosen (see :func:`src.benchmark.ensure_checkpoints`).
    The ``cpu`` preset goes beyond this recipe (λ, batch, lr schedule, steps and CELU α per D,
    listed below; why: docs/tuning.md, "Wasserstein-2 benchmark").
    """

    dims: tuple = (2, 4, 8, 16, 32, 64, 128)
    root: str | None = None
    icnn: ICNNSpec = field(default_factory=lambda: ICNNSpec(   # widths from D, see make_benchmark_nets
        rank=1, dropout=0.0, strong_convexity=1e-4, init_scale=0.1))
    pretrain: PretrainSpec = field(default_factory=lambda: PretrainSpec(
        iterations=10_000, lr=1e-3, blow=3.0, tol=1e-3, batch_size=1024))
    w2gn: W2GNConfig = field(default_factory=lambda: W2GNConfig(   # λ and log_every: set per dimension
        batch_size=1024, lr=1e-3, betas=(0.9, 0.999), conj_betas=(0.9, 0.999), cycle="both_sum",
        iterations=250_000))
    lambda_per_dim: float = 1.0          # λ = lambda_per_dim · D
    iterations_by_dim: dict = field(default_factory=dict)   # {D: steps}; other D: w2gn.iterations
    batch_size_by_dim: dict = field(default_factory=dict)   # {D: batch}; other D: w2gn.batch_size
    lr_by_dim: dict = field(default_factory=dict)           # {D: peak lr}; other D: w2gn.lr
    lambda_by_dim: dict = field(default_factory=dict)       # {D: λ}; other D: lambda_per_dim·D
    celu_alpha_by_dim: dict = field(default_factory=dict)   # {D: CELU α}; other D: icnn.celu_alpha
    eval_every: int = 5000
    estimate_size: int = 2 ** 16

    def _by_dim(self, table: dict, dim: int, default, kind=int):
        # keys may be ints or, from JSON overrides (W2GN_OVERRIDES), strings
        return kind(table.get(dim, table.get(str(dim), default)))

    def iterations_for(self, dim: int) -> int:
        return self._by_dim(self.iterations_by_dim, dim, self.w2gn.iterations)

    def batch_size_for(self, dim: int) -> int:
        return self._by_dim(self.batch_size_by_dim, dim, self.w2gn.batch_size)

    def lr_for(self, dim: int) -> float:
        return self._by_dim(self.lr_by_dim, dim, self.w2gn.lr, float)

    def lambda_for(self, dim: int) -> float:
        return self._by_dim(self.lambda_by_dim, dim, self.lambda_per_dim * dim, float)

    def icnn_for(self, dim: int) -> ICNNSpec:
        """The :class:`ICNNSpec` of dimension ``dim``: ``icnn`` with that dimension's CELU α
        (:attr:`celu_alpha_by_dim`); the widths come from D in :func:`make_benchmark_nets`."""
        return dataclasses.replace(self.icnn, celu_alpha=self._by_dim(self.celu_alpha_by_dim, dim,
                                                                      self.icnn.celu_alpha, float))

    def w2gn_for(self, dim: int, name: str | None = None) -> W2GNConfig:
        """The :class:`W2GNConfig` trained at dimension ``dim``: λ (:meth:`lambda_for`), the steps
        (also the lr schedule's horizon), batch size and lr of that dimension; ``name``: its
        checkpoint run name (see :meth:`checkpoint`)."""
        n_iter = self.iterations_for(dim)
        return self.w2gn_config(name, lambda_cycle=self.lambda_for(dim), iterations=n_iter,
                                batch_size=self.batch_size_for(dim), lr=self.lr_for(dim),
                                log_every=min(self.eval_every, max(n_iter, 1)))

    @classmethod
    def cpu(cls):
        # the benchmark beyond the paper's recipe on 2 CPU cores; see docs/tuning.md#wasserstein-2-benchmark
        return cls().replace(profile="cpu", dims=(2, 4, 8, 16, 32, 64), w2gn__iterations=3000,
                             w2gn__batch_size=256, w2gn__lr=1e-2, w2gn__lr_schedule="cosine", w2gn__warmup=200,
                             w2gn__progress=False, lambda_per_dim=0.25, pretrain__iterations=1000, eval_every=100,
                             iterations_by_dim={2: 12_000, 4: 16_000, 8: 5000, 16: 8000, 32: 16_000, 64: 24_000},
                             batch_size_by_dim={2: 2048, 4: 1024}, lambda_by_dim={64: 32.0},
                             celu_alpha_by_dim={2: 0.1})

    @classmethod
    def smoke(cls):
        return cls().replace(profile="smoke", dims=(2,), w2gn__iterations=100, w2gn__batch_size=256,
                             w2gn__progress=False, pretrain__iterations=200, pretrain__batch_size=256,
                             eval_every=50, estimate_size=2 ** 12)

def make_benchmark_nets(dim: int, cfg, device=None):
    """ψ_θ (``D``) and ψ_ω (``D_conj``) with the benchmark's protocol: DenseICNN(D,
    [max(2D, 64), max(2D, 64), max(D, 32)], rank 1, the rest as ``cfg.icnn_for(D)``), init
    N(0, 1)·``cfg.icnn.init_scale``, ψ_θ
    pretrained to the identity on ``cfg.pretrain.blow``·N(0, I), ψ_ω a copy of it.

    Args:
        cfg: a :class:`BenchmarkConfig`.
    """
    hidden = [max(2 * dim, 64), max(2 * dim, 64), max(dim, 32)]
    spec = cfg.icnn_for(dim)
    return make_pair(lambda: spec.dense(dim, hidden), spec.init_scale, cfg.seed * 100_003 + dim,
                     StandardNormalSampler(dim, device=device, seed=cfg.seed + 7), cfg.pretrain, device,
                     cfg.checkpoint(f"d{dim}_pretrain"), cfg.w2gn.progress)


def train_w2gn_on_benchmark(bench: Mix3ToMix10, cfg, device=None) -> dict:
    """Train W2GN on ``bench`` with ``cfg`` (a :class:`BenchmarkConfig`) and score the
    final weights. The scores are also recorded every ``cfg.eval_every`` steps for the curves;
    they are never used to pick weights.

    Returns:
        dict with ``final`` (the :meth:`Mix3ToMix10.score` of the final weights), ``best_seen``
        (the lowest forward and inverse L2-UVP on the curve and their iterations: the published
        protocol's selection by the true map, reported beside ``final``, never applied), ``curve``
        (iteration, l2_uvp_fwd, cos_fwd, l2_uvp_inv, cos_inv lists), ``history`` (the trainer's),
        ``time_s``, ``pretrain_loss``, ``D``, ``D_conj``.
    """
    start = time.perf_counter()
    torch.manual_seed(cfg.seed)
    D, D_conj, pre = make_benchmark_nets(bench.dim, cfg, device)
    n_iter = cfg.iterations_for(bench.dim)
    w2cfg = cfg.w2gn_for(bench.dim, f"d{bench.dim}_{n_iter}")
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
    best = {}
    for key in ("l2_uvp_fwd", "l2_uvp_inv"):
        i = min(range(len(curve[key])), key=curve[key].__getitem__)
        best[key], best[key.replace("l2_uvp", "iteration")] = curve[key][i], curve["iteration"][i]
    return {"final": final, "best_seen": best, "curve": curve, "history": history, "time_s": time.perf_counter() - start,
            "pretrain_loss": float(pre), "D": D, "D_conj": D_conj}
