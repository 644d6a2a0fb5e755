"""The paper's Gaussian comparison: LSOT, MM-1, MM-2 and W2GN on the same problems
(notebooks/W2GN_gaussians_baselines.ipynb).

P = N(0, Σ_X), Q = N(0, Σ_Y) from :func:`src.gaussian.random_gaussian_problem`; every ICNN
method uses the W2GN Gaussians settings (DenseICNN(D, [max(128,D), max(128,D), max(64,D)],
rank 1, dropout 0, sc 5e-2), N(0,1)/20 init, identity pretraining, batch 256, lr 3e-4) and
starts from the *same* pretrained weights; LSOT uses ReLU MLPs of the same widths. Every method
gets ``cfg.iterations`` outer steps (LSOT: that many dual steps, then that many map steps).
"""
from __future__ import annotations

import copy
import time

import torch

from dataclasses import dataclass, field

from ..baselines import LSOT, MM1, MM2, FittedMap, LSOTConfig, MM1Config, MM2Config
from ..configs import ExperimentConfig, PretrainSpec
from ..distributions import NormalSampler, StandardNormalSampler
from ..gaussian import GaussianProblem, random_gaussian_problem
from ..icnn import DenseICNN
from ..metrics import l2_uvp
from ..w2gn import W2GN, W2GNConfig
from .common import pretrained_net
from .gaussians import PAPER_DIMS, PAPER_TABLE, gaussian_hidden_sizes

__all__ = ["GaussiansBaselinesConfig", "METHODS", "PAPER_L2_UVP", "W2GNMap", "gaussian_icnn", "pretrained_icnn",
           "problem_samplers", "evaluate_l2_uvp", "run_method", "run_comparison", "comparison_table"]

METHODS = ("LSOT", "MM-1", "MM-2", "W2GN")

#: the paper's Gaussian table (L2-UVP %, strings as printed there: "<1", ">50") with its dimensions
PAPER_L2_UVP = {"dims": list(PAPER_DIMS), **PAPER_TABLE}


@dataclass
class GaussiansBaselinesConfig(ExperimentConfig):
    """LSOT, MM-1, MM-2 and W2GN on the paper's random Gaussian problems (same budget each).

    Shared: ``batch_size``, ``iterations`` (outer steps of every method; LSOT makes that many
    dual steps and then that many map steps), ``lr`` (Adam of the ICNN methods). ICNN methods use
    DenseICNN(D, [max(128,D), max(128,D), max(64,D)], rank 1, dropout 0, sc 5e-2), N(0,1)·
    ``init_scale`` init and one identity pretraining per D (``pretrain``) shared by all three.
    W2GN: λ = min(D, 50), cycle ``both_sum``. ``n_eval`` fresh samples of P for L2-UVP.
    """

    dims: tuple = (2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
    problem_seed: int = 0
    methods: tuple = ("LSOT", "MM-1", "MM-2", "W2GN")
    batch_size: int = 256
    iterations: int = 5000
    lr: float = 3e-4
    init_scale: float = 1 / 20
    pretrain: PretrainSpec = field(default_factory=lambda: PretrainSpec(
        iterations=1000, lr=1e-3, blow=3.0, tol=1e-2, batch_size=256))
    lsot_regularization: str = "l2"
    lsot_epsilon: float = 0.01
    lsot_lr: float = 1e-3
    mm1_inner_solver: str = "lbfgs"
    mm1_inner_iterations: int = 20
    mm1_inner_tol: float = 1e-3
    mm1_pool_batches: int = 8
    mm2_inner_iterations: int = 10
    mm2_neg_penalty: float = 1.0
    n_eval: int = 2 ** 14
    log_every: int = 50
    progress: bool | None = None

    @classmethod
    def cpu(cls):
        # D = 2 … 64 and 500 steps instead of 5000 per method (whole notebook ≲ 15 min on 2 cores)
        return cls().replace(profile="cpu", dims=(2, 4, 8, 16, 32, 64), iterations=500, pretrain__iterations=500,
                             mm2_inner_iterations=5, n_eval=8192)

    @classmethod
    def smoke(cls):
        return cls().replace(profile="smoke", dims=(2, 4), iterations=15, pretrain__iterations=30,
                             mm1_inner_iterations=5, mm2_inner_iterations=2, n_eval=1024, log_every=10,
                             progress=False)


class W2GNMap(FittedMap):
    """W2GN (``src.w2gn``) wrapped in the baselines' interface: ``push(x) = ∇ψ_θ(x)``."""

    def __init__(self, trainer: W2GN):
        super().__init__()
        self.trainer, self.D, self.D_conj = trainer, trainer.D, trainer.D_conj
        self.dim = int(self.D.sample_shape[0])

    def fit(self, X_sampler, Y_sampler, callback=None) -> "W2GNMap":
        start = time.perf_counter()
        self.history = self.trainer.fit(X_sampler, Y_sampler, callback=callback).history
        self.iteration = self.trainer.iteration
        self.train_time_s += time.perf_counter() - start
        return self

    def push(self, x: torch.Tensor) -> torch.Tensor:
        return self.D.push(x)


def gaussian_icnn(dim: int, device=None) -> DenseICNN:
    """The paper's Gaussians ICNN: DenseICNN(D, [max(128,D), max(128,D), max(64,D)], rank 1,
    dropout 0, strong convexity 5e-2)."""
    return DenseICNN(dim, gaussian_hidden_sizes(dim), rank=1, dropout=0.0, strong_convexity=5e-2).to(device)


def pretrained_icnn(dim: int, cfg, device=None) -> tuple[DenseICNN, float]:
    """A :func:`gaussian_icnn` initialised N(0,1)·``cfg.init_scale`` (seeded by ``cfg.seed``) and
    pretrained to the identity; returns it and the pretraining wall time (s)."""
    start = time.perf_counter()
    net, _ = pretrained_net(lambda: gaussian_icnn(dim, device), cfg.init_scale, cfg.seed,
                            StandardNormalSampler(dim, device=device, seed=cfg.seed + 1),
                            cfg.pretrain, device, cfg.checkpoint(f"d{dim}_pretrain"), cfg.progress)
    return net, time.perf_counter() - start

def problem_samplers(problem: GaussianProblem, seed: int, device=None) -> tuple[NormalSampler, NormalSampler]:
    """Samplers of P and Q of ``problem`` (seeds ``seed`` and ``seed + 1``; the problem itself
    has its own seed)."""
    return (NormalSampler(problem.mean_x, problem.cov_x, device=device, seed=seed),
            NormalSampler(problem.mean_y, problem.cov_y, device=device, seed=seed + 1))


def evaluate_l2_uvp(model, problem: GaussianProblem, n: int = 16384, seed: int = 12345, device=None) -> float:
    """L2-UVP % of ``model.push`` against the optimal linear map, on ``n`` fresh samples of P."""
    X = NormalSampler(problem.mean_x, problem.cov_x, device=device, seed=seed).sample(n)
    A = torch.as_tensor(problem.A, dtype=X.dtype, device=X.device)
    b = torch.as_tensor(problem.b, dtype=X.dtype, device=X.device)
    for net in (getattr(model, "D", None), getattr(model, "f", None)):
        if isinstance(net, torch.nn.Module):
            net.eval()
    mapped = model.push_nograd(X)
    return l2_uvp(mapped, X @ A.T + b, problem.var_y)


def run_method(method: str, problem: GaussianProblem, cfg, device=None,
               pretrained: tuple[DenseICNN, float] | None = None) -> dict:
    """Fit one method on ``problem`` with the settings of ``cfg`` (a ``GaussiansBaselinesConfig``).

    Args:
        method: one of :data:`METHODS`.
        pretrained: ``(net, seconds)`` from :func:`pretrained_icnn` to share one identity
            pretraining between the ICNN methods (copied, never modified); built when ``None``.

    Returns:
        dict with ``l2_uvp`` (%), ``train_time_s``, ``pretrain_time_s`` (0 for LSOT),
        ``wall_time_s`` (their sum), ``model`` (the fitted map, ``.push``) and ``history``.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    D = problem.dim
    X_sampler, Y_sampler = problem_samplers(problem, cfg.seed + 100, device)
    common = dict(batch_size=cfg.batch_size, iterations=cfg.iterations, log_every=cfg.log_every,
                  seed=cfg.seed, progress=cfg.progress)
    pre_time = 0.0
    start = time.perf_counter()
    if method == "LSOT":
        model = LSOT(D, LSOTConfig(regularization=cfg.lsot_regularization, epsilon=cfg.lsot_epsilon,
                                   lr=cfg.lsot_lr, map_lr=cfg.lsot_lr, **common), device=device)
    else:
        if pretrained is None:
            pretrained = pretrained_icnn(D, cfg, device)
        base, pre_time = pretrained
        start = time.perf_counter()
        f, g = copy.deepcopy(base), copy.deepcopy(base)
        if method == "MM-1":
            model = MM1(f, MM1Config(lr=cfg.lr, inner_solver=cfg.mm1_inner_solver,
                                     inner_iterations=cfg.mm1_inner_iterations, inner_tol=cfg.mm1_inner_tol,
                                     pool_batches=cfg.mm1_pool_batches, **common))
        elif method == "MM-2":
            model = MM2(f, g, MM2Config(lr=cfg.lr, inner_iterations=cfg.mm2_inner_iterations,
                                        neg_penalty=cfg.mm2_neg_penalty, **common))
        else:
            model = W2GNMap(W2GN(f, g, W2GNConfig(lr=cfg.lr, lambda_cycle=float(min(D, 50)),
                                                         cycle="both_sum", **common,
                                                         checkpoint_path=cfg.checkpoint(f"d{D}_w2gn"))))
    model.fit(X_sampler, Y_sampler)
    train_time = time.perf_counter() - start
    uvp = evaluate_l2_uvp(model, problem, cfg.n_eval, seed=cfg.seed + 12345, device=device)
    return {"l2_uvp": uvp, "train_time_s": train_time, "pretrain_time_s": pre_time,
            "wall_time_s": train_time + pre_time, "model": model, "history": model.history}


def run_comparison(cfg, device=None, methods=None, dims=None, verbose: bool = True) -> dict:
    """Run every method of ``cfg.methods`` on ``random_gaussian_problem(D, cfg.problem_seed)`` for
    every D of ``cfg.dims``; the ICNN methods share one identity pretraining per D.

    Returns:
        ``{"l2_uvp": {method: {"D": %}}, "wall_time_s": {...}, "train_time_s": {...},
        "pretrain_time_s": {"D": s}, "models": {method: {"D": fitted map}}}``.
    """
    methods = tuple(methods or cfg.methods)
    out = {"l2_uvp": {m: {} for m in methods}, "wall_time_s": {m: {} for m in methods},
           "train_time_s": {m: {} for m in methods}, "pretrain_time_s": {}, "models": {m: {} for m in methods}}
    for D in (dims or cfg.dims):
        problem = random_gaussian_problem(D, cfg.problem_seed)
        pretrained = None
        if any(m != "LSOT" for m in methods):
            pretrained = pretrained_icnn(D, cfg, device)
            out["pretrain_time_s"][str(D)] = round(pretrained[1], 2)
        for m in methods:
            r = run_method(m, problem, cfg, device, pretrained=pretrained)
            out["l2_uvp"][m][str(D)] = round(r["l2_uvp"], 3)
            out["wall_time_s"][m][str(D)] = round(r["wall_time_s"], 2)
            out["train_time_s"][m][str(D)] = round(r["train_time_s"], 2)
            out["models"][m][str(D)] = r["model"]
            if verbose:
                print(f"D={D:5d}  {m:5s}  L2-UVP {r['l2_uvp']:7.2f} %   time {r['wall_time_s']:7.1f} s", flush=True)
    return out


def comparison_table(uvp: dict, dims=None, paper: dict | None = PAPER_L2_UVP) -> str:
    """Plain-text table: for each method a row of our L2-UVP % and, below it, the paper's row."""
    methods = list(uvp)
    dims = [int(d) for d in (dims or sorted({int(d) for m in methods for d in uvp[m]}))]
    head = f"{'method':14s}" + "".join(f"{d:>8d}" for d in dims)
    lines = [head, "-" * len(head)]
    for m in methods:
        lines.append(f"{m + ' (ours)':14s}" + "".join(
            f"{uvp[m][str(d)]:8.2f}" if str(d) in uvp[m] else f"{'–':>8s}" for d in dims))
        if paper is not None and m in paper:
            col = {d: v for d, v in zip(paper["dims"], paper[m])}
            lines.append(f"{m + ' (paper)':14s}" + "".join(f"{col.get(d, '–'):>8s}" for d in dims))
    return "\n".join(lines)
