"""LSOT — Seguy et al. 2018, *Large-scale optimal transport and mapping estimation*.

Two stages, both stochastic over minibatches of P and Q:

1. **Regularised dual.** Two unconstrained neural potentials u (on P) and v (on Q) maximise

       E_{x~P} u(x) + E_{y~Q} v(y) − E_{x~P, y~Q} F_ε(u(x) + v(y) − c(x, y)),   c = ‖x − y‖²,

   with F_ε(t) = ε·exp(t/ε) (entropic) or F_ε(t) = (t₊)²/(4ε) (L2). All N×N pairs of a
   batch enter the last term. The regularised plan has density H = F_ε'(u + v − c) w.r.t. P⊗Q:
   exp((u+v−c)/ε) (entropic) or (u+v−c)₊/(2ε) (L2).
2. **Barycentric projection.** A map network f minimises E_{P⊗Q} H(x, y)·‖f(x) − y‖², i.e. f(x)
   fits the plan's conditional mean of y given x. ``push(x) = f(x)``.

The regularisation blurs the plan (its barycentric projection shrinks towards the mean), which is
why LSOT's L2-UVP grows with the dimension in the paper's table.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn

from .common import FittedMap, check_finite, sample_checked, seed_once

__all__ = ["LSOTConfig", "LSOT", "MLP", "fit_lsot"]

REGULARIZATIONS = ("l2", "entropy")


@dataclass
class LSOTConfig:
    """Settings of an LSOT run.

    Attributes:
        regularization: ``"l2"`` or ``"entropy"``.
        epsilon: ε, strength of the regulariser (same units as the cost ‖x − y‖²).
        batch_size: samples of P and of Q per step (N×N pairs in the dual).
        iterations: steps of the dual (stage 1).
        map_iterations: steps of the barycentric projection (stage 2); ``None``: ``iterations``.
        lr, betas: Adam for the potentials (stage 1).
        map_lr, map_betas: Adam for the map network (stage 2).
        hidden_layer_sizes: widths of the three ReLU MLPs (``None``: [max(128,D), max(128,D), max(64,D)]).
        normalize_plan: divide the plan weights H of a batch by their mean in stage 2 (a scale
            change of the loss only: keeps its gradient scale independent of ε; on by default).
        log_every: history interval (steps).
        seed: seeds the weight initialisation (``torch.manual_seed``); samplers keep their own.
        progress: show tqdm progress bars.
    """

    regularization: str = "l2"
    epsilon: float = 1.0
    batch_size: int = 256
    iterations: int = 5000
    map_iterations: int | None = None
    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    map_lr: float = 1e-3
    map_betas: tuple[float, float] = (0.9, 0.999)
    hidden_layer_sizes: Sequence[int] | None = None
    normalize_plan: bool = True
    log_every: int = 50
    seed: int | None = 0
    progress: bool | None = None

    def __post_init__(self):
        if self.regularization not in REGULARIZATIONS:
            raise ValueError(f"regularization must be one of {REGULARIZATIONS}, got {self.regularization!r}")
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise ValueError(f"epsilon must be a finite number > 0, got {self.epsilon}")
        for name in ("batch_size", "iterations", "log_every"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < (0 if name == "iterations" else 1):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if not (self.lr > 0 and self.map_lr > 0):
            raise ValueError(f"lr and map_lr must be > 0, got {self.lr}, {self.map_lr}")
        self.betas, self.map_betas = tuple(self.betas), tuple(self.map_betas)

    def to_dict(self) -> dict:
        return asdict(self)


class MLP(nn.Sequential):
    """ReLU multilayer perceptron ``in_dim → hidden… → out_dim`` (LSOT's potentials and map)."""

    def __init__(self, in_dim: int, hidden_layer_sizes: Sequence[int], out_dim: int):
        sizes = [in_dim, *[int(h) for h in hidden_layer_sizes]]
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], out_dim))
        super().__init__(*layers)


def _pairwise_sq_dist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """‖x_i − y_j‖², ``[N, M]`` (exact differences; fine for the batch sizes used here)."""
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


class LSOT(FittedMap):
    """Seguy et al.'s large-scale OT: regularised dual with potentials ``u``, ``v``, then a map
    network ``f`` fitted by barycentric projection. ``push(x) = f(x)``.

    Args:
        dim: dimension D of P and Q.
        config: :class:`LSOTConfig`.
        device, dtype: where the three networks live.

    Use ``LSOT(D, cfg).fit(X_sampler, Y_sampler)`` (returns the solver) or :func:`fit_lsot`.
    """

    def __init__(self, dim: int, config: LSOTConfig, device=None, dtype=torch.float32):
        super().__init__()
        if dim < 1:
            raise ValueError(f"dim must be ≥ 1, got {dim}")
        self.dim, self.config = int(dim), config
        seed_once(self, config.seed)
        hidden = config.hidden_layer_sizes or [max(128, dim), max(128, dim), max(64, dim)]
        self.u = MLP(dim, hidden, 1).to(device=device, dtype=dtype)
        self.v = MLP(dim, hidden, 1).to(device=device, dtype=dtype)
        self.f = MLP(dim, hidden, dim).to(device=device, dtype=dtype)
        self.opt_dual = torch.optim.Adam([*self.u.parameters(), *self.v.parameters()], lr=config.lr, betas=config.betas)
        self.opt_map = torch.optim.Adam(self.f.parameters(), lr=config.map_lr, betas=config.map_betas)

    # -------------------------------------------------------------- the objective
    def _slack(self, X: torch.Tensor, Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        u, v = self.u(X)[:, 0], self.v(Y)[:, 0]
        return u, v, u[:, None] + v[None, :] - _pairwise_sq_dist(X, Y)

    def dual_objective(self, X: torch.Tensor, Y: torch.Tensor) -> dict[str, torch.Tensor]:
        """The regularised dual on a batch (to be *maximised*); ``loss`` is its negative."""
        u, v, t = self._slack(X, Y)
        eps = self.config.epsilon
        if self.config.regularization == "entropy":
            reg = eps * torch.exp(t / eps).mean()
        else:
            reg = (torch.relu(t) ** 2).mean() / (4 * eps)
        dual = u.mean() + v.mean() - reg
        return {"loss": -dual, "dual": dual.detach(), "reg": reg.detach()}

    def plan_density(self, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """H(x_i, y_j) ``[N, M]``, the density of the regularised plan w.r.t. P⊗Q (no graph)."""
        with torch.no_grad():
            t = self._slack(X, Y)[2]
            eps = self.config.epsilon
            if self.config.regularization == "entropy":
                return torch.exp(t / eps)
            return torch.relu(t) / (2 * eps)

    def map_loss(self, X: torch.Tensor, Y: torch.Tensor) -> dict[str, torch.Tensor]:
        """Barycentric projection loss E H(x, y)‖f(x) − y‖² on a batch (all N×M pairs)."""
        H = self.plan_density(X, Y)
        mass = H.mean()
        if self.config.normalize_plan:
            H = H / mass.clamp_min(torch.finfo(H.dtype).tiny)
        loss = (H * _pairwise_sq_dist(self.f(X), Y)).mean()
        return {"loss": loss, "plan_mass": mass}

    # -------------------------------------------------------------- training
    def fit(self, X_sampler, Y_sampler, callback: Callable[[int, "LSOT", dict], Any] | None = None) -> "LSOT":
        """Stage 1 (dual, ``iterations`` steps) then stage 2 (map, ``map_iterations`` steps).

        ``callback(iteration, solver, logs)`` at every logged step; return ``False`` to end the
        current stage early. Returns ``self``.
        """
        c = self.config
        n = c.batch_size

        def dual_step() -> dict:
            X = sample_checked(X_sampler, n, self.dim, "input (P)")
            Y = sample_checked(Y_sampler, n, self.dim, "output (Q)")
            out = self.dual_objective(X, Y)
            check_finite(out["loss"], "LSOT dual", self.iteration)
            self.opt_dual.zero_grad(set_to_none=True)
            out["loss"].backward()
            self.opt_dual.step()
            return {k: v.item() for k, v in out.items()}

        def map_step() -> dict:
            X = sample_checked(X_sampler, n, self.dim, "input (P)")
            Y = sample_checked(Y_sampler, n, self.dim, "output (Q)")
            out = self.map_loss(X, Y)
            check_finite(out["loss"], "LSOT map", self.iteration)
            self.opt_map.zero_grad(set_to_none=True)
            out["loss"].backward()
            self.opt_map.step()
            return {k: v.item() for k, v in out.items()}

        self._loop(c.iterations, "LSOT dual", c.progress, dual_step, c.log_every, callback, phase="dual")
        n_map = c.iterations if c.map_iterations is None else int(c.map_iterations)
        self._loop(n_map, "LSOT map", c.progress, map_step, c.log_every, callback, phase="map")
        return self

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """The fitted map f(x), ``[N, D]``."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"LSOT.push expects inputs of shape [N, {self.dim}], got {list(x.shape)}")
        return self.f(x)

    def state_dict(self) -> dict:
        return {"u": self.u.state_dict(), "v": self.v.state_dict(), "f": self.f.state_dict(),
                "config": self.config.to_dict(), "dim": self.dim, "iteration": self.iteration}


def fit_lsot(X_sampler, Y_sampler, dim: int, config: LSOTConfig, device=None, callback=None) -> LSOT:
    """Build an :class:`LSOT` solver on ``device`` and fit it; returns the solver (``.push``)."""
    return LSOT(dim, config, device=device).fit(X_sampler, Y_sampler, callback=callback)
