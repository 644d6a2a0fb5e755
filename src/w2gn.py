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

import contextlib
import glob
import hashlib
import math
import numbers
import os
import random
import time
import warnings
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import numpy as np
import torch
import torch.optim.optimizer as _optim_module
from tqdm.auto import tqdm

from .distributions import load_rng_state_dict, rng_state_dict
from .icnn import DenseICNN
from .utils import atomic_torch_save, keep_freed_memory

__all__ = [
    "W2GNConfig", "W2GNTrainer", "pretrain_identity", "train", "w2gn_losses",
    "save_checkpoint", "load_checkpoint", "CYCLE_VARIANTS", "NonFiniteLossError", "CheckpointError",
]

CYCLE_VARIANTS = ("inverse", "both_sum", "both_mean")


class NonFiniteLossError(RuntimeError):
    """Raised when a training loss or the weights become NaN/inf; the message says which, and the
    nets hold finite weights (those of the last finite step, restored when an update broke them)."""


class CheckpointError(ValueError):
    """A file is not a readable, intact checkpoint (empty, truncated, corrupted, another kind of
    file), or belongs to another run than the one resuming from it."""


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


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
        checkpoint_path: if set, ``train`` / ``W2GNTrainer.fit`` write a checkpoint there every
            ``checkpoint_every`` steps and at the end (atomically, with a checksum), and a call
            that finds the file resumes from it: weights, optimiser states, iteration, history
            and the global and samplers' random states, so the run ends exactly as an
            uninterrupted one (bit-identical on the same CPU setup). The file names one run: a
            call that finds it finished loads it and trains no further.
        checkpoint_every: steps between checkpoints.
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
    checkpoint_path: str | None = None
    checkpoint_every: int = 1000

    def __post_init__(self):
        for name in ("betas", "conj_betas"):
            b = tuple(getattr(self, name))
            if len(b) != 2 or not all(_is_real(v) and 0 <= v < 1 for v in b):
                raise ValueError(f"{name} must be two numbers in [0, 1), got {b}")
            setattr(self, name, tuple(float(v) for v in b))
        if self.cycle not in CYCLE_VARIANTS:
            raise ValueError(f"cycle must be one of {CYCLE_VARIANTS}, got {self.cycle!r}")
        for name in ("lambda_cycle", "lr", "weight_decay", "l1"):
            value = getattr(self, name)
            if not (_is_real(value) and (value > 0 if name == "lr" else value >= 0)):
                raise ValueError(f"{name} must be a finite number {'> 0' if name == 'lr' else '≥ 0'}, got {value!r}")
        for name in ("batch_size", "iterations", "log_every", "checkpoint_every"):
            value = getattr(self, name)
            if not _is_int(value) or value < (0 if name == "iterations" else 1):
                kind = "an integer ≥ 0" if name == "iterations" else "a positive integer"
                raise ValueError(f"{name} must be {kind}, got {value!r}")
            setattr(self, name, int(value))
        if self.seed is not None and not _is_int(self.seed):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if self.checkpoint_path is not None:
            if not isinstance(self.checkpoint_path, (str, os.PathLike)) or not os.fspath(self.checkpoint_path):
                raise ValueError(f"checkpoint_path must be a file path or None, got {self.checkpoint_path!r}")
            self.checkpoint_path = os.fspath(self.checkpoint_path)

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
    if X.shape[0] == 0 or Y.shape[0] == 0:
        raise ValueError(f"w2gn_losses needs non-empty batches, got X {list(X.shape)} and Y {list(Y.shape)}")
    for batch, net in ((X, D), (Y, D_conj)):
        if hasattr(net, "_check_input"):
            net._check_input(batch)  # shape and dtype, with a clear message
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
    if x.shape[0] != n:
        raise ValueError(f"{role} sampler {type(sampler).__name__}.sample({n}) returned {x.shape[0]} samples")
    weight = next(net.parameters(), None)
    if weight is not None and x.dtype != weight.dtype:
        raise TypeError(f"{role} sampler {type(sampler).__name__} returned {x.dtype} samples for a net with "
                        f"{weight.dtype} weights; build the sampler with dtype={weight.dtype}")
    expected = tuple(getattr(net, "sample_shape", x.shape[1:]))
    if tuple(x.shape[1:]) != expected:
        raise ValueError(f"{role} sampler {type(sampler).__name__} returned samples of shape {list(x.shape)}, "
                         f"expected [N, {', '.join(map(str, expected))}]")
    return x


# ------------------------------------------------------------------ random state, checkpoint files
CHECKPOINT_FORMAT = "w2gn-checkpoint"
CHECKPOINT_VERSION = 2


def _global_rng_state() -> dict:
    """The global random states a run draws from: torch (CPU and, once initialised, CUDA),
    NumPy and Python's ``random``."""
    state = {"torch": torch.get_rng_state(), "numpy": _np_state(np.random.get_state()),
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_global_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _np_state(np_state) -> dict:
    """NumPy's legacy global RNG state as tensors and numbers."""
    _, keys, pos, has_gauss, gauss = np_state
    return {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
            "gauss": float(gauss)}


def _digest(obj) -> str:
    """SHA-256 of a checkpoint's content: every tensor's dtype, shape and bytes, every other
    value's ``repr``, in a fixed order (dict keys sorted)."""
    h = hashlib.sha256()

    def feed(x):
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            h.update(b"{")
            for k in sorted(x, key=repr):
                h.update(repr(k).encode())
                feed(x[k])
            h.update(b"}")
        elif isinstance(x, (list, tuple)):
            h.update(b"[" if isinstance(x, list) else b"(")
            for v in x:
                feed(v)
            h.update(b"]")
        else:
            h.update(repr(x).encode())

    feed(obj)
    return h.hexdigest()


def _write_checkpoint(path, state: dict) -> None:
    """Write ``state`` (plain data and tensors) atomically with its format tag and checksum."""
    state = dict(state, format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION)
    state.pop("checksum", None)
    state["checksum"] = _digest(state)
    # temporary files left by a killed save of this checkpoint (one writer per run file)
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    for leftover in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.*.tmp")):
        with contextlib.suppress(OSError):
            os.unlink(leftover)
    atomic_torch_save(state, path)


def _read_checkpoint(path, map_location=None) -> dict:
    """Load and verify a checkpoint file.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: empty, truncated, corrupted or not a checkpoint of this library.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): not a checkpoint (an interrupted copy?)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, EOFError, OSError, UnpicklingError, ... here
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated, corrupted or another kind of "
                              f"file): {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    if not isinstance(state, dict) or not ({"format", "D"} & set(state)):
        raise CheckpointError(f"{path} is a torch file but not a W2GN checkpoint "
                              f"(keys: {sorted(map(str, state))[:8] if isinstance(state, dict) else type(state).__name__})")
    if "format" not in state:  # written before checkpoints carried a checksum
        warnings.warn(f"{path}: a checkpoint without a checksum (older version); its content is not verified",
                      stacklevel=3)
        return state
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a {state['format']!r} file, not a W2GN checkpoint")
    saved = state.pop("checksum", None)
    if saved is None or _digest(state) != saved:
        raise CheckpointError(f"{path} is corrupted: its content does not match its checksum "
                              "(the file was modified or damaged after it was written)")
    return state


def _check_same_run(path, saved: dict, current: dict, what: str) -> None:
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {v!r}" for k, v in current.items() if saved.get(k) != v]
    if diffs:
        raise CheckpointError(f"{path} was written by a {what} with other settings ({'; '.join(diffs[:6])}); "
                              "delete it or pass another checkpoint_path to start a new run")


def _sampler_states(samplers: dict) -> dict:
    out = {k: (s.state_dict() if callable(getattr(s, "state_dict", None)) else rng_state_dict(s))
           for k, s in samplers.items()}
    out["types"] = {k: type(s).__name__ for k, s in samplers.items()}
    return out


def _load_sampler_states(samplers: dict, states: dict) -> None:
    saved = states.get("types", {})
    for k, s in samplers.items():
        if k in saved and saved[k] != type(s).__name__:
            raise CheckpointError(f"the checkpoint was written with a {saved[k]} sampler for {k}, "
                                  f"now it is a {type(s).__name__}: another run; delete the file to start afresh")
    for k, s in samplers.items():
        if callable(getattr(s, "load_state_dict", None)):
            s.load_state_dict(states[k])
        else:
            load_rng_state_dict(s, states[k])


# ------------------------------------------------------------------------------ identity pretraining
def pretrain_identity(D, sampler, iterations: int = 10000, lr: float = 1e-3, betas=(0.8, 0.9),
                      blow: float = 3.0, tol: float = 3e-5, batch_size: int = 256,
                      optimizer: str = "adam", progress: bool = True, weight_decay: float = 0.0,
                      l1: float = 0.0, reduction: str = "sum", checkpoint_path=None,
                      checkpoint_every: int = 1000) -> float:
    """Pretrain ψ to the identity map, ∇ψ(x) ≈ x, on ``blow``·(samples of ``sampler``).

    Loss: ``((∇ψ(x) − x)²).sum(coords).mean(batch)`` (``reduction="sum"``) or the mean over batch
    and coordinates (``"mean"``, the reference's style-transfer pretraining), plus
    ``l1·Σ|w|`` over all parameters; stops early once the identity loss is below ``tol``.
    ``optimizer`` ``"adam"`` or ``"adamax"`` with ``lr``, ``betas``, ``weight_decay``.
    ``convexify()`` after every step. Copy the result into ψ_ω with
    ``D_conj.load_state_dict(D.state_dict())``. Dropout masks come from the global torch RNG
    (seed it first for a reproducible result).

    Args:
        checkpoint_path: if set, a checkpoint is written there every ``checkpoint_every`` steps
            and at the end; a call that finds the file resumes from it (weights, optimiser,
            step, global and sampler random states) and ends with the weights of an
            uninterrupted run; a finished one is just loaded.

    Returns:
        the last identity loss (without the L1 term).
    """
    if not _is_int(iterations) or iterations < 0:
        raise ValueError(f"iterations must be an integer ≥ 0, got {iterations!r}")
    if not _is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not _is_int(checkpoint_every) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    if not (_is_real(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not (_is_real(weight_decay) and weight_decay >= 0 and _is_real(l1) and l1 >= 0):
        raise ValueError(f"weight_decay and l1 must be finite numbers ≥ 0, got {weight_decay!r}, {l1!r}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    opt = _make_optimizer(D, lr, tuple(betas), weight_decay, optimizer)
    D.train()
    D.convexify()
    settings = {"iterations": int(iterations), "lr": float(lr), "betas": [float(b) for b in betas],
                "blow": float(blow), "tol": float(tol), "batch_size": int(batch_size), "optimizer": optimizer,
                "weight_decay": float(weight_decay), "l1": float(l1), "reduction": reduction, "arch": _arch(D)}
    start, loss_value, done = 0, float("nan"), False
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        state = _read_checkpoint(checkpoint_path)
        if state.get("kind") != "pretrain":
            raise CheckpointError(f"{checkpoint_path} is a {state.get('kind', 'training')!r} checkpoint, "
                                  "not one of identity pretraining")
        _check_same_run(checkpoint_path, state["settings"], settings, "pretraining")
        D.load_state_dict(state["D"])
        impl = _implementation(opt)
        opt.load_state_dict(state["opt"])
        for group in opt.param_groups:
            group.update(impl)
        _load_sampler_states({"X": sampler}, state["samplers"])
        _set_global_rng_state(state["rng"])
        start, loss_value, done = int(state["iteration"]), float(state["loss"]), bool(state["done"])

    def save(it: int, finished: bool) -> None:
        if checkpoint_path is not None:
            _check_finite_weights([D], f"identity pretraining, iteration {it}")
            _write_checkpoint(checkpoint_path, {
                "kind": "pretrain", "settings": settings, "D": D.state_dict(), "opt": opt.state_dict(),
                "iteration": it, "loss": loss_value, "done": finished,
                "samplers": _sampler_states({"X": sampler}), "rng": _global_rng_state()})

    it = start
    bar = tqdm(range(start, iterations if not done else start), desc="identity pretraining",
               disable=not progress, leave=False, initial=start, total=iterations)
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
            done = True
            save(it + 1, True)
            break
        if (it + 1) % checkpoint_every == 0 and it + 1 < iterations:
            save(it + 1, False)
    else:
        if not done:
            _check_finite_weights([D], f"identity pretraining, iteration {iterations}")
            save(max(iterations, start), True)
    return loss_value


def _check_finite_weights(nets, where: str) -> None:
    for net in nets:
        if not all(torch.isfinite(p).all() for p in net.parameters()):
            raise NonFiniteLossError(f"{where}: the weights of {type(net).__name__} are not finite; "
                                     "lower the learning rate")


# ------------------------------------------------------------------------------ W2GN training
#: config fields that may differ between the run that wrote a checkpoint and the one resuming it
_RESUME_FREE = ("progress", "checkpoint_path", "checkpoint_every")


class W2GNTrainer:
    """Holds ψ_θ (``D``), ψ_ω (``D_conj``), their optimisers, the step count and the history.

    ``fit`` may be called repeatedly: it continues from the current weights and optimiser
    states. ``history`` is a dict of lists (``iteration``, ``loss``, ``correlation``, ``w2``,
    ``cycle``, ``cycle_y``, [``cycle_x``], ``time_s``) filled every ``config.log_every`` steps.
    With ``config.checkpoint_path`` set, ``fit`` checkpoints and resumes (see :class:`W2GNConfig`).

    Non-finite guard: a NaN/inf loss stops training with :class:`NonFiniteLossError`; if the
    update before it had made the weights non-finite, the weights from before that update are
    restored first (the message says which case happened). The final weights and every
    checkpoint's are checked too.
    """

    def __init__(self, D, D_conj, config: W2GNConfig):
        shape, conj_shape = getattr(D, "sample_shape", None), getattr(D_conj, "sample_shape", None)
        if shape is not None and conj_shape is not None and tuple(shape) != tuple(conj_shape):
            raise ValueError(f"D and D_conj must take samples of the same shape; got D {list(shape)} and "
                             f"D_conj {list(conj_shape)} (build both nets with the same input dimension)")
        if not isinstance(config, W2GNConfig):
            raise TypeError(f"config must be a W2GNConfig, got {type(config).__name__}")
        self.D, self.D_conj, self.config = D, D_conj, config
        if any(p.device.type == "cpu" for p in D.parameters()):
            keep_freed_memory()  # page faults of re-allocated activations: ~10 % of a small CPU step
        self.opt = _make_optimizer(D, config.lr, config.betas, config.weight_decay)
        self.opt_conj = _make_optimizer(D_conj, config.lr, config.conj_betas, config.weight_decay)
        self.iteration = 0
        self.history: dict[str, list] = {}
        self._seeded = False
        self._samplers: dict[str, str] = {}
        self._params = [p for net in (D, D_conj) for p in net.parameters()]
        self._backup: list | None = None  # the weights before the last update

    def set_config(self, config: W2GNConfig) -> None:
        """Switch to a new config; learning rates, betas and weight decay of the existing
        optimisers are updated in place (their moment estimates are kept)."""
        self.config = config
        for opt, betas in ((self.opt, config.betas), (self.opt_conj, config.conj_betas)):
            for group in opt.param_groups:
                group.update(lr=config.lr, betas=betas, weight_decay=config.weight_decay)

    def _weights_finite(self) -> bool:
        with torch.no_grad():
            return bool(torch.isfinite(torch.stack([p.sum() for p in self._params])).all())

    def _restore_backup(self) -> bool:
        """Put back the weights from before the last update; ``False`` if there is no copy."""
        if self._backup is None:
            return False
        with torch.no_grad():
            for p, b in zip(self._params, self._backup):
                p.copy_(b)
        return True

    def _guard_weights(self, where: str) -> None:
        """Raise (restoring the weights before the last update) if the weights are non-finite."""
        if not self._weights_finite():
            restored = self._restore_backup()
            raise NonFiniteLossError(
                f"W2GN training: the update at iteration {self.iteration} made the weights non-finite ({where}); "
                + ("the weights from before that update are restored. " if restored else
                   "no earlier copy of the weights exists. ")
                + "Lower lr or weight_decay, or check the scale of the data.")

    def step(self, X: torch.Tensor, Y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step on the batches ``X ~ P``, ``Y ~ Q``.

        Raises:
            NonFiniteLossError: the loss is NaN/inf (the nets keep finite weights, see the class).
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
            if not self._weights_finite():
                self._guard_weights(f"the loss at the next step is {loss_value}")
            raise NonFiniteLossError(self._nonfinite_message(X, Y, loss_value))
        with torch.no_grad():  # keep the weights before the update (restored if it breaks them)
            if self._backup is None:
                self._backup = [p.detach().clone() for p in self._params]
            else:
                torch._foreach_copy_(self._backup, [p.detach() for p in self._params])
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

        With ``config.checkpoint_path`` set and the file present, the run stored there is
        resumed and trained to its end (``iterations`` is then the stored run's); a finished
        one is only loaded.

        Args:
            X_sampler, Y_sampler: objects with ``sample(n)`` returning ``[n, *shape]`` tensors.
            callback: ``callback(iteration, D, D_conj, logs)`` called at every logged step
                (``logs``: the floats just appended to the history). Returning ``False``
                stops training early. If it has ``state_dict()`` / ``load_state_dict(state)``
                (e.g. an evaluation curve; plain data), that state is checkpointed and resumed too.

        Returns:
            the history (also ``self.history``).

        Raises:
            CheckpointError: the checkpoint file is damaged or belongs to another run.
        """
        c = self.config
        if iterations is not None and (not _is_int(iterations) or iterations < 0):
            raise ValueError(f"iterations must be an integer ≥ 0, got {iterations!r}")
        n_iter = c.iterations if iterations is None else int(iterations)
        self._samplers = {"input (P)": type(X_sampler).__name__, "output (Q)": type(Y_sampler).__name__}
        samplers = {"X": X_sampler, "Y": Y_sampler}
        path, done = c.checkpoint_path, False
        if path is not None and os.path.exists(path):
            state = _read_checkpoint(path)
            if state.get("kind") != "train" or "run_end" not in state:
                raise CheckpointError(f"{path} is not a checkpoint of a resumable W2GN training run "
                                      f"(kind {state.get('kind', 'saved by save_checkpoint')!r})")
            now = {k: v for k, v in c.to_dict().items() if k not in _RESUME_FREE}
            _check_same_run(path, state["config"], now, "training run")
            self.load_state_dict(state)
            self.set_config(c)
            _load_sampler_states(samplers, state["samplers"])
            _set_global_rng_state(state["rng"])
            if "callback" in state and callable(getattr(callback, "load_state_dict", None)):
                callback.load_state_dict(state["callback"])
            run_end, done = int(state["run_end"]), bool(state["done"])
        else:
            if c.seed is not None and not self._seeded:
                torch.manual_seed(c.seed)
                self._seeded = True
            run_end = self.iteration + n_iter
        last_saved = self.iteration if done else -1

        def save(finished: bool) -> None:
            nonlocal last_saved
            self._guard_weights("checked before writing the checkpoint")
            state = self.state_dict()
            state.update(kind="train", run_end=run_end, done=finished, samplers=_sampler_states(samplers),
                         rng=_global_rng_state())
            if callable(getattr(callback, "state_dict", None)):
                state["callback"] = callback.state_dict()
            _write_checkpoint(path, state)
            last_saved = self.iteration

        start = time.perf_counter() - (self.history["time_s"][-1] if self.history.get("time_s") else 0.0)
        todo = 0 if done else max(run_end - self.iteration, 0)
        bar = tqdm(range(todo), desc="W2GN", disable=not c.progress, initial=run_end - todo, total=run_end)
        for _ in bar:
            X = _sample_checked(X_sampler, c.batch_size, self.D, "input (P)")
            Y = _sample_checked(Y_sampler, c.batch_size, self.D_conj, "output (Q)")
            losses = self.step(X, Y)
            stop = False
            if self.iteration % c.log_every == 0 or self.iteration == 1:
                logs = {k: v.item() for k, v in losses.items()}
                logs["iteration"] = self.iteration
                logs["time_s"] = time.perf_counter() - start
                for k, v in logs.items():
                    self.history.setdefault(k, []).append(v)
                bar.set_postfix(w2=f"{logs['w2']:.3f}", cycle=f"{logs['cycle']:.2e}")
                stop = callback is not None and callback(self.iteration, self.D, self.D_conj, logs) is False
            if stop:
                break
            if path is not None and self.iteration % c.checkpoint_every == 0 and self.iteration < run_end:
                save(False)
        self._guard_weights("checked at the end of training")
        if path is not None and last_saved != self.iteration:
            save(True)
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
        self._backup = None


def _arch(net) -> dict:
    cfg = net.config() if hasattr(net, "config") else {}
    return {"class": type(net).__name__, **cfg}


def train(D, D_conj, X_sampler, Y_sampler, config: W2GNConfig,
          callback: Callable[[int, Any, Any, dict], Any] | None = None) -> dict[str, list]:
    """Train W2GN (ψ_θ = ``D``, ψ_ω = ``D_conj``) for ``config.iterations`` steps.

    The optimisers live with the nets (a :class:`W2GNTrainer` stored on ``D``): calling
    ``train`` again with the same pair continues from the current weights, optimiser states and
    history; a changed ``config`` updates lr/betas/weight decay in place. With
    ``config.checkpoint_path`` the run is checkpointed and a call that finds the file resumes
    it — also in a new process with freshly built nets and samplers (see :class:`W2GNConfig`).

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

    Written atomically (a temporary file in the same folder, fsync, rename: a crash leaves the
    previous file intact) with a checksum verified by :func:`load_checkpoint`. The file loads
    with ``torch.load(path, weights_only=True)``.
    """
    state = trainer.state_dict()
    state["extra"] = extra
    _write_checkpoint(path, state)


def load_checkpoint(path, trainer: W2GNTrainer | None = None, D=None, D_conj=None,
                    map_location=None) -> W2GNTrainer:
    """Load a checkpoint written by :func:`save_checkpoint` (or by a checkpointed ``train``).

    Pass an existing ``trainer``, or the nets ``D``/``D_conj`` (built with the same
    architecture), or nothing: then DenseICNN/ConvICNN nets are rebuilt from the stored
    architecture. A checkpoint of another architecture raises ``ValueError`` naming the keys
    that differ.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: the file is empty, truncated, corrupted (checksum mismatch), not a
            checkpoint, or one of identity pretraining.
    """
    state = _read_checkpoint(path, map_location)
    if state.get("kind") == "pretrain":
        raise CheckpointError(f"{path} is an identity-pretraining checkpoint; pass it to pretrain_identity")
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
