"""Identity pretraining of an ICNN: ∇ψ(x) ≈ x before W2GN training (``src.w2gn.pretrain_identity``)."""
from __future__ import annotations

import math
import os

from tqdm.auto import tqdm

from .checkpoint import (CheckpointError, check_same_run, global_rng_state, load_sampler_states, read_checkpoint,
                         sampler_states, set_global_rng_state, write_checkpoint)
from .training import (L1, NonFiniteLossError, arch, check_finite_weights, is_int, is_real, load_optimizer_state,
                       make_optimizer, sample_checked)

__all__ = ["pretrain_identity"]


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
    opt = make_optimizer(D, lr, tuple(betas), weight_decay, optimizer)
    D.train()
    D.convexify()
    settings = {"iterations": int(iterations), "lr": float(lr), "betas": [float(b) for b in betas],
                "blow": float(blow), "tol": float(tol), "batch_size": int(batch_size), "optimizer": optimizer,
                "weight_decay": float(weight_decay), "l1": float(l1), "reduction": reduction, "arch": arch(D)}
    start, loss_value, done = 0, float("nan"), False
    if checkpoint_path is not None and os.path.exists(checkpoint_path):
        state = read_checkpoint(checkpoint_path)
        if state.get("kind") != "pretrain":
            raise CheckpointError(f"{checkpoint_path} is a {state.get('kind', 'training')!r} checkpoint, "
                                  "not one of identity pretraining")
        check_same_run(checkpoint_path, state["settings"], settings, "pretraining")
        D.load_state_dict(state["D"])
        load_optimizer_state(opt, state["opt"])
        load_sampler_states({"X": sampler}, state["samplers"])
        set_global_rng_state(state["rng"])
        start, loss_value, done = int(state["iteration"]), float(state["loss"]), bool(state["done"])

    def save(it: int, finished: bool) -> None:
        if checkpoint_path is not None:
            check_finite_weights([D], f"identity pretraining, iteration {it}")
            write_checkpoint(checkpoint_path, {
                "kind": "pretrain", "settings": settings, "D": D.state_dict(), "opt": opt.state_dict(),
                "iteration": it, "loss": loss_value, "done": finished,
                "samplers": sampler_states({"X": sampler}), "rng": global_rng_state()})

    it = start
    bar = tqdm(range(start, iterations if not done else start), desc="identity pretraining",
               disable=not progress, leave=False, initial=start, total=iterations)
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
            bar.set_postfix(loss=f"{loss_value:.2e}")
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
