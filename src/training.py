"""Pieces shared by W2GN training (:mod:`src.w2gn`) and identity pretraining (:mod:`src.pretrain`):
argument checks, the optimisers, sampler checks, the L1 penalty and the non-finite guards."""
from __future__ import annotations

import math
import numbers

import torch

__all__ = ["NonFiniteLossError", "make_optimizer", "load_optimizer_state", "sample_checked", "L1", "scheduled_lr",
           "LR_SCHEDULES"]

LR_SCHEDULES = ("constant", "cosine")


class NonFiniteLossError(RuntimeError):
    """Raised when a training loss or the weights become NaN/inf; the message says which, and the
    nets hold finite weights (those of the last finite step, restored when an update broke them)."""


def is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def scheduled_lr(lr: float, step: int, total: int, schedule: str = "constant", warmup: int = 0,
                 lr_end: float = 0.0) -> float:
    """Learning rate of the optimiser step ``step`` (0-based) of a run of ``total`` steps: a linear
    warm-up from ``lr / warmup`` to ``lr`` over the first ``warmup`` steps, then ``lr`` held
    (``"constant"``) or decayed along half a cosine to ``lr_end`` at step ``total``
    (``"cosine"``); steps past ``total`` keep the last value."""
    if warmup > 0 and step < warmup:
        return lr * (step + 1) / warmup
    if schedule == "constant":
        return lr
    if schedule != "cosine":
        raise ValueError(f"lr schedule must be one of {LR_SCHEDULES}, got {schedule!r}")
    progress = min(max((step - warmup) / max(total - warmup, 1), 0.0), 1.0)
    return lr_end + (lr - lr_end) * 0.5 * (1.0 + math.cos(math.pi * progress))


def abs_sum(tensors) -> torch.Tensor:
    """Σ_t Σ|t| (per-tensor sums; faster than ``torch._foreach_norm(…, 1)`` on CPU)."""
    return torch.stack([t.abs().sum() for t in tensors]).sum()


class L1(torch.autograd.Function):
    """``l1 · Σ_p Σ|p|`` over many tensors as one autograd node (gradient ``l1 · sign(p)``)."""

    @staticmethod
    def forward(ctx, l1, *params):
        ctx.l1 = l1
        ctx.save_for_backward(*params)
        return abs_sum(params) * l1

    @staticmethod
    def backward(ctx, grad):
        return (None, *l1_grads(ctx.saved_tensors, grad * ctx.l1))


def l1_grads(params, coef) -> list:
    """∂(coef·Σ|p|)/∂p = coef·sign(p) for each tensor."""
    signs = torch._foreach_sign(params)
    torch._foreach_mul_(signs, coef)
    return signs


def make_optimizer(net, lr, betas, weight_decay, kind: str = "adam"):
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


def implementation(opt) -> dict:
    """The ``fused`` / ``foreach`` flags an optimiser was built with (kept across ``load_state_dict``)."""
    g = opt.param_groups[0]
    return {"fused": g.get("fused"), "foreach": g.get("foreach")}


def load_optimizer_state(opt, saved: dict) -> None:
    """``opt.load_state_dict(saved)``, keeping the ``fused`` / ``foreach`` flags ``opt`` was built with."""
    impl = implementation(opt)
    opt.load_state_dict(saved)
    for group in opt.param_groups:
        group.update(impl)


def sample_checked(sampler, n: int, net, role: str) -> torch.Tensor:
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


def check_finite_weights(nets, where: str) -> None:
    for net in nets:
        if not all(torch.isfinite(p).all() for p in net.parameters()):
            raise NonFiniteLossError(f"{where}: the weights of {type(net).__name__} are not finite; "
                                     "lower the learning rate")


def arch(net) -> dict:
    cfg = net.config() if hasattr(net, "config") else {}
    return {"class": type(net).__name__, **cfg}
