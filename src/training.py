"""Pieces shared by W2GN training (:mod:`src.w2gn`) and identity pretraining (:mod:`src.pretrain`):
the settings of a run (:class:`W2GNConfig`, public as ``src.w2gn.W2GNConfig``), argument checks,
the optimisers, sampler checks, the L1 penalty, the non-finite guards, progress bars and the
evaluation of a trained map."""
from __future__ import annotations

import math
import numbers
import os
import sys
from dataclasses import asdict, dataclass, fields

import numpy as np

import torch
from tqdm.auto import tqdm

from .checkpoint import load_sampler_states, sampler_states

__all__ = ["NonFiniteLossError", "make_optimizer", "load_optimizer_state", "sample_checked", "L1", "scheduled_lr",
           "LR_SCHEDULES", "progress_bar", "W2GNConfig", "CYCLE_VARIANTS", "apply_map", "eval_mode"]

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
    """The architecture of ``net`` as plain data: its class name and ``config()``."""
    cfg = net.config() if hasattr(net, "config") else {}
    return {"class": type(net).__name__, **cfg}



def _interactive() -> bool:
    """A person is watching: stderr is a terminal, or the code runs in a Jupyter kernel."""
    if "ipykernel" in sys.modules:
        return True
    stream = sys.stderr
    return bool(stream is not None and hasattr(stream, "isatty") and stream.isatty())


def progress_bar(iterable=None, progress: bool | None = None, **kwargs):
    """A tqdm bar over ``iterable`` (``kwargs`` as tqdm's: ``total``, ``desc``, ``initial``, …).

    ``progress=True`` always draws it, ``False`` never; ``None`` (the default of the trainers)
    draws a live bar on a terminal or in a notebook and otherwise (a log file, CI) redraws it
    at most once a minute, so logs get a few lines instead of hundreds of redraws.
    """
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    if progress is None:
        progress = True
        if not _interactive():
            kwargs.setdefault("mininterval", 60.0)
    return tqdm(iterable, disable=not progress, **kwargs)


# ---------------------------------------------------------------------------- the settings of a W2GN run
CYCLE_VARIANTS = ("inverse", "both_sum", "both_mean")


@dataclass
class W2GNConfig:
    """Settings of one W2GN training run (validated on creation).

    Attributes:
        batch_size: samples of P and of Q per step.
        lr: Adam learning rate of both nets (the peak one with a schedule).
        lr_schedule: ``"constant"`` (the paper's) or ``"cosine"``: decay along half a cosine from
            ``lr`` to ``lr_end`` over the steps 0 … ``iterations`` (counted from the run's first
            step; see :func:`src.training.scheduled_lr`).
        warmup: steps of linear learning-rate warm-up at the start (0: none, the paper's).
        lr_end: the learning rate the cosine schedule ends at.
        betas: Adam betas of ψ_θ (``D``).
        conj_betas: Adam betas of ψ_ω (``D_conj``).
        weight_decay: Adam weight decay of both nets.
        lambda_cycle: λ, weight of the cycle regulariser.
        cycle: ``"inverse"``, ``"both_sum"`` or ``"both_mean"`` (see module docstring).
        l1: coefficient of the L1 penalty on all weights of both nets.
        iterations: the run's total length in optimiser steps: :meth:`W2GN.fit` brings the run
            to it (raise it and call ``fit`` again to train more steps).
        log_every: how often (steps) losses are recorded in the history and shown.
        seed: seeds the dropout masks (``torch.manual_seed``) at the first step; the
            samplers keep their own seeds. ``None`` leaves the global RNG alone.
        progress: the progress bar: ``None`` (default) on a terminal or in a notebook only (a
            line a minute otherwise), ``True`` always, ``False`` never.
        checkpoint_path: if set, :meth:`W2GN.fit` writes a checkpoint there every
            ``checkpoint_every`` steps and at the end (atomically, with a checksum), and a fresh
            ``W2GN`` whose ``fit`` finds the file resumes from it: weights, optimiser states,
            iteration, history and the global and samplers' random states, so the run ends
            exactly as an uninterrupted one (bit-identical on the same CPU setup). The file names
            one run: every setting but ``iterations``, ``progress`` and the checkpoint ones must
            match (else :class:`~src.checkpoint.CheckpointError`); a run already at
            ``iterations`` steps is loaded and not trained further.
        checkpoint_every: steps between checkpoints.
        distributed: train data-parallel on the ``torchrun`` processes (see :mod:`src.distributed`;
            an already initialised process group is used whatever this says): ``batch_size`` is
            the global batch, split over the ranks.
    """

    batch_size: int = 1024
    lr: float = 1e-3
    lr_schedule: str = "constant"
    warmup: int = 0
    lr_end: float = 0.0
    betas: tuple[float, float] = (0.8, 0.99)
    conj_betas: tuple[float, float] = (0.4, 0.4)
    weight_decay: float = 0.0
    lambda_cycle: float = 1.0
    cycle: str = "inverse"
    l1: float = 0.0
    iterations: int = 1000
    log_every: int = 50
    seed: int | None = 0
    progress: bool | None = None
    checkpoint_path: str | None = None
    checkpoint_every: int = 1000
    distributed: bool = False

    def __post_init__(self):
        for name in ("betas", "conj_betas"):
            b = tuple(getattr(self, name))
            if len(b) != 2 or not all(is_real(v) and 0 <= v < 1 for v in b):
                raise ValueError(f"{name} must be two numbers in [0, 1), got {b}")
            setattr(self, name, tuple(float(v) for v in b))
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.cycle not in CYCLE_VARIANTS:
            raise ValueError(f"cycle must be one of {CYCLE_VARIANTS}, got {self.cycle!r}")
        for name in ("lambda_cycle", "lr", "weight_decay", "l1", "lr_end"):
            value = getattr(self, name)
            if not (is_real(value) and (value > 0 if name == "lr" else value >= 0)):
                raise ValueError(f"{name} must be a finite number {'> 0' if name == 'lr' else '≥ 0'}, got {value!r}")
        for name in ("batch_size", "iterations", "log_every", "checkpoint_every", "warmup"):
            value = getattr(self, name)
            if not is_int(value) or value < (0 if name in ("iterations", "warmup") else 1):
                kind = "an integer ≥ 0" if name in ("iterations", "warmup") else "a positive integer"
                raise ValueError(f"{name} must be {kind}, got {value!r}")
            setattr(self, name, int(value))
        if not isinstance(self.distributed, bool):
            raise ValueError(f"distributed must be True or False, got {self.distributed!r}")
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True, False or None, got {self.progress!r}")
        if self.seed is not None and not is_int(self.seed):
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
        """From :meth:`to_dict`'s output; unknown keys (e.g. ``compile`` of older checkpoints) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# ---------------------------------------------------------------------------- evaluating a trained map
class eval_mode:
    """Nets in eval mode inside the block, their modes put back after."""

    def __init__(self, *nets):
        self.nets = nets

    def __enter__(self):
        self.modes = [net.training for net in self.nets]
        for net in self.nets:
            net.eval()

    def __exit__(self, *exc):
        for net, mode in zip(self.nets, self.modes):
            net.train(mode)


def _as_input(x, net) -> tuple[torch.Tensor, bool]:
    """``x`` as a tensor for ``net`` (a NumPy array is converted to the net's dtype and device)."""
    if isinstance(x, np.ndarray):
        p = next(net.parameters())
        return torch.as_tensor(x, dtype=p.dtype, device=p.device), True
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected a torch tensor or a NumPy array of samples, got {type(x).__name__}")
    return x, False


def apply_map(net, x, batch_size: int, grad: bool):
    if grad:
        return net.push(x)
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    t, from_numpy = _as_input(x, net)
    with eval_mode(net):
        out = net.push_nograd(t, int(batch_size))
    return out.cpu().numpy() if from_numpy else out


def estimate_samples(data, n: int, net) -> torch.Tensor:
    """Samples for an estimate: all rows of an array/tensor, or ``n`` draws of a sampler (whose
    random state is restored afterwards)."""
    if isinstance(data, (np.ndarray, torch.Tensor)):
        return _as_input(data, net)[0]
    if not is_int(n) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    saved = sampler_states({"s": data})
    try:
        return sample_checked(data, int(n), net, "estimate")
    finally:
        load_sampler_states({"s": data}, saved)


