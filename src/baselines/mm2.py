"""MM-2 — Makkuva, Taghvaei, Oh, Lee 2020, *Optimal transport mapping via input convex neural
networks*.

Two ICNNs f (reference name ``D``, forward map ∇f: P → Q) and g (``D_conj``, ∇g: Q → P) play
the minimax game over W2GN's correlation, without a cycle regulariser:

    min_f max_g  V(f, g) = E_{x~P} f(x) + E_{y~Q} [<∇g(y), y> − f(∇g(y))].

For a fixed f, maximising over g tightens <∇g(y), y> − f(∇g(y)) towards the conjugate f̄(y).
Each outer step makes ``inner_iterations`` Adam steps on g (each on a fresh Q batch) that
maximise V − penalty·Σ‖min(W_g, 0)‖² (g's non-negativity by a penalty, never clamped), then one
Adam step on f (gradient through f only, ∇g(y) held fixed) followed by ``f.convexify()``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch

from .common import FittedMap, check_finite, negative_weight_penalty, sample_checked, seed_once

__all__ = ["MM2Config", "MM2", "fit_mm2"]


@dataclass
class MM2Config:
    """Settings of an MM-2 run.

    Attributes:
        batch_size: samples of P and of Q per step.
        lr, betas: Adam for f (``D``).
        conj_lr, conj_betas: Adam for g (``D_conj``); ``conj_lr=None``: ``lr``.
        iterations: outer (f) steps.
        inner_iterations: g steps per f step.
        neg_penalty: coefficient of Σ‖min(W, 0)‖² on g's weights that should be ≥ 0.
        log_every, seed, progress: history interval, ``torch.manual_seed`` at the first step, tqdm.
    """

    batch_size: int = 256
    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.99)
    conj_lr: float | None = None
    conj_betas: tuple[float, float] = (0.5, 0.99)
    iterations: int = 5000
    inner_iterations: int = 10
    neg_penalty: float = 1.0
    log_every: int = 50
    seed: int | None = 0
    progress: bool | None = None

    def __post_init__(self):
        for name in ("batch_size", "log_every", "inner_iterations"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.iterations < 0:
            raise ValueError(f"iterations must be ≥ 0, got {self.iterations}")
        if not self.lr > 0 or (self.conj_lr is not None and not self.conj_lr > 0):
            raise ValueError(f"lr and conj_lr must be > 0, got {self.lr}, {self.conj_lr}")
        if self.neg_penalty < 0:
            raise ValueError(f"neg_penalty must be ≥ 0, got {self.neg_penalty}")
        self.betas, self.conj_betas = tuple(self.betas), tuple(self.conj_betas)

    def to_dict(self) -> dict:
        return asdict(self)


class MM2(FittedMap):
    """Makkuva et al.'s minimax solver. ``push(x) = ∇f(x)``; ``inverse(y) = ∇g(y)``.

    Args:
        D: f, the forward potential (ICNN, clamped by ``convexify``).
        D_conj: g, the conjugate potential (ICNN, negative weights penalised, not clamped).
        config: :class:`MM2Config`.
    """

    def __init__(self, D, D_conj, config: MM2Config):
        super().__init__()
        self.D, self.D_conj, self.config = D, D_conj, config
        self.dim = int(D.sample_shape[0]) if len(getattr(D, "sample_shape", ())) == 1 else None
        self.opt_f = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], lr=config.lr, betas=config.betas)
        self.opt_g = torch.optim.Adam([p for p in D_conj.parameters() if p.requires_grad],
                                      lr=config.conj_lr or config.lr, betas=config.conj_betas)

    def g_step(self, Y: torch.Tensor) -> dict:
        """One ascent step of g on ``Y ~ Q`` (minimises −<∇g(y), y> + f(∇g(y)) + penalty)."""
        Y_inv = self.D_conj.push(Y)
        value = ((Y_inv * Y).sum(1) - self.D(Y_inv)[:, 0]).mean()
        penalty = negative_weight_penalty(self.D_conj)
        loss = -value + self.config.neg_penalty * penalty
        check_finite(loss, "MM-2 (g step)", self.iteration)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return {"g_objective": value.item(), "neg_penalty": penalty.item()}

    def f_step(self, X: torch.Tensor, Y: torch.Tensor) -> dict:
        """One descent step of f: mean f(X) − mean f(∇g(Y)) with ∇g(Y) fixed; then convexify."""
        with torch.no_grad():
            Y_inv = self.D_conj.push(Y)
        f_x, f_inv = self.D(X), self.D(Y_inv)
        loss = f_x.mean() - f_inv.mean()
        check_finite(loss, "MM-2 (f step)", self.iteration)
        self.opt_f.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_f.step()
        self.D.convexify()
        with torch.no_grad():
            corr = f_x.mean() + (Y_inv * Y).sum(1).mean() - f_inv.mean()
            w2 = 0.5 * ((X * X).sum(1).mean() + (Y * Y).sum(1).mean()) - corr
        return {"loss": loss.item(), "w2": w2.item()}

    def fit(self, X_sampler, Y_sampler, iterations: int | None = None,
            callback: Callable[[int, "MM2", dict], Any] | None = None) -> "MM2":
        """Train for ``iterations`` (default ``config.iterations``) outer steps; returns ``self``.
        ``callback(iteration, solver, logs)`` at logged steps; ``False`` stops."""
        c = self.config
        seed_once(self, c.seed)

        def one() -> dict:
            self.D.train()
            self.D_conj.train()
            f_params = [p for p in self.D.parameters() if p.requires_grad]
            for p in f_params:  # g steps need ∇_x f only, not f's weight gradients
                p.requires_grad_(False)
            try:
                for _ in range(c.inner_iterations):
                    g_logs = self.g_step(sample_checked(Y_sampler, c.batch_size, self.dim, "output (Q)"))
            finally:
                for p in f_params:
                    p.requires_grad_(True)
            X = sample_checked(X_sampler, c.batch_size, self.dim, "input (P)")
            Y = sample_checked(Y_sampler, c.batch_size, self.dim, "output (Q)")
            return {**self.f_step(X, Y), **g_logs}

        n_iter = c.iterations if iterations is None else int(iterations)
        self._loop(n_iter, "MM-2", c.progress, one, c.log_every, callback)
        return self

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """∇f(x), the fitted forward map."""
        return self.D.push(x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """∇g(y), the fitted inverse map."""
        return self.D_conj.push(y)


def fit_mm2(D, D_conj, X_sampler, Y_sampler, config: MM2Config, callback=None) -> MM2:
    """Fit MM-2 with potentials ``D`` (f) and ``D_conj`` (g), trained in place; returns the solver."""
    return MM2(D, D_conj, config).fit(X_sampler, Y_sampler, callback=callback)
