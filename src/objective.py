"""The regularised-correlation objective of W2GN (:func:`w2gn_losses`; trained by
:class:`src.w2gn.W2GN`, which re-exports it).

This is the one definition of the algorithm; notebooks and baselines call it. While
:func:`src.fast.enabled`, two DenseICNNs on data batches run the same objective through the
fused kernels of :mod:`src.fast.objective` (tested equal to :func:`w2gn_losses` below).

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

import torch

from . import fast
from .fast import objective as fast_objective
from .training import CYCLE_VARIANTS, L1

__all__ = ["w2gn_losses", "CYCLE_VARIANTS"]


def _sq_mean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """mean((a − b)²) over all elements (one autograd node)."""
    return torch.nn.functional.mse_loss(a, b)


def _half_sq_norms(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """E‖x‖²/2 + E‖y‖²/2 over the batches (no gradient)."""
    with torch.no_grad():
        return 0.5 * ((X * X).flatten(1).sum(1).mean() + (Y * Y).flatten(1).sum(1).mean())


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
    if fast.enabled() and fast_objective.applies(D, D_conj, X, Y, cycle):
        return fast_objective.losses(D, D_conj, X, Y, lambda_cycle, cycle, l1, _half_sq_norms(X, Y))
    Y_inv = D_conj.push(Y)                     # ∇ψ_ω(Y), graph to ω (for the cycle term)
    Y_inv_d = Y_inv.detach()
    if cycle == "inverse":
        psi_x = D(X)
        cycle_x = None
    elif cycle in ("both_sum", "both_mean"):
        psi_x, X_fwd = D.value_and_push(X)     # ψ_θ(X) from the forward pass of the push
        cycle_x = _sq_mean(D_conj.push(X_fwd), X)
    else:  # a name added to CYCLE_VARIANTS without its definition here (see docs/extending.md)
        raise NotImplementedError(f"cycle variant {cycle!r} has no definition in src.w2gn.w2gn_losses")
    psi_yinv = D(Y_inv_d)                      # ψ_θ(∇ψ_ω(Y)) with ∇ψ_ω(Y) detached
    cycle_y = _sq_mean(D.push(Y_inv), Y)
    with torch.no_grad():
        inner = (Y_inv_d * Y).flatten(1).sum(1).mean()   # <∇ψ_ω(y), y>: constant for the gradient
    correlation = psi_x.mean() + inner - psi_yinv.mean()
    if cycle == "inverse":
        reg = cycle_y
    elif cycle == "both_sum":
        reg = cycle_x + cycle_y
    else:  # "both_mean"
        reg = (cycle_x + cycle_y) / 2
    loss = correlation + lambda_cycle * reg
    if l1:
        loss = loss + L1.apply(float(l1), *[p for net in (D, D_conj) for p in net.parameters()])
    out = {"loss": loss, "correlation": correlation.detach(), "w2": (_half_sq_norms(X, Y) - correlation).detach(),
           "cycle": reg.detach(), "cycle_y": cycle_y.detach()}
    if cycle_x is not None:
        out["cycle_x"] = cycle_x.detach()
    return out
