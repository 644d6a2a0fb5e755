"""The regularised-correlation objective of W2GN, identity pretraining and the training loop.

This is the one implementation of the algorithm; notebooks and baselines call it.

Notation (reference names in brackets): ψ_θ [``D``] is the potential of the forward map
``∇ψ_θ: P → Q``; ψ_ω [``D_conj``] approximates its convex conjugate, ``∇ψ_ω: Q → P``.
One step minimises

    Corr = E_P[ψ_θ(x)] + E_Q[<∇ψ_ω(y), y> − ψ_θ(∇ψ_ω(y))] + λ·R (+ l1·Σ|w|)

with ``∇ψ_ω(y)`` detached inside the correlation (so the correlation trains θ only and ψ_ω
learns from the cycle term alone) and the cycle term ``R`` chosen by ``W2GNConfig.cycle``:

* ``"inverse"``:   R = mean((∇ψ_θ(∇ψ_ω(y)) − y)²)                        (toy experiments)
* ``"both_sum"``:  R = mean((∇ψ_θ(∇ψ_ω(y)) − y)²) + mean((∇ψ_ω(∇ψ_θ(x)) − x)²)   (Gaussians)
* ``"both_mean"``: the same sum divided by 2       (domain adaptation, latent OT, style)

Each mean runs over the batch *and* the coordinates (‖·‖²/D), as in the reference. After
every optimiser step both nets are ``convexify()``-ed.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import torch
import torch.optim.optimizer as _optim_module
from tqdm.auto import tqdm

from .icnn import DenseICNN
from .utils import keep_freed_memory

__all__ = [
    "W2GNConfig", "W2GNTrainer", "pretrain_identity", "train", "w2gn_losses",
    "save_checkpoint", "load_checkpoint", "CYCLE_VARIANTS", "NonFiniteLossError",
]

CYCLE_VARIANTS = ("inverse", "both_sum", "both_mean")


class NonFiniteLossError(RuntimeError):
    """Raised when a training loss becomes NaN/inf; the weights of the last finite step are kept."""


@dataclass
class W2GNConfig:
    """Settings of one W2GN training run (validated on creation).

    Attributes:
        batch_size: samples of P and of Q per step.
        lr: Adam learning rate of both nets.
        betas: Adam betas of ψ_θ (``D``).
        conj_betas: Adam betas of ψ_ω (``D_conj``).
        weight_decay: Adam weight decay of both nets.
        lambda_cycle: λ, weight of the cycle regulariser.
        cycle: ``"inverse"``, ``"both_sum"`` or ``"both_mean"`` (see module docstring).
        l1: coefficient of the L1 penalty on all weights of both nets.
        iterations: optimiser steps per call of ``train`` / ``W2GNTrainer.fit``.
        log_every: how often (steps) losses are recorded in the history and shown.
        seed: seeds the dropout masks (``torch.manual_seed``) at the first step; the
            samplers keep their own seeds. ``None`` leaves the global RNG alone.
        progress: show a tqdm progress bar.
        compile: opt-in; ``torch.compile`` the forward and backward passes of DenseICNN's
            hand-written value+push (same formulas; float rounding may differ in the last bits).
            Each new batch shape / call kind compiles once (a few graphs, ~0.5 min with gcc on
            this 2-core CPU); if compilation fails it warns once and runs eagerly. Off by default:
            on this CPU it is slower than the eager passes (ms per step, compiled vs eager:
            Gaussians D = 16 9.9 vs 5.9, toy configuration 20.8 vs 16.3; the toy's sparse
            dropout masks, whose number of dropped units varies, also trigger recompilations),
            see ``benchmarks/step_speed.py --compile``; meant for trying on CUDA, where it is
            untested. Other nets ignore it.
    """

    batch_size: int = 1024
    lr: float = 1e-3
    betas: tuple[float, float] = (0.8, 0.99)
    conj_betas: tuple[float, float] = (0.4, 0.4)
    weight_decay: float = 0.0
    lambda_cycle: float = 1.0
    cycle: str = "inverse"
    l1: float = 0.0
    iterations: int = 1000
    log_every: int = 50
    seed: int | None = 0
    progress: bool = True
    compile: bool = False

    def __post_init__(self):
        self.betas = tuple(float(b) for b in self.betas)
        self.conj_betas = tuple(float(b) for b in self.conj_betas)
        if self.cycle not in CYCLE_VARIANTS:
            raise ValueError(f"cycle must be one of {CYCLE_VARIANTS}, got {self.cycle!r}")
        if not (self.lambda_cycle >= 0 and math.isfinite(self.lambda_cycle)):
            raise ValueError(f"lambda_cycle must be a finite number ≥ 0, got {self.lambda_cycle}")
        for name in ("batch_size", "iterations", "log_every"):
            value = getattr(self, name)
            if int(value) != value or value < (0 if name == "iterations" else 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.l1 < 0 or self.weight_decay < 0:
            raise ValueError(f"l1 and weight_decay must be ≥ 0, got l1={self.l1}, weight_decay={self.weight_decay}")
        for name in ("betas", "conj_betas"):
            b = getattr(self, name)
            if len(b) != 2 or not all(0 <= v < 1 for v in b):
                raise ValueError(f"{name} must be two numbers in [0, 1), got {b}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"], d["conj_betas"] = list(self.betas), list(self.conj_betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "W2GNConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _sq_mean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """mean((a − b)²) over all elements (one autograd node)."""
    return torch.nn.functional.mse_loss(a, b)


def _abs_sum(tensors) -> torch.Tensor:
    """Σ_t Σ|t| (per-tensor sums: twice as fast as ``torch._foreach_norm(…, 1)`` on the CPU here)."""
    return torch.stack([t.abs().sum() for t in tensors]).sum()


class _L1(torch.autograd.Function):
    """``l1 · Σ_p Σ|p|`` over many tensors as one autograd node (gradient ``l1 · sign(p)``)."""

    @staticmethod
    def forward(ctx, l1, *params):
        ctx.l1 = l1
        ctx.save_for_backward(*params)
        return _abs_sum(params) * l1

    @staticmethod
    def backward(ctx, grad):
        return (None, *_l1_grads(ctx.saved_tensors, grad * ctx.l1))


def _l1_grads(params, coef) -> list:
    """∂(coef·Σ|p|)/∂p = coef·sign(p) for each tensor."""
    signs = torch._foreach_sign(params)
    torch._foreach_mul_(signs, coef)
    return signs


def _half_sq_norms(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """E‖x‖²/2 + E‖y‖²/2 over the batches (no gradient)."""
    with torch.no_grad():
        return 0.5 * ((X * X).flatten(1).sum(1).mean() + (Y * Y).flatten(1).sum(1).mean())


class _DenseObjective(torch.autograd.Function):
    """The objective of :func:`w2gn_losses` for two :class:`DenseICNN` on data batches, as one
    autograd node: the forward runs the kernel passes (``DenseICNN._pass``) and the loss; the
    backward chains their hand-written backward passes by hand (the loss's derivatives are a few
    closed-form terms) and adds the L1 term's, with no graph of small operations in between
    (measured at D = 16: 1.65 instead of 1.78 ms per step outside the network passes).

    Passes (each net's fused weights built once): ∇ψ_ω(Y) (no ψ_ω); then ψ_θ and ∇ψ_θ at X and at
    ∇ψ_ω(Y) — one pass over both batches for the both-cycle variants (X is data: no input gradient
    for its rows), ψ_θ(X) alone and ψ_θ, ∇ψ_θ at ∇ψ_ω(Y) for ``inverse``; then ∇ψ_ω(∇ψ_θ(X)) for
    the both-cycle variants. ψ_θ(∇ψ_ω(Y)) is differentiated as at the detached ∇ψ_ω(Y)
    (``value_input_grad=False``), exactly as in the differentiable formulation.

    Inputs: ``job = (D, D_conj, lambda_cycle, cycle, l1)``, X, Y, then all parameters of D and
    of D_conj (in ``parameters()`` order). Outputs: loss, correlation, R, cycle_y, cycle_x (NaN for
    ``inverse``); only the loss is differentiable.
    """

    @staticmethod
    def forward(ctx, job, X, Y, *params):
        D, C, lam, cycle, l1 = job
        pD, pC = D._fast_params(), C._fast_params()
        n, m = X.shape[0], Y.shape[0]
        _, Y_inv, r1 = C._pass(Y, pC, need_value=False)
        if cycle == "inverse":
            psi_x, _, r2x = D._pass(X, pD, need_push=False)
            psi_yinv, Y_cyc, r2 = D._pass(Y_inv, pD, value_input_grad=False)
            records, X_cyc = (r1, r2, r2x), None
        else:
            value, push, r2 = D._pass(torch.cat([X, Y_inv]), pD, value_input_grad=False, const_rows=n)
            psi_x, psi_yinv, X_fwd, Y_cyc = value[:n], value[n:], push[:n], push[n:]
            _, X_cyc, r3 = C._pass(X_fwd, pC, need_value=False)
            records = (r1, r2, r3)
        inner = (Y_inv * Y).flatten(1).sum(1).mean()  # <∇ψ_ω(y), y>: constant for the gradient
        correlation = psi_x.mean() + inner - psi_yinv.mean()
        res_y, res_x = Y_cyc - Y, None if X_cyc is None else X_cyc - X  # kept for the backward pass
        cycle_y = res_y.square().mean()
        cycle_x = torch.full_like(cycle_y, float("nan")) if res_x is None else res_x.square().mean()
        reg = cycle_y if X_cyc is None else cycle_x + cycle_y
        if cycle == "both_mean":
            reg = reg / 2
        loss = correlation + lam * reg
        if l1:
            # over [F, w, b, V…] of both nets, which hold every parameter's elements exactly once
            loss = loss + l1 * _abs_sum([*pD, *pC])
        ctx.job, ctx.records, ctx.fused, ctx.rows = job, records, (pD, pC), (n, m)
        ctx.residuals = (res_y, res_x)
        ctx.mark_non_differentiable(correlation, reg, cycle_y, cycle_x)
        return loss, correlation, reg, cycle_y, cycle_x

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, g, *_):
        D, C, lam, cycle, l1 = ctx.job
        n, m = ctx.rows
        res_y, res_x = ctx.residuals
        pD, pC = ctx.fused
        # ∂loss/∂(cycle term's map) = 2·λ'·(map − target)/numel; ∂/∂ψ_θ(x_i) = 1/n, ∂/∂ψ_θ(∇ψ_ω(y_j)) = −1/m
        lam_eff = lam / 2 if cycle == "both_mean" else lam
        Gp_y = res_y * (g * (2.0 * lam_eff / res_y.numel()))
        gv_x, gv_y = (g / n).expand(n, 1), (-g / m).expand(m, 1)
        if cycle == "inverse":
            r1, r2, r2x = ctx.records
            dY_inv, gD = D._pass_backward(r2, gv_y, Gp_y, needs_dx=True)
            torch._foreach_add_(gD, D._pass_backward(r2x, gv_x, None, needs_dx=False)[1])
            gC = C._pass_backward(r1, None, dY_inv, needs_dx=False)[1]
        else:
            r1, r2, r3 = ctx.records
            dX_fwd, gC = C._pass_backward(r3, None, res_x * (g * (2.0 * lam_eff / res_x.numel())), needs_dx=True)
            dY_inv, gD = D._pass_backward(r2, torch.cat([gv_x, gv_y]), torch.cat([dX_fwd, Gp_y]), needs_dx=True)
            torch._foreach_add_(gC, C._pass_backward(r1, None, dY_inv, needs_dx=False)[1])
        if l1:
            for grads, fused in ((gD, pD), (gC, pC)):
                torch._foreach_add_(grads, _l1_grads(fused, g * l1))
        ctx.records = ctx.residuals = ctx.fused = None
        return (None, None, None, *D._param_grads(gD), *C._param_grads(gC))


def w2gn_losses(D, D_conj, X: torch.Tensor, Y: torch.Tensor, lambda_cycle: float,
                cycle: str = "inverse", l1: float = 0.0) -> dict[str, torch.Tensor]:
    """The W2GN objective on one batch (no push computed twice).

    Args:
        D, D_conj: ψ_θ and ψ_ω (ICNNs with ``push`` / ``value_and_push``).
        X: ``[N, *shape]`` samples of P; Y: ``[M, *shape]`` samples of Q.
        lambda_cycle, cycle, l1: see :class:`W2GNConfig`.

    Returns:
        dict with ``loss`` (to minimise), ``correlation`` (Corr without regulariser),
        ``w2`` (the paper's W2 estimate E‖x‖²/2 + E‖y‖²/2 − Corr, which estimates
        ½·W2² = ½·E‖x − T*(x)‖², half the squared Wasserstein-2 distance), ``cycle`` (R), ``cycle_x``/``cycle_y``
        (each direction's term, when computed) — all scalar tensors.
    """
    if cycle not in CYCLE_VARIANTS:
        raise ValueError(f"cycle must be one of {CYCLE_VARIANTS}, got {cycle!r}")
    if isinstance(D, DenseICNN) and isinstance(D_conj, DenseICNN) and not (X.requires_grad or Y.requires_grad):
        # DenseICNN on data batches: the whole objective as one autograd node (see _DenseObjective)
        loss, correlation, reg, cycle_y, cycle_x = _DenseObjective.apply(
            (D, D_conj, float(lambda_cycle), cycle, float(l1)), X, Y, *D.parameters(), *D_conj.parameters())
        out = {"loss": loss, "correlation": correlation, "w2": _half_sq_norms(X, Y) - correlation,
               "cycle": reg, "cycle_y": cycle_y}
        if cycle != "inverse":
            out["cycle_x"] = cycle_x
        return out
    Y_inv = D_conj.push(Y)                     # ∇ψ_ω(Y), graph to ω (for the cycle term)
    Y_inv_d = Y_inv.detach()
    if cycle == "inverse":
        psi_x = D(X)
        cycle_x = None
    else:
        psi_x, X_fwd = D.value_and_push(X)     # ψ_θ(X) from the forward pass of the push
        cycle_x = _sq_mean(D_conj.push(X_fwd), X)
    psi_yinv = D(Y_inv_d)                      # ψ_θ(∇ψ_ω(Y)) with ∇ψ_ω(Y) detached
    cycle_y = _sq_mean(D.push(Y_inv), Y)
    with torch.no_grad():
        inner = (Y_inv_d * Y).flatten(1).sum(1).mean()   # <∇ψ_ω(y), y>: constant for the gradient
    correlation = psi_x.mean() + inner - psi_yinv.mean()
    reg = cycle_y if cycle_x is None else cycle_x + cycle_y
    if cycle == "both_mean":
        reg = reg / 2
    loss = correlation + lambda_cycle * reg
    if l1:
        loss = loss + _L1.apply(float(l1), *[p for net in (D, D_conj) for p in net.parameters()])
    out = {"loss": loss, "correlation": correlation.detach(), "w2": (_half_sq_norms(X, Y) - correlation).detach(),
           "cycle": reg.detach(), "cycle_y": cycle_y.detach()}
    if cycle_x is not None:
        out["cycle_x"] = cycle_x.detach()
    return out


def _make_optimizer(net, lr, betas, weight_decay, kind: str = "adam"):
    params = [p for p in net.parameters() if p.requires_grad]
    if kind == "adam":
        # fused: one kernel per parameter for the whole update (same formula; float rounding may
        # differ from the per-operation implementation in the last bits); foreach where unsupported
        try:
            return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)
        except (RuntimeError, ValueError):
            return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, foreach=True)
    if kind == "adamax":
        return torch.optim.Adamax(params, lr=lr, betas=betas, weight_decay=weight_decay, foreach=True)
    raise ValueError(f"optimizer must be 'adam' or 'adamax', got {kind!r}")


def _fused_adam_step(opt) -> None:
    """``opt.step()``; for a fused :class:`torch.optim.Adam` in the plain configuration whose state
    exists (every step after the first), the fused kernel is called directly: the same update
    (``torch._fused_adam_`` with the same arguments ``Adam.step`` passes) without ``torch.optim``'s
    per-call Python bookkeeping (~0.14 ms per call on this CPU, ~3 % of a D = 16 Gaussian step). Anything
    else — another optimiser, hooks, a patched ``step`` (LR schedulers), AMSGrad, tensor lr,
    missing state — goes through ``opt.step()``."""
    groups = opt.param_groups
    g = groups[0]
    if (type(opt) is torch.optim.Adam and len(groups) == 1 and g.get("fused")
            and not (g["amsgrad"] or g["maximize"] or g["capturable"] or g["differentiable"]
                     or g.get("decoupled_weight_decay") or isinstance(g["lr"], torch.Tensor))
            and "step" not in opt.__dict__ and not opt._optimizer_step_pre_hooks
            and not opt._optimizer_step_post_hooks and getattr(opt, "grad_scale", None) is None
            and getattr(opt, "found_inf", None) is None and _fused_adam_kernel is not None
            and not _optim_module._global_optimizer_pre_hooks
            and not _optim_module._global_optimizer_post_hooks):
        params = [p for p in g["params"] if p.grad is not None]
        states = [opt.state.get(p) for p in params]
        if params and all(states) and len({p.device for p in params}) == 1 \
                and len({p.dtype for p in params}) == 1:
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, 1)
            beta1, beta2 = g["betas"]
            _fused_adam_kernel(params, [p.grad for p in params], [s["exp_avg"] for s in states],
                               [s["exp_avg_sq"] for s in states], [], steps, amsgrad=False, lr=g["lr"],
                               beta1=beta1, beta2=beta2, weight_decay=g["weight_decay"], eps=g["eps"],
                               maximize=False, grad_scale=None, found_inf=None)
            return
    opt.step()


_fused_adam_kernel = getattr(torch, "_fused_adam_", None)


def _zero_grad(opt) -> None:
    """``opt.zero_grad(set_to_none=True)`` without its profiling wrapper."""
    for group in opt.param_groups:
        for p in group["params"]:
            p.grad = None


def _implementation(opt) -> dict:
    """The ``fused`` / ``foreach`` flags an optimiser was built with (kept across ``load_state_dict``)."""
    g = opt.param_groups[0]
    return {"fused": g.get("fused"), "foreach": g.get("foreach")}


def _sample_checked(sampler, n: int, net, role: str) -> torch.Tensor:
    x = sampler.sample(n)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{role} sampler {type(sampler).__name__}.sample must return a torch.Tensor, got {type(x).__name__}")
    expected = tuple(getattr(net, "sample_shape", x.shape[1:]))
    if tuple(x.shape[1:]) != expected:
        raise ValueError(f"{role} sampler {type(sampler).__name__} returned samples of shape {list(x.shape)}, "
                         f"expected [N, {', '.join(map(str, expected))}]")
    return x


def pretrain_identity(D, sampler, iterations: int = 10000, lr: float = 1e-3, betas=(0.8, 0.9),
                      blow: float = 3.0, tol: float = 3e-5, batch_size: int = 256,
                      optimizer: str = "adam", progress: bool = True, weight_decay: float = 0.0,
                      l1: float = 0.0, reduction: str = "sum") -> float:
    """Pretrain ψ to the identity map, ∇ψ(x) ≈ x, on ``blow``·(samples of ``sampler``).

    Loss: ``((∇ψ(x) − x)²).sum(coords).mean(batch)`` (``reduction="sum"``) or the mean over batch
    and coordinates (``"mean"``, the reference's style-transfer pretraining), plus
    ``l1·Σ|w|`` over all parameters; stops early once the identity loss is below ``tol``.
    ``optimizer`` ``"adam"`` or ``"adamax"`` with ``lr``, ``betas``, ``weight_decay``.
    ``convexify()`` after every step. Copy the result into ψ_ω with
    ``D_conj.load_state_dict(D.state_dict())``.

    Returns:
        the last identity loss (without the L1 term).
    """
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    opt = _make_optimizer(D, lr, tuple(betas), weight_decay, optimizer)
    D.train()
    D.convexify()
    loss_value = float("nan")
    bar = tqdm(range(iterations), desc="identity pretraining", disable=not progress, leave=False)
    for it in bar:
        X = _sample_checked(sampler, batch_size, D, "pretraining") * blow
        sq = (D.push(X) - X) ** 2
        loss = sq.mean() if reduction == "mean" else sq.flatten(1).sum(1).mean()
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise NonFiniteLossError(f"identity pretraining: loss is {loss_value} at iteration {it}; "
                                     "lower the learning rate or the initialisation scale")
        if l1:
            loss = loss + _L1.apply(float(l1), *D.parameters())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        D.convexify()
        if it % 50 == 0:
            bar.set_postfix(loss=f"{loss_value:.2e}")
        if loss_value < tol:
            break
    return loss_value


class W2GNTrainer:
    """Holds ψ_θ (``D``), ψ_ω (``D_conj``), their optimisers, the step count and the history.

    ``fit`` may be called repeatedly: it continues from the current weights and optimiser
    states. ``history`` is a dict of lists (``iteration``, ``loss``, ``correlation``, ``w2``,
    ``cycle``, ``cycle_y``, [``cycle_x``], ``time_s``) filled every ``config.log_every`` steps.
    """

    def __init__(self, D, D_conj, config: W2GNConfig):
        self.D, self.D_conj, self.config = D, D_conj, config
        if any(p.device.type == "cpu" for p in D.parameters()):
            keep_freed_memory()  # page faults of re-allocated activations: ~10 % of a small CPU step
        self.opt = _make_optimizer(D, config.lr, config.betas, config.weight_decay)
        self.opt_conj = _make_optimizer(D_conj, config.lr, config.conj_betas, config.weight_decay)
        self.iteration = 0
        self.history: dict[str, list] = {}
        self._seeded = False
        self._samplers: dict[str, str] = {}

    def set_config(self, config: W2GNConfig) -> None:
        """Switch to a new config; learning rates, betas and weight decay of the existing
        optimisers are updated in place (their moment estimates are kept)."""
        self.config = config
        for opt, betas in ((self.opt, config.betas), (self.opt_conj, config.conj_betas)):
            for group in opt.param_groups:
                group.update(lr=config.lr, betas=betas, weight_decay=config.weight_decay)

    def step(self, X: torch.Tensor, Y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step on the batches ``X ~ P``, ``Y ~ Q``.

        Raises:
            NonFiniteLossError: the loss is NaN/inf (the weights are left untouched).
        """
        c = self.config
        for net in (self.D, self.D_conj):
            if not net.training:
                net.train()
            if isinstance(net, DenseICNN) and net.__dict__.get("compile", False) != c.compile:
                net.__dict__["compile"] = bool(c.compile)  # plain attribute read by _kernel_meta
        losses = w2gn_losses(self.D, self.D_conj, X, Y, c.lambda_cycle, c.cycle, c.l1)
        loss_value = losses["loss"].item()  # a host sync on CUDA (as any finiteness check)
        if not math.isfinite(loss_value):
            raise NonFiniteLossError(self._nonfinite_message(X, Y, loss_value))
        _zero_grad(self.opt)
        _zero_grad(self.opt_conj)
        losses["loss"].backward()
        _fused_adam_step(self.opt)
        _fused_adam_step(self.opt_conj)
        self.D.convexify()
        self.D_conj.convexify()
        self.iteration += 1
        return losses

    def _nonfinite_message(self, X, Y, value) -> str:
        where = f"W2GN training: loss is {value} at iteration {self.iteration}"
        for name, batch in (("input (P)", X), ("output (Q)", Y)):
            if not torch.isfinite(batch).all():
                return f"{where}: the {name} sampler returned non-finite samples ({self._samplers.get(name, '?')})"
        return (f"{where}; the weights of the last finite step are kept. Lower lr or lambda_cycle, "
                "or check the scale of the data.")

    def fit(self, X_sampler, Y_sampler, iterations: int | None = None,
            callback: Callable[[int, Any, Any, dict], Any] | None = None) -> dict[str, list]:
        """Train for ``iterations`` (default ``config.iterations``) more steps.

        Args:
            X_sampler, Y_sampler: objects with ``sample(n)`` returning ``[n, *shape]`` tensors.
            callback: ``callback(iteration, D, D_conj, logs)`` called at every logged step
                (``logs``: the floats just appended to the history). Returning ``False``
                stops training early.

        Returns:
            the history (also ``self.history``).
        """
        c = self.config
        n_iter = c.iterations if iterations is None else int(iterations)
        self._samplers = {"input (P)": type(X_sampler).__name__, "output (Q)": type(Y_sampler).__name__}
        if c.seed is not None and not self._seeded:
            torch.manual_seed(c.seed)
            self._seeded = True
        start = time.perf_counter() - (self.history["time_s"][-1] if self.history.get("time_s") else 0.0)
        bar = tqdm(range(n_iter), desc="W2GN", disable=not c.progress)
        for _ in bar:
            X = _sample_checked(X_sampler, c.batch_size, self.D, "input (P)")
            Y = _sample_checked(Y_sampler, c.batch_size, self.D_conj, "output (Q)")
            losses = self.step(X, Y)
            if self.iteration % c.log_every == 0 or self.iteration == 1:
                logs = {k: v.item() for k, v in losses.items()}
                logs["iteration"] = self.iteration
                logs["time_s"] = time.perf_counter() - start
                for k, v in logs.items():
                    self.history.setdefault(k, []).append(v)
                bar.set_postfix(w2=f"{logs['w2']:.3f}", cycle=f"{logs['cycle']:.2e}")
                if callback is not None and callback(self.iteration, self.D, self.D_conj, logs) is False:
                    break
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            "D": self.D.state_dict(), "D_conj": self.D_conj.state_dict(),
            "D_arch": _arch(self.D), "D_conj_arch": _arch(self.D_conj),
            "opt": self.opt.state_dict(), "opt_conj": self.opt_conj.state_dict(),
            "config": self.config.to_dict(), "iteration": self.iteration,
            "history": {k: list(v) for k, v in self.history.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.D.load_state_dict(state["D"])
        self.D_conj.load_state_dict(state["D_conj"])
        self.set_config(W2GNConfig.from_dict(state["config"]))
        for opt, saved in ((self.opt, state["opt"]), (self.opt_conj, state["opt_conj"])):
            impl = _implementation(opt)
            opt.load_state_dict(saved)
            for group in opt.param_groups:
                group.update(impl)
        self.iteration = int(state["iteration"])
        self.history = {k: list(v) for k, v in state.get("history", {}).items()}
        self._seeded = True


def _arch(net) -> dict:
    cfg = net.config() if hasattr(net, "config") else {}
    return {"class": type(net).__name__, **cfg}


def train(D, D_conj, X_sampler, Y_sampler, config: W2GNConfig,
          callback: Callable[[int, Any, Any, dict], Any] | None = None) -> dict[str, list]:
    """Train W2GN (ψ_θ = ``D``, ψ_ω = ``D_conj``) for ``config.iterations`` steps.

    The optimisers live with the nets (a :class:`W2GNTrainer` stored on ``D``): calling
    ``train`` again with the same pair continues from the current weights, optimiser states and
    history; a changed ``config`` updates lr/betas/weight decay in place. Use
    :class:`W2GNTrainer` directly for checkpoints and finer control.

    Returns:
        the history dict of lists (see :class:`W2GNTrainer`).
    """
    trainer = get_trainer(D, D_conj, config)
    return trainer.fit(X_sampler, Y_sampler, callback=callback)


def get_trainer(D, D_conj, config: W2GNConfig) -> W2GNTrainer:
    """The :class:`W2GNTrainer` attached to ``(D, D_conj)``, created on first use."""
    trainer = D.__dict__.get("_w2gn_trainer")
    if trainer is None or trainer.D_conj is not D_conj:
        trainer = W2GNTrainer(D, D_conj, config)
        D.__dict__["_w2gn_trainer"] = trainer  # plain attribute: not a submodule, not in state_dict
    elif trainer.config != config:
        trainer.set_config(config)
    return trainer


def save_checkpoint(path, trainer: W2GNTrainer, **extra) -> None:
    """Save nets, optimiser states, config, iteration and history (plus ``extra`` plain data).

    The file loads with ``torch.load(path, weights_only=True)``.
    """
    state = trainer.state_dict()
    state["extra"] = extra
    torch.save(state, path)


def load_checkpoint(path, trainer: W2GNTrainer | None = None, D=None, D_conj=None,
                    map_location=None) -> W2GNTrainer:
    """Load a checkpoint written by :func:`save_checkpoint`.

    Pass an existing ``trainer``, or the nets ``D``/``D_conj`` (built with the same
    architecture), or nothing: then DenseICNN/ConvICNN nets are rebuilt from the stored
    architecture. A checkpoint of another architecture raises ``ValueError`` naming the keys
    that differ.
    """
    state = torch.load(path, map_location=map_location, weights_only=True)
    if trainer is None:
        D = D if D is not None else _build(state["D_arch"])
        D_conj = D_conj if D_conj is not None else _build(state["D_conj_arch"])
        if map_location is not None:
            D.to(map_location)
            D_conj.to(map_location)
        trainer = W2GNTrainer(D, D_conj, W2GNConfig.from_dict(state["config"]))
    trainer.load_state_dict(state)
    return trainer


def _build(arch: dict):
    from . import icnn

    arch = dict(arch)
    cls = getattr(icnn, arch.pop("class"), None)
    if cls is None:
        raise ValueError(f"cannot rebuild a net of class {arch!r}; pass D and D_conj")
    return cls(**arch)
