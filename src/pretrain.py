"""Identity pretraining of an ICNN, ∇ψ(x) ≈ x, and the pair of potentials every W2GN run starts from.

* :func:`pretrain_identity` trains one net to the identity map;
* :func:`pretrained_pair` builds, initialises and pretrains ψ_θ and copies it into ψ_ω (any ICNN
  class, through a ``build`` callable);
* :func:`make_pair` does the same for two :class:`~src.icnn.DenseICNN` in one call.

All three are importable from :mod:`src.w2gn` too.
"""
from __future__ import annotations

import contextlib
import math
import os
from typing import Callable

import torch

from .checkpoint import (CheckpointError, RunLock, check_same_run, digest, global_rng_state, load_sampler_states, read_checkpoint,
                         sampler_states, set_global_rng_state, write_checkpoint)
from . import distributed
from .distributions import as_sampler, StandardNormalSampler
from .icnn import DenseICNN, init_normal_
from .training import (L1, NonFiniteLossError, arch, check_finite_weights, is_int, is_real, load_optimizer_state,
                       make_optimizer, progress_bar, sample_checked)

__all__ = ["pretrain_identity", "pretrained_net", "pretrained_pair", "make_pair"]


def pretrain_identity(D, sampler, iterations: int = 10000, lr: float = 1e-3, betas=(0.8, 0.9),
                      blow: float = 3.0, tol: float = 3e-5, batch_size: int = 256,
                      optimizer: str = "adam", progress: bool | None = None, weight_decay: float = 0.0,
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
        sampler: the inputs: a sampler (``sample(n)``), or a tensor / NumPy array ``[n, *shape]``
            of samples (rows drawn at random, with a generator seeded 0).
        progress: the bar (see :func:`src.training.progress_bar`: ``None`` draws it where a
            person watches).
        checkpoint_path: if set, a checkpoint is written there every ``checkpoint_every`` steps
            and at the end; a call that finds the file resumes from it (weights, optimiser,
            step, global and sampler random states) and ends with the weights of an
            uninterrupted run; a finished one is just loaded. The file must come from the same
            run: the same settings, architecture, starting weights and sampler (else
            :class:`~src.checkpoint.CheckpointError`), and one process at a time
            (:class:`~src.checkpoint.RunLock`).

    Returns:
        the last identity loss (without the L1 term).
    """
    if not is_int(iterations) or iterations < 0:
        raise ValueError(f"iterations must be an integer ≥ 0, got {iterations!r}")
    if not is_int(batch_size) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not is_int(checkpoint_every) or checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be a positive integer, got {checkpoint_every!r}")
    if not (is_real(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    if not (is_real(weight_decay) and weight_decay >= 0 and is_real(l1) and l1 >= 0):
        raise ValueError(f"weight_decay and l1 must be finite numbers ≥ 0, got {weight_decay!r}, {l1!r}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    # one writer per checkpoint file; under torch.distributed every rank pretrains alike, rank 0 writes
    writer = checkpoint_path is not None and distributed.rank() == 0
    lock = RunLock(checkpoint_path) if writer else contextlib.nullcontext()
    with lock:  # one writer per checkpoint file
        return _pretrain(D, sampler, iterations, lr, betas, blow, tol, batch_size, optimizer, progress,
                         weight_decay, l1, reduction, checkpoint_path, checkpoint_every)


def _pretrain(D, sampler, iterations, lr, betas, blow, tol, batch_size, optimizer, progress, weight_decay, l1,
              reduction, checkpoint_path, checkpoint_every) -> float:
    sampler = as_sampler(sampler, D, seed=0, name="sampler")
    opt = make_optimizer(D, lr, tuple(betas), weight_decay, optimizer)
    D.train()
    D.convexify()
    settings = {"init": digest(D.state_dict()), "iterations": int(iterations), "lr": float(lr), "betas": [float(b) for b in betas],
                "blow": float(blow), "tol": float(tol), "batch_size": int(batch_size), "optimizer": optimizer,
                "weight_decay": float(weight_decay), "l1": float(l1), "reduction": reduction, "arch": arch(D)}
    start, loss_value, done = 0, float("nan"), False
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        state = read_checkpoint(checkpoint_path)
        if state.get("kind") != "pretrain":
            raise CheckpointError(f"{checkpoint_path} is a {state.get('kind', 'training')!r} checkpoint, "
                                  "not one of identity pretraining")
        # the weights it started from (seed and scale of the initialisation); older files lack them
        now = {k: v for k, v in settings.items() if k != "init" or "init" in state["settings"]}
        check_same_run(checkpoint_path, state["settings"], now, "pretraining")
        D.load_state_dict(state["D"])
        load_optimizer_state(opt, state["opt"])
        load_sampler_states({"X": sampler}, state["samplers"])
        set_global_rng_state(state["rng"])
        start, loss_value, done = int(state["iteration"]), float(state["loss"]), bool(state["done"])

    def save(it: int, finished: bool) -> None:
        if checkpoint_path is not None:
            check_finite_weights([D], f"identity pretraining, iteration {it}")
            if distributed.rank() != 0:
                return
            write_checkpoint(checkpoint_path, {
                "kind": "pretrain", "settings": settings, "D": D.state_dict(), "opt": opt.state_dict(),
                "iteration": it, "loss": loss_value, "done": finished,
                "samplers": sampler_states({"X": sampler}), "rng": global_rng_state()})

    it = start
    bar = progress_bar(range(start, iterations if not done else start), progress, desc="identity pretraining",
                       leave=False, initial=start, total=iterations)
    for it in bar:
        X = sample_checked(sampler, batch_size, D, "pretraining") * blow
        sq = (D.push(X) - X) ** 2
        loss = sq.mean() if reduction == "mean" else sq.flatten(1).sum(1).mean()
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise NonFiniteLossError(f"identity pretraining: loss is {loss_value} at iteration {it}; "
                                     "lower the learning rate or the initialisation scale")
        if l1:
            loss = loss + L1.apply(float(l1), *D.parameters())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        D.convexify()
        if it % 50 == 0:
            bar.set_postfix(loss=f"{loss_value:.2e}", refresh=False)
        if loss_value < tol:
            done = True
            save(it + 1, True)
            break
        if (it + 1) % checkpoint_every == 0 and it + 1 < iterations:
            save(it + 1, False)
    else:
        if not done:
            check_finite_weights([D], f"identity pretraining, iteration {iterations}")
            save(max(iterations, start), True)
    return loss_value


def pretrained_net(build: Callable[[], torch.nn.Module], X, init_scale: float = 0.1, seed: int = 0,
                   pretrain: dict | None = None, device=None, checkpoint_path=None, progress: bool | None = None):
    """``build()`` with every weight drawn N(0, 1)·``init_scale`` (from a generator seeded with
    ``seed``, the global RNG untouched), moved to ``device`` and pretrained to the identity map
    on ``X`` (a sampler, tensor or array of samples; see :func:`pretrain_identity`, whose keyword
    arguments ``pretrain`` holds).

    Returns:
        ``(net, last pretraining loss)``.
    """
    net = build()
    init_normal_(net, init_scale, generator=torch.Generator().manual_seed(int(seed)))
    net = net.to(device)
    loss = pretrain_identity(net, X, checkpoint_path=checkpoint_path, progress=progress, **(pretrain or {}))
    return net, loss


def pretrained_pair(build: Callable[[], torch.nn.Module], X, init_scale: float = 0.1, seed: int = 0,
                    pretrain: dict | None = None, device=None, checkpoint_path=None, progress: bool | None = None):
    """ψ_θ as :func:`pretrained_net` makes it and ψ_ω a second ``build()`` holding a copy of its
    weights: the start of a W2GN run (build → init → identity pretraining → copy).

    Returns:
        ``(D, D_conj, last pretraining loss)``.
    """
    D, loss = pretrained_net(build, X, init_scale, seed, pretrain, device, checkpoint_path, progress)
    D_conj = build().to(device)
    D_conj.load_state_dict(D.state_dict())
    return D, D_conj, loss


def make_pair(in_dim: int, hidden_layer_sizes=(64, 64), X=None, *, rank: int = 1, activation: str = "celu",
              dropout: float = 0.0, strong_convexity: float = 1e-6, celu_alpha: float = 1.0,
              init_scale: float = 0.1, seed: int = 0, pretrain: dict | None = None, device=None,
              dtype: torch.dtype = torch.float32, checkpoint_path=None, progress: bool | None = None):
    """Two :class:`~src.icnn.DenseICNN` potentials ready for :class:`src.w2gn.W2GN`: ψ_θ (``D``)
    initialised and pretrained to the identity map (∇ψ_θ(x) ≈ x) on ``X``, ψ_ω (``D_conj``) a copy.

    Args:
        in_dim, hidden_layer_sizes, rank, activation, dropout, strong_convexity, celu_alpha: the
            nets' architecture (:class:`~src.icnn.DenseICNN`).
        X: where the identity must hold: the samples of P (a sampler, tensor or array
            ``[n, in_dim]``); default a standard normal.
        init_scale, seed: every weight drawn N(0, 1)·``init_scale`` from a generator seeded ``seed``.
        pretrain: keyword arguments of :func:`pretrain_identity` (default: its own, which stop
            early once the identity loss is below ``tol``).
        device, dtype: of the nets (and of samples given as arrays).

    Returns:
        ``(D, D_conj)``.
    """
    if X is None:
        X = StandardNormalSampler(in_dim, device=device, dtype=dtype, seed=seed)

    def build():
        return DenseICNN(in_dim, hidden_layer_sizes, rank=rank, activation=activation, dropout=dropout,
                         strong_convexity=strong_convexity, celu_alpha=celu_alpha).to(dtype)

    D, D_conj, _ = pretrained_pair(build, X, init_scale, seed, pretrain, device, checkpoint_path, progress)
    return D, D_conj
