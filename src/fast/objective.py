"""The W2GN objective of two DenseICNNs on data batches as one autograd node (fast path).

``src.w2gn.w2gn_losses`` is the readable definition; :func:`applies` says when it runs this
instead, :func:`losses` returns the same dict. It implements the cycle variants of
:data:`src.fast.SUPPORTED_CYCLES` (:func:`cycle_form`) and nothing else: a new variant or term of
the objective runs the readable definition until it is written here too.
"""
from __future__ import annotations

import torch

from ..training import abs_sum, l1_grads
from . import SUPPORTED_CYCLES, dense, supports

__all__ = ["applies", "losses", "cycle_form"]


def applies(D, D_conj, X: torch.Tensor, Y: torch.Tensor, cycle: str | None = None) -> bool:
    """Whether :func:`losses` computes this objective: two potentials the kernels implement
    (:func:`src.fast.supports`; no forward hooks, which the readable objective would run), data
    batches (no input gradient) and, when given, a cycle variant of
    :data:`src.fast.SUPPORTED_CYCLES` (``cycle=None``: not checked here; :func:`losses` refuses
    a variant it does not implement)."""
    if cycle is not None and cycle not in SUPPORTED_CYCLES:
        return False
    return (supports(D) and supports(D_conj) and not (X.requires_grad or Y.requires_grad)
            and not any(net._forward_hooks or net._forward_pre_hooks for net in (D, D_conj)))


def cycle_form(cycle: str) -> tuple[bool, float]:
    """``(whether R has the x-side term, the factor of R)`` of a variant of
    :data:`src.fast.SUPPORTED_CYCLES`: R = factor·(mean((∇ψ_θ(∇ψ_ω(y)) − y)²) [+ mean((∇ψ_ω(∇ψ_θ(x)) − x)²)]).
    ``ValueError`` for any other name."""
    if cycle in SUPPORTED_CYCLES:
        if cycle == "inverse":
            return False, 1.0
        if cycle == "both_sum":
            return True, 1.0
        if cycle == "both_mean":
            return True, 0.5
    raise ValueError(f"the fused objective does not implement cycle variant {cycle!r} "
                     f"(src.fast.SUPPORTED_CYCLES = {SUPPORTED_CYCLES}); the readable w2gn_losses does")


def losses(D, D_conj, X, Y, lambda_cycle: float, cycle: str, l1: float, half_sq_norms) -> dict:
    """``w2gn_losses``'s dict from :class:`DenseObjective` (``half_sq_norms``: E‖x‖²/2 + E‖y‖²/2)."""
    cycle_form(cycle)  # a variant this file does not implement raises before any computation
    loss, correlation, reg, cycle_y, cycle_x = DenseObjective.apply(
        (D, D_conj, float(lambda_cycle), cycle, float(l1)), X, Y, *D.parameters(), *D_conj.parameters())
    out = {"loss": loss, "correlation": correlation, "w2": half_sq_norms - correlation,
           "cycle": reg, "cycle_y": cycle_y}
    if cycle_form(cycle)[0]:
        out["cycle_x"] = cycle_x
    return out


class DenseObjective(torch.autograd.Function):
    """The objective of :func:`src.w2gn.w2gn_losses` for two :class:`DenseICNN` on data batches, as one
    autograd node: the forward runs the kernel passes (:func:`src.fast.dense.run_pass`) and the
    loss; the backward chains their hand-written backward passes by hand (the loss's derivatives
    are a few closed-form terms) and adds the L1 term's, with no graph of small operations in
    between.

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
        both, factor = cycle_form(cycle)
        pD, pC = dense.params(D), dense.params(C)
        n, m = X.shape[0], Y.shape[0]
        _, Y_inv, r1 = dense.run_pass(C, Y, pC, need_value=False)
        if not both:
            psi_x, _, r2x = dense.run_pass(D, X, pD, need_push=False)
            psi_yinv, Y_cyc, r2 = dense.run_pass(D, Y_inv, pD, value_input_grad=False)
            records, X_cyc = (r1, r2, r2x), None
        else:
            value, push, r2 = dense.run_pass(D, torch.cat([X, Y_inv]), pD, value_input_grad=False, const_rows=n)
            psi_x, psi_yinv, X_fwd, Y_cyc = value[:n], value[n:], push[:n], push[n:]
            _, X_cyc, r3 = dense.run_pass(C, X_fwd, pC, need_value=False)
            records = (r1, r2, r3)
        inner = (Y_inv * Y).flatten(1).sum(1).mean()  # <∇ψ_ω(y), y>: constant for the gradient
        correlation = psi_x.mean() + inner - psi_yinv.mean()
        res_y, res_x = Y_cyc - Y, None if X_cyc is None else X_cyc - X  # kept for the backward pass
        cycle_y = res_y.square().mean()
        cycle_x = torch.full_like(cycle_y, float("nan")) if res_x is None else res_x.square().mean()
        reg = cycle_y if X_cyc is None else cycle_x + cycle_y
        if factor != 1.0:
            reg = reg * factor
        loss = correlation + lam * reg
        if l1:
            # over [F, w, b, V…] of both nets, which hold every parameter's elements exactly once
            loss = loss + l1 * abs_sum([*pD, *pC])
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
        both, factor = cycle_form(cycle)
        lam_eff = lam * factor
        Gp_y = res_y * (g * (2.0 * lam_eff / res_y.numel()))
        gv_x, gv_y = (g / n).expand(n, 1), (-g / m).expand(m, 1)
        if not both:
            r1, r2, r2x = ctx.records
            dY_inv, gD = dense.pass_backward(D, r2, gv_y, Gp_y, needs_dx=True)
            torch._foreach_add_(gD, dense.pass_backward(D, r2x, gv_x, None, needs_dx=False)[1])
            gC = dense.pass_backward(C, r1, None, dY_inv, needs_dx=False)[1]
        else:
            r1, r2, r3 = ctx.records
            dX_fwd, gC = dense.pass_backward(C, r3, None, res_x * (g * (2.0 * lam_eff / res_x.numel())), needs_dx=True)
            dY_inv, gD = dense.pass_backward(D, r2, torch.cat([gv_x, gv_y]), torch.cat([dX_fwd, Gp_y]), needs_dx=True)
            torch._foreach_add_(gC, dense.pass_backward(C, r1, None, dY_inv, needs_dx=False)[1])
        if l1:
            for grads, fused in ((gD, pD), (gC, pC)):
                torch._foreach_add_(grads, l1_grads(fused, g * l1))
        ctx.records = ctx.residuals = ctx.fused = None
        return (None, None, None, *dense.param_grads(D, gD), *dense.param_grads(C, gC))
