"""The closed-form value-and-gradient kernels of :class:`src.icnn.DenseICNN` (fast path).

:func:`forward` computes ψ(x) and ∇ψ(x) of a DenseICNN from its fused parameters in one pass
(the formulas are in :class:`DenseValuePush`), :func:`backward` differentiates both outputs by
hand, so a loss on ∇ψ costs one backward pass instead of double back-propagation. The readable
definition they are tested against is ``DenseICNN._run``.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import torch

from ..layers import Activation, get_activation
from . import SUPPORTED_ACTIVATIONS
from .gemm import addmm as _mm_acc, mm as _mm


class PassOptions(NamedTuple):
    """What one kernel pass computes, for one net.

    Attributes:
        hidden: hidden layer sizes; rank, activation, strong_convexity: as the net's.
        value_input_grad: whether the gradient of ψ(x) flows into ``x`` (``False``: as if ψ were
            evaluated at ``x.detach()``, while ∇ψ(x) stays differentiable in ``x``).
        need_push: ``False``: ψ only (no final product for ∇ψ).
        const_rows: the first ``const_rows`` rows of ``x`` are constants (no input gradient).
        need_value: ``False``: ∇ψ only.
        celu_alpha: the net's CELU α.
    """

    hidden: tuple
    rank: int
    activation: str
    strong_convexity: float
    value_input_grad: bool = True
    need_push: bool = True
    const_rows: int = 0
    need_value: bool = True
    celu_alpha: float = 1.0


def kernel_forms(name: str) -> Activation:
    """The activation ``name`` of :data:`src.layers.ACTIVATIONS` for the kernels: ``ValueError``
    unless it is in :data:`src.fast.SUPPORTED_ACTIVATIONS` and has its kernel forms."""
    act = get_activation(name)
    if name not in SUPPORTED_ACTIVATIONS or act.value_and_grad_ is None or act.grad2_from_grad is None:
        raise ValueError(f"activation {name!r} is not implemented by the fast kernels "
                         f"(src.fast.SUPPORTED_ACTIVATIONS = {SUPPORTED_ACTIVATIONS})")
    return act


def _mul_into(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, value: float = 1.0) -> None:
    """``out[...] = value·a·b`` (``out`` a strided view, possibly ``a`` itself) in one pass without
    temporaries (``addcmul`` onto a zero scalar)."""
    torch.addcmul(_zero(a.dtype, a.device), a, b, value=value, out=out)


@functools.lru_cache(maxsize=None)
def _zero(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A shared 0-dim zero (a read-only operand)."""
    return torch.zeros((), dtype=dtype, device=device)


class Params(list):
    """:func:`src.fast.dense.params`: a list that can also carry its dropout-scaled version."""

    scaled = None


class DenseValuePush(torch.autograd.Function):
    """ψ(x) and ∇ψ(x) of a :class:`DenseICNN` with a hand-written backward pass.

    Inputs: ``opt`` (:class:`PassOptions`), ``masks`` (``None`` or ``(mq, [None, mc_2, …, mc_L])``, :class:`~src.fast.dropout.Drop` masks of
    the quadratic outputs of all layers ``[N, T]`` and of the convex products), ``x [N, D]``,
    ``F [D, (r+1)·T]`` (fused weights, T = Σ h_k, see :func:`src.fast.dense.params`), ``w [1, h_L]``,
    ``b [T]`` (all biases), convex weights ``V_k [h_k, h_{k−1}]``. With a leading dimension on every
    tensor (``x [B, N, D]``, ``F [B, D, K]``, ``w [B, 1, h_L]``, ``b [B, 1, T]``,
    ``V_k [B, h_k, h_{k−1}]``) it evaluates B nets of the same architecture at once.

    ``H = x F = [S_1 … S_r | L]``: ``S_j``, ``L`` are ``[N, T]`` with layer k in columns
    ``o_k … o_k + h_k``, so every operation that does not go through the layer recursion is made
    once for all layers. Forward (q_k, S_jk, L_k are layer k's columns)::

        q = (Σ_j S_j² + L + b)·mq;  z_1 = q_1;  P_k = (z_{k−1} V_kᵀ)·mc_k + q_k;
        z_k = σ(P_k);  ψ = z_L wᵀ + ½·sc·‖x‖²

    and ∇ψ = C Fᵀ + sc·x with ``C = ∂ψ/∂H = [2 S_j·GQ | GQ]``, ``GQ = (U_1 … U_L)·mq`` from the
    transposed recursion ``G_L = w;  U_k = G_k·σ'(P_k);  G_{k−1} = (U_k·mc_k) V_k``.
    The backward pass differentiates both outputs by hand (reverse of the transposed recursion,
    then of the forward chain); the value's gradient reuses ``C``, ``U_k`` and ``∂ψ/∂x = ∇ψ``.
    Differentiable once.
    """

    @staticmethod
    def forward(ctx, opt, masks, x, Fw, w, b, *V):
        value, push, saved = forward(opt, masks, x, Fw, w, b, *V)
        ctx.opt, ctx.masks = opt, masks
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*saved)
        if opt.need_push and opt.need_value:
            return value, push
        return push if opt.need_push else value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        opt = ctx.opt
        Gv = grads[0] if opt.need_value else None
        Gp = grads[-1] if opt.need_push else None
        dx, *grads = backward(opt, ctx.masks, ctx.needs_input_grad[2], ctx.saved_tensors, Gv, Gp)
        c0 = opt.const_rows
        if dx is not None and c0:  # the constant rows' input gradient is zero
            dx = torch.cat([dx.new_zeros(*dx.shape[:-2], c0, dx.shape[-1]), dx], dim=-2)
        return (None, None, dx, *grads)


def blocks(hidden) -> list[tuple[int, int]]:
    """Column ranges ``(o_k, o_k + h_k)`` of the layers in a ``[…, T]`` block."""
    out, o = [], 0
    for h in hidden:
        out.append((o, o + h))
        o += h
    return out


def forward(opt: PassOptions, masks, x, Fw, w, b, *V):
    """Forward of :class:`DenseValuePush`: ``(ψ or None, ∇ψ or None, tensors saved for backward)``."""
    hidden, r, act, sc, value_input_grad, need_push = opt[:6]
    forms = kernel_forms(act)
    L, T = len(hidden), sum(hidden)
    blk = blocks(hidden)
    lead, n = x.shape[:-2], x.shape[-2]
    H = _mm(x, Fw)
    S = H[..., :r * T].view(*lead, n, r, T)
    # q in place of H's linear block (only the S-blocks of H are needed again)
    q = H[..., r * T:].add_(b)
    for j in range(r):
        q.addcmul_(S[..., j, :], S[..., j, :])
    if masks is not None:
        masks[0].mul_(q)
    zs, d1s = [q[..., :blk[0][1]]], [None] * L
    direct = not lead  # products written into strided blocks (out=): 2-D
    for k in range(1, L):
        qk = q[..., blk[k][0]:blk[k][1]]
        if direct and masks is None:  # P = q_k + z Vᵀ by one GEMM with the addition fused (in q_k's place on torch.mm)
            P = _mm_acc(qk, zs[-1], V[k - 1].mT, reuse=True)
        else:
            P = _mm(zs[-1], V[k - 1].mT)
            if masks is not None:
                masks[1][k].mul_(P)
            P.add_(qk)
        z, d1s[k] = forms.value_and_grad_(P, opt.celu_alpha)  # z in P's place (P is not kept)
        zs.append(z)
    value = None
    if opt.need_value:
        value = _mm_acc((x * x).sum(dim=-1, keepdim=True), zs[-1], w.mT, beta=0.5 * sc) if sc else _mm(zs[-1], w.mT)
    # transposed recursion: GQ = ∂ψ/∂q into the L-columns of C, then the S-columns for all layers
    C = torch.empty_like(H)
    CL = C[..., r * T:]
    G = w.expand(*lead, n, w.shape[-1])
    Gs, Us = [None] * L, [None] * L
    for k in range(L - 1, -1, -1):
        Gs[k] = G
        CLk = CL[..., blk[k][0]:blk[k][1]]
        if k == 0:
            if not (direct and L > 1):  # else G is already there (written by the product below)
                CLk.copy_(G)
        elif masks is None:  # no dropout: U is C's column block, written there directly
            U = torch.mul(G, d1s[k], out=CLk)
        else:
            U = G * d1s[k]
            CLk.copy_(U)
            U = masks[1][k].mul_(U)  # U itself is not needed again
        if k > 0:
            if k == 1 and direct:  # layer 1's G straight into its column block of C
                G = _mm(U, V[0], out=CL[..., blk[0][0]:blk[0][1]])
            else:
                G = _mm(U, V[k - 1])
            Us[k] = U
        else:
            Us[k] = G
    if masks is not None:
        masks[0].mul_(CL)
    _mul_into(C[..., :r * T].view(*lead, n, r, T), S, CL.unsqueeze(-2), value=2.0)
    push = None
    if need_push:
        push = _mm_acc(x, C, Fw.mT, beta=sc) if sc else _mm(C, Fw.mT)
    saved = (x, Fw, w, H, C, push if need_push else H, *V, *zs, *Gs, *Us, *d1s[1:])
    return value, push, saved


def backward(opt: PassOptions, masks, needs_dx, saved, Gv, Gp):
    """Backward of :class:`DenseValuePush`: gradients of ``(x, F, w, b, V_2…)``; that of ``x`` only
    for its rows from ``const_rows`` on (``None`` unless ``needs_dx``)."""
    hidden, r, act, sc, value_input_grad, need_push = opt[:6]
    forms = kernel_forms(act)
    L, T = len(hidden), sum(hidden)
    blk = blocks(hidden)
    x, Fw, w, H, C, push = saved[:6]
    i = 6
    V = saved[i:i + L - 1]; i += L - 1
    zs = saved[i:i + L]; i += L
    Gs = saved[i:i + L]; i += L
    Us = saved[i:i + L]; i += L
    d1s = (None,) + saved[i:i + L - 1]
    lead, n = x.shape[:-2], x.shape[-2]
    S = H[..., :r * T].view(*lead, n, r, T)
    CL = C[..., r * T:]
    direct = not lead  # products written into strided blocks (out=): 2-D
    dV = [None] * (L - 1)
    if Gp is not None:
        # dC = ∂L/∂C, and in its buffer, step by step: Ū (L-block), then H̄ = [H̄_S | q̄] (= ∂L/∂H)
        dC = _mm(Gp, Fw)
        dCS = dC[..., :r * T].view(*lead, n, r, T)
        Ubar_all = dC[..., r * T:]
        for j in range(r):  # Ū = dC_L + 2 Σ_j S_j·dC_Sj (all layers)
            Ubar_all.addcmul_(S[..., j, :], dCS[..., j, :], value=2.0)
        # H̄_S = 2·dC_S·GQ (+ 2·S·q̄ below), in place of dC_S
        _mul_into(dCS, dCS, CL.unsqueeze(-2), value=2.0)
        if masks is not None:
            masks[0].mul_(Ubar_all)
        # reverse of the transposed recursion, k = 1 … L: P̄_k in place of Ū_k
        Gbar = None
        for k in range(L):
            Ubar = Ubar_all[..., blk[k][0]:blk[k][1]]
            if k > 0:
                if direct and masks is None:  # Ū_k += Ḡ V_kᵀ in place (one GEMM, no add)
                    _mm_acc(Ubar, Gbar, V[k - 1].mT, out=Ubar)
                else:
                    t = _mm(Gbar, V[k - 1].mT)
                    if masks is not None:
                        masks[1][k].mul_(t)
                    Ubar.add_(t)
                dV[k - 1] = _mm(Us[k].mT, Gbar)
                d1 = d1s[k]
                Gbar = Ubar * d1
                Ubar.mul_(Gs[k]).mul_(forms.grad2_from_grad(d1, opt.celu_alpha))  # σ''(P) from σ'(P)
            else:
                Gbar = Ubar
        dw = Gbar.sum(dim=-2, keepdim=True)
        # reverse of the forward chain, k = L … 1: q̄_k (= P̄_k + z̄_k·σ'(P_k)) in the L-columns
        HL = Ubar_all
        zbar = None
        for k in range(L - 1, 0, -1):
            Pt = HL[..., blk[k][0]:blk[k][1]]
            if zbar is not None:
                Pt.addcmul_(zbar, d1s[k])
            cbar = masks[1][k].mul(Pt) if masks is not None else Pt
            cv = cbar if Gv is None else cbar + Gv * Us[k]
            dV[k - 1] = _mm_acc(dV[k - 1], cv.mT, zs[k - 1], reuse=True)
            if k == 1 and direct:  # z̄_1 straight into its column block
                zbar = _mm(cbar, V[0], out=HL[..., blk[0][0]:blk[0][1]])
            else:
                zbar = _mm(cbar, V[k - 1])
        if zbar is not None:
            if not direct:
                HL[..., blk[0][0]:blk[0][1]].copy_(zbar)
        else:  # a single hidden layer: no forward-chain adjoint
            HL.zero_()
        if masks is not None:
            masks[0].mul_(HL)
        dCS.addcmul_(S, HL.unsqueeze(-2), value=2.0)
        Hbar = dC
        # biases: Σ_n of q̄ (push part) + Gv·∂ψ/∂q (value part), summed row by row (the two parts
        # nearly cancel for some biases: summing each part apart first loses float32 digits)
        db = (HL if Gv is None else torch.addcmul(HL, Gv, CL)).sum(dim=-2, keepdim=True)
    else:
        Hbar = None
        dw = torch.zeros_like(w)
        for k in range(1, L):
            dV[k - 1] = _mm((Gv * Us[k]).mT, zs[k - 1]) if Gv is not None else torch.zeros_like(V[k - 1])
        db = (Gv * CL).sum(dim=-2) if Gv is not None else torch.zeros(CL.shape[-1], dtype=CL.dtype, device=CL.device)
    if Gv is not None:
        dw = dw + (Gv * zs[-1]).sum(dim=-2, keepdim=True)
    db = db.reshape(_bias_shape(lead, T))
    dx = None
    if needs_dx:
        # rows before ``const_rows`` are constants (data): their input gradient is not computed
        c0 = opt.const_rows
        if Gp is not None:
            dx = _mm_acc(Gp[..., c0:, :], Hbar[..., c0:, :], Fw.mT, beta=sc) if sc else _mm(Hbar[..., c0:, :], Fw.mT)
        else:
            dx = torch.zeros_like(x[..., c0:, :])
        if Gv is not None and value_input_grad:
            if not need_push:  # ∂ψ/∂x = ∇ψ(x), not computed in the forward pass
                push = _mm_acc(x, C, Fw.mT, beta=sc) if sc else _mm(C, Fw.mT)
            dx.addcmul_(Gv[..., c0:, :], push[..., c0:, :])
    # fused weights: xᵀ·H̄ (push part; while H̄ is in cache) + (Gp + Gv·x)ᵀ·C (push output and value)
    side = Gp if Gv is None else (Gv * x if Gp is None else Gp + Gv * x)
    if Gp is not None:
        dF = _mm_acc(_mm(x.mT, Hbar), side.mT, C, reuse=True)
    else:
        dF = _mm(side.mT, C) if side is not None else torch.zeros_like(Fw)
    return (dx, dF, dw, db, *dV)


def _bias_shape(lead, T) -> tuple:
    """Shape of the bias argument: ``[T]``, or ``[B, 1, T]`` for batched nets."""
    return (*lead, 1, T) if lead else (T,)

