"""MM-1 — Taghvaei & Jalali 2019, *2-Wasserstein approximation via restricted convex potentials*
(arXiv 1902.07197).

One ICNN potential ψ (reference name ``D``) minimises the semi-dual

    J(ψ) = E_{x~P} ψ(x) + E_{y~Q} ψ̄(y),   ψ̄(y) = max_x <x, y> − ψ(x),

and the forward map is ∇ψ. The conjugate is evaluated numerically: for every y of the batch the
inner problem is solved (x*(y) = argmax, i.e. ∇ψ(x*) = y) by a batched solver — per-sample
L-BFGS with backtracking (default) or per-sample Adam. By the envelope theorem
∇_θ ψ̄(y) = −∇_θ ψ(x*(y)), so the step minimises ``mean ψ(X) − mean ψ(x*.detach())`` and then
clamps ψ's weights (``convexify``).

Warm start: the Q samples live in a pool of ``pool_batches`` batches that keeps each sample's
last solution x*; every step ``fresh_fraction`` of a batch is replaced by new samples (started
at x = y) and a batch is drawn from the pool, so most inner solves start from the previous
step's solution.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable

import torch

from .common import FittedMap, check_finite, sample_checked, seed_once

__all__ = ["MM1Config", "MM1", "solve_conjugate", "fit_mm1"]

INNER_SOLVERS = ("lbfgs", "adam")


@dataclass
class MM1Config:
    """Settings of an MM-1 run.

    Attributes:
        batch_size: samples of P and of Q per step.
        lr, betas, weight_decay: Adam for ψ.
        iterations: outer steps.
        inner_solver: ``"lbfgs"`` (batched per-sample L-BFGS, backtracking line search) or
            ``"adam"`` (per-sample Adam on x, since Adam acts coordinate-wise).
        inner_iterations: maximal inner iterations per outer step.
        inner_tol: stop the inner solve once every sample's ‖∇ψ(x) − y‖ is below this.
        inner_lr: step size of the inner Adam (unused by L-BFGS).
        history_size: L-BFGS memory.
        pool_batches: size of the warm-start pool of Q samples, in batches (0: no pool, fresh
            samples started at x = y every step).
        fresh_fraction: fraction of a batch of new Q samples put into the pool each step.
        log_every, seed, progress: history interval, ``torch.manual_seed`` at the first step, tqdm.
    """

    batch_size: int = 256
    lr: float = 3e-4
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 0.0
    iterations: int = 5000
    inner_solver: str = "lbfgs"
    inner_iterations: int = 20
    inner_tol: float = 1e-3
    inner_lr: float = 1e-2
    history_size: int = 8
    pool_batches: int = 8
    fresh_fraction: float = 0.5
    log_every: int = 50
    seed: int | None = 0
    progress: bool | None = None

    def __post_init__(self):
        if self.inner_solver not in INNER_SOLVERS:
            raise ValueError(f"inner_solver must be one of {INNER_SOLVERS}, got {self.inner_solver!r}")
        for name in ("batch_size", "log_every", "history_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.iterations < 0 or self.inner_iterations < 1 or self.pool_batches < 0:
            raise ValueError("iterations ≥ 0, inner_iterations ≥ 1 and pool_batches ≥ 0 are required")
        if not 0 < self.fresh_fraction <= 1:
            raise ValueError(f"fresh_fraction must be in (0, 1], got {self.fresh_fraction}")
        if not (self.lr > 0 and self.inner_lr > 0 and self.inner_tol >= 0):
            raise ValueError("lr, inner_lr must be > 0 and inner_tol ≥ 0")
        self.betas = tuple(self.betas)

    def to_dict(self) -> dict:
        return asdict(self)


def _objective(psi, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample h(x) = ψ(x) − <x, y> ``[N]`` and its gradient ∇ψ(x) − y ``[N, D]`` (no graph)."""
    value, grad = psi.value_and_push(x)
    return value[:, 0] - (x * y).sum(1), grad - y


@torch.no_grad()
def solve_conjugate(psi, y: torch.Tensor, x0: torch.Tensor | None = None, solver: str = "lbfgs",
                    iterations: int = 20, tol: float = 1e-3, lr: float = 1e-2,
                    history_size: int = 8) -> tuple[torch.Tensor, dict]:
    """x*(y) = argmax_x <x, y> − ψ(x) for every row of ``y`` (independent problems, batched).

    Args:
        psi: a convex potential with ``value_and_push`` (e.g. :class:`~src.icnn.DenseICNN`).
        y: ``[N, D]``; x0: ``[N, D]`` starting points (default ``y``).
        solver: ``"lbfgs"`` — per-sample L-BFGS (two-loop recursion with per-sample memories,
            per-sample backtracking Armijo line search from step 1); ``"adam"`` — Adam on x.
        iterations: maximal iterations; tol: stop when max_i ‖∇ψ(x_i) − y_i‖ < tol.

    Returns:
        ``x*`` ``[N, D]`` and info ``{"iterations", "grad_norm" (max), "grad_norm_mean"}``.
    """
    if solver not in INNER_SOLVERS:
        raise ValueError(f"solver must be one of {INNER_SOLVERS}, got {solver!r}")
    x = (y if x0 is None else x0).clone()
    h, g = _objective(psi, x, y)
    it = 0
    if solver == "adam":
        m, v = torch.zeros_like(x), torch.zeros_like(x)
        b1, b2 = 0.9, 0.999
        for it in range(1, iterations + 1):
            if g.norm(dim=1).max() < tol:
                it -= 1
                break
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            x -= lr * (m / (1 - b1 ** it)) / ((v / (1 - b2 ** it)).sqrt() + 1e-8)
            h, g = _objective(psi, x, y)
    else:
        S: list[torch.Tensor] = []
        Yd: list[torch.Tensor] = []
        rho: list[torch.Tensor] = []
        for it in range(1, iterations + 1):
            gn = g.norm(dim=1)
            active = gn >= tol  # converged samples take no step
            if not active.any():
                it -= 1
                break
            # two-loop recursion, every sample with its own memory
            q = g.clone()
            alphas = []
            for s_k, y_k, r_k in zip(reversed(S), reversed(Yd), reversed(rho)):
                a = r_k * (s_k * q).sum(1)
                q -= a[:, None] * y_k
                alphas.append(a)
            if S:
                sy, yy = (S[-1] * Yd[-1]).sum(1), (Yd[-1] * Yd[-1]).sum(1)
                gamma = torch.where(sy > 0, sy / yy.clamp_min(1e-30), torch.ones_like(sy))
                q *= gamma[:, None]
            for s_k, y_k, r_k, a in zip(S, Yd, rho, reversed(alphas)):
                b = r_k * (y_k * q).sum(1)
                q += (a - b)[:, None] * s_k
            d = -q
            slope = (g * d).sum(1)
            bad = slope >= 0  # not a descent direction: fall back to the gradient
            if bad.any():
                d[bad] = -g[bad]
                slope = (g * d).sum(1)
            d[~active] = 0.0
            slope = torch.where(active, slope, torch.zeros_like(slope))
            # per-sample backtracking (Armijo) from step 1, with a rounding allowance
            noise = 8 * torch.finfo(h.dtype).eps * (1 + h.abs())
            t = torch.ones_like(h)
            for _ in range(12):
                h_new, g_new = _objective(psi, x + t[:, None] * d, y)
                fail = active & (h_new > h + 1e-4 * t * slope + noise)
                if not fail.any():
                    break
                t = torch.where(fail, t * 0.5, t)
            else:  # some samples found no decrease: they stay where they are
                t = torch.where(fail, torch.zeros_like(t), t)
                h_new, g_new = _objective(psi, x + t[:, None] * d, y)
            step = t[:, None] * d
            x_new = x + step
            s_k, y_k = step, g_new - g
            sy = (s_k * y_k).sum(1)
            r_k = torch.where(sy > 1e-12, 1.0 / sy.clamp_min(1e-12), torch.zeros_like(sy))
            S.append(s_k); Yd.append(y_k); rho.append(r_k)
            if len(S) > history_size:
                S.pop(0); Yd.pop(0); rho.pop(0)
            x, h, g = x_new, h_new, g_new
    gn = g.norm(dim=1)
    return x, {"iterations": it, "grad_norm": gn.max().item(), "grad_norm_mean": gn.mean().item()}


class MM1(FittedMap):
    """Taghvaei & Jalali's solver: one ICNN ψ (``D``), conjugate by an inner optimisation.
    ``push(x) = ∇ψ(x)``.

    Args:
        D: the ICNN ψ (e.g. a :class:`~src.icnn.DenseICNN`, identity-pretrained).
        config: :class:`MM1Config`.
    """

    def __init__(self, D, config: MM1Config):
        super().__init__()
        self.D, self.config = D, config
        self.dim = int(D.sample_shape[0]) if len(getattr(D, "sample_shape", ())) == 1 else None
        self.opt = torch.optim.Adam([p for p in D.parameters() if p.requires_grad], lr=config.lr,
                                    betas=config.betas, weight_decay=config.weight_decay)
        self._pool_y: torch.Tensor | None = None
        self._pool_x: torch.Tensor | None = None

    def _batch_y(self, Y_sampler) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """A batch of Q samples with warm starts (and its pool indices)."""
        c = self.config
        n = c.batch_size
        if c.pool_batches == 0:
            Y = sample_checked(Y_sampler, n, self.dim, "output (Q)")
            return Y, Y.clone(), None
        size = c.pool_batches * n
        if self._pool_y is None:
            self._pool_y = sample_checked(Y_sampler, size, self.dim, "output (Q)")
            self._pool_x = self._pool_y.clone()
        else:
            n_new = max(1, int(round(c.fresh_fraction * n)))
            idx = torch.randperm(size, device=self._pool_y.device)[:n_new]
            fresh = sample_checked(Y_sampler, n_new, self.dim, "output (Q)")
            self._pool_y[idx] = fresh
            self._pool_x[idx] = fresh
        idx = torch.randperm(size, device=self._pool_y.device)[:n]
        return self._pool_y[idx], self._pool_x[idx], idx

    def step(self, X: torch.Tensor, Y: torch.Tensor, x0: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """One outer step on ``X ~ P``, ``Y ~ Q`` with inner starting points ``x0``.
        Returns the logs and the inner solutions x*(Y)."""
        c = self.config
        self.D.train()
        x_star, info = solve_conjugate(self.D, Y, x0, c.inner_solver, c.inner_iterations, c.inner_tol,
                                       c.inner_lr, c.history_size)
        psi_x = self.D(X)
        psi_star = self.D(x_star)  # x* is a constant: envelope theorem
        loss = psi_x.mean() - psi_star.mean()
        check_finite(loss, "MM-1", self.iteration)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.D.convexify()
        with torch.no_grad():
            conj = ((x_star * Y).sum(1) - psi_star[:, 0].detach()).mean()
            w2 = 0.5 * ((X * X).sum(1).mean() + (Y * Y).sum(1).mean()) - psi_x.detach().mean() - conj
        logs = {"loss": loss.item(), "w2": w2.item(), "inner_iterations": float(info["iterations"]),
                "inner_grad": info["grad_norm"], "inner_grad_mean": info["grad_norm_mean"]}
        return logs, x_star

    def fit(self, X_sampler, Y_sampler, iterations: int | None = None,
            callback: Callable[[int, "MM1", dict], Any] | None = None) -> "MM1":
        """Train for ``iterations`` (default ``config.iterations``) outer steps; returns ``self``.
        ``callback(iteration, solver, logs)`` at logged steps; ``False`` stops."""
        c = self.config
        seed_once(self, c.seed)

        def one() -> dict:
            X = sample_checked(X_sampler, c.batch_size, self.dim, "input (P)")
            Y, x0, idx = self._batch_y(Y_sampler)
            logs, x_star = self.step(X, Y, x0)
            if idx is not None:
                self._pool_x[idx] = x_star
            return logs

        n_iter = c.iterations if iterations is None else int(iterations)
        self._loop(n_iter, "MM-1", c.progress, one, c.log_every, callback)
        return self

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """∇ψ(x), the fitted forward map."""
        return self.D.push(x)

    def inverse(self, y: torch.Tensor, iterations: int = 100, tol: float = 1e-5) -> torch.Tensor:
        """The inverse map ∇ψ̄(y) = x*(y), by solving the inner problem to ``tol``."""
        self.D.eval()
        return solve_conjugate(self.D, y, None, self.config.inner_solver, iterations, tol,
                               self.config.inner_lr, self.config.history_size)[0]


def fit_mm1(D, X_sampler, Y_sampler, config: MM1Config, callback=None) -> MM1:
    """Fit MM-1 with potential ``D`` (trained in place); returns the solver (``.push``)."""
    return MM1(D, config).fit(X_sampler, Y_sampler, callback=callback)
