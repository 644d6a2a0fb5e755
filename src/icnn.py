"""Input convex neural networks (ICNNs) and their gradient maps.

In W2GN the forward optimal map is ``∇ψ_θ`` and the inverse map is ``∇ψ_ω``; the reference
implementation calls the nets ``D`` (ψ_θ) and ``D_conj`` (ψ_ω). Every net here exposes

* ``forward(x)`` -> ψ(x): ``[N, 1]`` for ``DenseICNN``, ``[N]`` for ``ConvICNN`` /
  ``ConvICNN128`` (as the reference returns them);
* ``push(x)`` -> ∇ψ(x), same shape as ``x``, differentiable w.r.t. the weights (and ``x``)
  whenever grad mode is on, whether or not ``x.requires_grad``;
* ``value_and_push(x)`` -> both from one forward pass;
* ``push_nograd(x, batch_size)`` -> ∇ψ(x) without a graph, in batches, for large inputs;
* ``convexify()`` -> clamps to ≥ 0 the weights that must be non-negative.

``DenseICNN`` computes ∇ψ in closed form (a hand-written backward pass through the net), so a
loss on ``push`` costs one ordinary backward pass instead of double back-propagation. The
forward/backward of that pass are plain functions (``_vp_forward`` / ``_vp_backward``); setting
``net.compile = True`` (what ``W2GNConfig(compile=True)`` does) runs them ``torch.compile``-d,
falling back to eager with one warning if compilation fails. Their matrix products go through
:mod:`src.gemm` (oneDNN for large float32 CPU products, where it is faster than torch.mm's MKL).
"""
from __future__ import annotations

import functools
import math
import warnings
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .gemm import addmm as _mm_acc, mm as _mm
from .layers import ConvexQuadratic

__all__ = ["ICNN", "DenseICNN", "ConvICNN", "ConvICNN128", "init_normal_"]

_ACTIVATIONS = ("celu", "softplus")


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    return torch.celu(x) if name == "celu" else F.softplus(x)


def _activation_grad(name: str, x: torch.Tensor) -> torch.Tensor:
    # celu'(x) = exp(min(x, 0)); softplus'(x) = sigmoid(x) (1 above F.softplus's threshold 20,
    # as its backward). Differentiable, NaN-free.
    if name == "celu":
        return torch.exp(x.clamp(max=0.0))
    return torch.where(x > 20.0, torch.ones_like(x), torch.sigmoid(x))


def init_normal_(net: nn.Module, scale: float, generator: torch.Generator | None = None) -> nn.Module:
    """The reference's hand initialisation: every parameter ~ N(0, 1) * ``scale``.

    PAPER.md's scales: 1/2 (toy), 1/20 (Gaussians), 1/10 (latent), 1/5 (domain adaptation),
    1/100 (ConvICNN). Call :meth:`ICNN.convexify` afterwards (``pretrain_identity`` does).
    """
    with torch.no_grad():
        for p in net.parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=p.dtype)
            p.copy_(noise.to(p.device) * scale)
    return net


def _mul_into(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, functional: bool, value: float = 1.0) -> None:
    """``out[...] = value·a·b`` (``out`` a strided view, possibly ``a`` itself) in one pass without temporaries
    (``addcmul`` onto a zero scalar) eagerly; a copy when compiled (Dynamo does not trace
    ``out=`` into non-contiguous tensors)."""
    if functional:
        out.copy_(a * b * value)
    else:
        torch.addcmul(_zero(a.dtype, a.device), a, b, value=value, out=out)


@functools.lru_cache(maxsize=None)
def _zero(dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A shared 0-dim zero (a read-only operand)."""
    return torch.zeros((), dtype=dtype, device=device)


class _Drop:
    """One dropout mask as the kernels of :class:`_DenseValuePush` apply it.

    Dense: a tensor of 0 and 1/keep (multiplied in). Sparse (a few dropped units, as with the
    toy runs' dropout 1e-5): the factor 1/keep is folded into the parameters by
    ``DenseICNN._effective`` and only the dropped ``(row, col)`` positions are zeroed, so
    no full-size multiply is made (none at all when nothing was dropped).
    """

    __slots__ = ("dense", "rows", "cols")

    def __init__(self, dense: torch.Tensor | None = None, rows=None, cols=None):
        self.dense, self.rows, self.cols = dense, rows, cols

    def mul_(self, t: torch.Tensor) -> torch.Tensor:
        """``t ⊙ mask`` in place; returns ``t``."""
        if self.dense is not None:
            return t.mul_(self.dense)
        if self.rows is not None:
            t[..., self.rows, self.cols] = 0.0
        return t

    def mul(self, t: torch.Tensor) -> torch.Tensor:
        """``t ⊙ mask`` (``t`` itself when the mask changes nothing)."""
        if self.dense is not None:
            return t * self.dense
        return self.mul_(t.clone()) if self.rows is not None else t


#: largest dropout rate drawn as a sparse list of dropped units (above it: dense masks)
_SPARSE_MAX_RATE = 0.1


def _uniform_subset(n: int, k: int) -> torch.Tensor:
    """``k`` distinct indices of ``range(n)``, a uniformly random ``k``-subset (global RNG).

    Uniform draws in sequence, each kept unless already taken (sequential rejection, exact);
    the draws come in vectorised rounds, so the expected work is O(k) for ``k ≤ n/2``; for
    larger ``k`` a random permutation is cut instead.
    """
    if 2 * k > n:
        return torch.randperm(n)[:k]
    chosen: list[int] = []
    taken: set[int] = set()
    while len(chosen) < k:
        for i in torch.randint(n, (k - len(chosen),)).tolist():
            if i not in taken:
                taken.add(i)
                chosen.append(i)
    return torch.tensor(chosen, dtype=torch.int64)


class _Params(list):
    """``DenseICNN._fast_params()``: a list that can also carry its dropout-scaled version."""

    scaled = None


class _DenseValuePush(torch.autograd.Function):
    """ψ(x) and ∇ψ(x) of a :class:`DenseICNN` with a hand-written backward pass.

    Inputs: ``meta = (hidden, rank, activation, strong_convexity, value_input_grad, need_push, const_rows,
    need_value, compiled)``, ``masks`` (``None`` or ``(mq, [None, mc_2, …, mc_L])``, :class:`_Drop` masks of
    the quadratic outputs of all layers ``[N, T]`` and of the convex products), ``x [N, D]``,
    ``F [D, (r+1)·T]`` (fused weights, T = Σ h_k, see ``DenseICNN._fast_params``), ``w [1, h_L]``,
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
    def forward(ctx, meta, masks, x, Fw, w, b, *V):
        value, push, saved = _kernels(meta[-1])[0](meta, masks, x, Fw, w, b, *V)
        ctx.meta, ctx.masks = meta, masks
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*saved)
        if meta[5] and meta[7]:
            return value, push
        return push if meta[5] else value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        need_push, need_value = ctx.meta[5], ctx.meta[7]
        Gv = grads[0] if need_value else None
        Gp = grads[-1] if need_push else None
        dx, *grads = _kernels(ctx.meta[-1])[1](ctx.meta, ctx.masks, ctx.needs_input_grad[2], ctx.saved_tensors, Gv, Gp)
        c0 = ctx.meta[6]
        if dx is not None and c0:  # the constant rows' input gradient is zero
            dx = torch.cat([dx.new_zeros(*dx.shape[:-2], c0, dx.shape[-1]), dx], dim=-2)
        return (None, None, dx, *grads)


def _blocks(hidden) -> list[tuple[int, int]]:
    """Column ranges ``(o_k, o_k + h_k)`` of the layers in a ``[…, T]`` block."""
    out, o = [], 0
    for h in hidden:
        out.append((o, o + h))
        o += h
    return out


def _vp_forward(meta, masks, x, Fw, w, b, *V):
    """Forward of :class:`_DenseValuePush`: ``(ψ or None, ∇ψ or None, tensors saved for backward)``."""
    hidden, r, act, sc, value_input_grad, need_push = meta[:6]
    L, T = len(hidden), sum(hidden)
    blk = _blocks(hidden)
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
    direct = not lead and not meta[-1]  # products written into strided blocks (out=): 2-D, eager
    for k in range(1, L):
        qk = q[..., blk[k][0]:blk[k][1]]
        if direct and masks is None:  # P = q_k + z Vᵀ by one GEMM with the addition fused (in q_k's place on torch.mm)
            P = _mm_acc(qk, zs[-1], V[k - 1].mT, reuse=True)
        else:
            P = _mm(zs[-1], V[k - 1].mT)
            if masks is not None:
                masks[1][k].mul_(P)
            P.add_(qk)
        if act == "celu":
            # z = celu(P) in place of P (P itself is not kept), σ'(P) = exp(min(P, 0)) = min(z + 1, 1)
            # from it: exactly 1 for P > 0, so σ'' = frac(σ') in the backward pass. (Where exp(P) is
            # below float32's spacing at −1, ~6e-8, it comes out 0: an absolute error < 6e-8.)
            z = F.celu(P, inplace=not meta[-1])
            d1s[k] = torch.add(z, 1.0).clamp_(max=1.0)
        else:
            d1s[k] = _activation_grad(act, P)
            z = F.softplus(P)
        zs.append(z)
    value = None
    if meta[7]:
        # one fused product-and-add (not a product then add_(…, alpha=): torch.compile's inductor
        # (2.13) fuses that pair into an addmm and drops alpha, measured here)
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
            U = CLk.copy_(G * d1s[k]) if meta[-1] else torch.mul(G, d1s[k], out=CLk)
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
    _mul_into(C[..., :r * T].view(*lead, n, r, T), S, CL.unsqueeze(-2), meta[-1], value=2.0)
    push = None
    if need_push:
        push = _mm_acc(x, C, Fw.mT, beta=sc) if sc else _mm(C, Fw.mT)
    saved = (x, Fw, w, H, C, push if need_push else H, *V, *zs, *Gs, *Us, *d1s[1:])
    return value, push, saved


def _vp_backward(meta, masks, needs_dx, saved, Gv, Gp):
    """Backward of :class:`_DenseValuePush`: gradients of ``(x, F, w, b, V_2…)``; that of ``x`` only
    for its rows from ``const_rows`` on (``None`` unless ``needs_dx``)."""
    hidden, r, act, sc, value_input_grad, need_push = meta[:6]
    L, T = len(hidden), sum(hidden)
    blk = _blocks(hidden)
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
    direct = not lead and not meta[-1]  # products written into strided blocks (out=): 2-D, eager
    dV = [None] * (L - 1)
    if Gp is not None:
        # dC = ∂L/∂C, and in its buffer, step by step: Ū (L-block), then H̄ = [H̄_S | q̄] (= ∂L/∂H)
        dC = _mm(Gp, Fw)
        dCS = dC[..., :r * T].view(*lead, n, r, T)
        Ubar_all = dC[..., r * T:]
        for j in range(r):  # Ū = dC_L + 2 Σ_j S_j·dC_Sj (all layers)
            Ubar_all.addcmul_(S[..., j, :], dCS[..., j, :], value=2.0)
        # H̄_S = 2·dC_S·GQ (+ 2·S·q̄ below), in place of dC_S
        _mul_into(dCS, dCS, CL.unsqueeze(-2), meta[-1], value=2.0)
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
                # σ'': CELU exp(x)·[x ≤ 0] = frac(σ'(x)) (σ' = min(celu(x) + 1, 1) is exactly 1 for x > 0
                # and below 1 otherwise; one op, no boolean masks — slow on CPU); softplus s(1 − s)
                if act == "celu":
                    Ubar.mul_(Gs[k]).mul_(torch.frac(d1))
                else:
                    Ubar.mul_(Gs[k]).mul_(d1 * (1.0 - d1))
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
        c0 = meta[6]
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


_EAGER = (_vp_forward, _vp_backward)
_COMPILED: dict = {}
_COMPILE_FAILED: list = []


def _kernels(compiled: bool):
    """``(forward, backward)`` of :class:`_DenseValuePush`: the eager functions, or (``compiled``)
    their ``torch.compile``-d versions, which fall back to the eager ones (warning once) if
    compilation fails."""
    if not compiled or _COMPILE_FAILED:
        return _EAGER
    if not _COMPILED:
        try:
            _COMPILED["k"] = tuple(_guarded(fn) for fn in _EAGER)
        except Exception as err:  # noqa: BLE001 - torch.compile unavailable here
            _compile_failed(err)
            return _EAGER
    return _COMPILED["k"]


def _compile_failed(err: Exception) -> None:
    _COMPILE_FAILED.append(err)
    warnings.warn(f"DenseICNN: torch.compile failed ({type(err).__name__}: {str(err)[:200]}); running eagerly",
                  RuntimeWarning, stacklevel=4)


def _guarded(fn):
    compiled_fn = torch.compile(fn, dynamic=False)

    def run(*args):
        if _COMPILE_FAILED:
            return fn(*args)
        try:
            return compiled_fn(*args)
        except Exception as err:  # noqa: BLE001 - any compiler failure: run eagerly from now on
            _compile_failed(err)
            return fn(*args)

    return run


class _CudnnTF32:
    """Context: ``torch.backends.cudnn.allow_tf32 = allow`` inside (restored on exit);
    ``allow=None`` leaves torch's setting alone."""

    def __init__(self, allow: bool | None):
        self.allow, self.old = allow, None

    def __enter__(self):
        if self.allow is not None:
            self.old = torch.backends.cudnn.allow_tf32
            torch.backends.cudnn.allow_tf32 = self.allow

    def __exit__(self, *exc):
        if self.allow is not None:
            torch.backends.cudnn.allow_tf32 = self.old


class ICNN(nn.Module):
    """Base class: gradient maps by autograd, batching, input checks, clear load errors."""

    #: expected shape of one sample (without the batch dimension)
    sample_shape: tuple[int, ...] = ()
    #: TF32 in cuDNN convolutions while ψ and ∇ψ are computed on CUDA (None: torch's setting)
    conv_tf32: bool | None = None

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor, got {type(x).__name__}")
        if tuple(x.shape[1:]) != tuple(self.sample_shape) or x.dim() != len(self.sample_shape) + 1:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape [N, {', '.join(map(str, self.sample_shape))}],"
                f" got {list(x.shape)}"
            )
        weight = next(self.parameters(), None)
        if weight is not None and x.dtype != weight.dtype:
            raise TypeError(f"{type(self).__name__} has {str(weight.dtype).replace('torch.', '')} weights but got a "
                            f"{str(x.dtype).replace('torch.', '')} input; convert it with x.to({weight.dtype}) "
                            f"(or the net with net.to({x.dtype}) for a floating dtype)")

    def __call__(self, x, *args, **kwargs):
        if self.conv_tf32 is None or not getattr(x, "is_cuda", False):
            return super().__call__(x, *args, **kwargs)
        with _CudnnTF32(self.conv_tf32):  # ψ(x) with the net's cuDNN precision
            return super().__call__(x, *args, **kwargs)

    def value_and_push(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ψ(x) ``[N, 1]`` and ∇ψ(x) (shape of ``x``) from one forward pass (autograd version)."""
        self._check_input(x)
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad(), _CudnnTF32(self.conv_tf32 if x.is_cuda else None):
            xg = x if x.requires_grad else x.detach().requires_grad_(True)
            value = self.forward(xg)
            (grad,) = torch.autograd.grad(value.sum(), xg, create_graph=create_graph)
        if not create_graph:
            value, grad = value.detach(), grad.detach()
        return value, grad

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """∇ψ(x), differentiable (``create_graph``) when grad mode is on."""
        return self.value_and_push(x)[1]

    def push_nograd(self, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """∇ψ(x) without a graph, computed in batches of ``batch_size`` (for large inputs)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        with torch.no_grad():
            outs = [self.push(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        return torch.cat(outs, dim=0) if outs else torch.empty_like(x)

    def convexify(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Like :meth:`torch.nn.Module.load_state_dict`, with a message naming the keys and
        shapes that differ when the checkpoint belongs to another architecture."""
        state_dict = self._remap_state_dict(dict(state_dict))
        if strict:
            own = self.state_dict()
            missing = sorted(set(own) - set(state_dict))
            unexpected = sorted(set(state_dict) - set(own))
            shapes = sorted(k for k in set(own) & set(state_dict)
                            if tuple(own[k].shape) != tuple(state_dict[k].shape))
            if missing or unexpected or shapes:
                lines = [f"checkpoint does not match this {type(self).__name__} ({self.extra_repr()}):"]
                if missing:
                    lines.append(f"  missing keys: {missing[:8]}{' ...' if len(missing) > 8 else ''}")
                if unexpected:
                    lines.append(f"  unexpected keys: {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
                for k in shapes[:8]:
                    lines.append(f"  {k}: checkpoint {list(state_dict[k].shape)} vs model {list(own[k].shape)}")
                raise ValueError("\n".join(lines))
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def _remap_state_dict(self, state_dict: dict) -> dict:
        return state_dict


class DenseICNN(ICNN):
    """Fully connected ICNN of W2GN (reference name and parameter layout).

    z_1 = Q_1(x);  z_{k+1} = σ(W_k z_k + Q_{k+1}(x)) with W_k ≥ 0;
    ψ(x) = w_outᵀ z_last + ½·strong_convexity·‖x‖² with w_out ≥ 0,
    where Q_k are :class:`~src.layers.ConvexQuadratic` layers and every layer output passes
    through dropout. σ is CELU or softplus (convex, non-decreasing).

    Args:
        in_dim: dimension D of the input.
        hidden_layer_sizes: widths of the hidden layers.
        rank: rank of the quadratic layers.
        activation: ``"celu"`` or ``"softplus"``.
        dropout: dropout probability after every layer (training mode only).
        strong_convexity: coefficient of the ½‖x‖² term.

    ``push`` is computed in closed form: one fused matrix product ``x @ [A⁽¹⁾ … A⁽ʳ⁾ | Wᵀ]`` for
    all quadratic/affine parts, the layer recursion, and the transposed recursion for ∇ψ.
    State dicts use the reference keys (``quadratic_layers.{i}.0.quadratic_decomposed``, …);
    the benchmark's layout without the ``.0`` loads too.
    """

    def __init__(self, in_dim: int, hidden_layer_sizes: Sequence[int] = (32, 32, 32), rank: int = 1,
                 activation: str = "celu", dropout: float = 0.03, strong_convexity: float = 1e-6):
        super().__init__()
        hidden = [int(h) for h in hidden_layer_sizes]
        if in_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"DenseICNN needs in_dim ≥ 1 and non-empty positive hidden sizes, "
                             f"got in_dim={in_dim}, hidden_layer_sizes={hidden_layer_sizes}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if strong_convexity < 0:
            raise ValueError(f"strong_convexity must be ≥ 0, got {strong_convexity}")
        self.in_dim, self.hidden_layer_sizes, self.rank = in_dim, hidden, rank
        self.activation, self.dropout, self.strong_convexity = activation, float(dropout), float(strong_convexity)
        self.sample_shape = (in_dim,)
        self.quadratic_layers = nn.ModuleList(
            nn.Sequential(ConvexQuadratic(in_dim, h, rank, bias=True), nn.Dropout(dropout)) for h in hidden
        )
        self.convex_layers = nn.ModuleList(
            nn.Sequential(nn.Linear(h_in, h_out, bias=False), nn.Dropout(dropout))
            for h_in, h_out in zip(hidden[:-1], hidden[1:])
        )
        self.final_layer = nn.Linear(hidden[-1], 1, bias=False)

    def extra_repr(self) -> str:
        return (f"in_dim={self.in_dim}, hidden_layer_sizes={self.hidden_layer_sizes}, rank={self.rank}, "
                f"activation={self.activation!r}, dropout={self.dropout}, strong_convexity={self.strong_convexity}")

    def config(self) -> dict:
        """Constructor arguments (stored in checkpoints)."""
        return dict(in_dim=self.in_dim, hidden_layer_sizes=list(self.hidden_layer_sizes), rank=self.rank,
                    activation=self.activation, dropout=self.dropout, strong_convexity=self.strong_convexity)

    # ------------------------------------------------------------------ core computation
    def _fused_weight(self) -> torch.Tensor:
        """``[D, (rank+1)·T]`` (T = Σ h_k): ``[A⁽¹⁾ | … | A⁽ʳ⁾ | Wᵀ]`` with ``A⁽ʲ⁾ = [A_1[:, j, :] | A_2[:, j, :] | …]``
        (the j-th factors of all layers) and ``Wᵀ = [W_1ᵀ | W_2ᵀ | …]``: one product ``x F`` gives every
        layer's quadratic factors and linear part, each kind contiguous across the layers."""
        layers = [seq[0] for seq in self.quadratic_layers]
        A = torch.cat([layer.quadratic_decomposed for layer in layers], dim=2) if len(layers) > 1 \
            else layers[0].quadratic_decomposed
        W = torch.cat([layer.weight for layer in layers], dim=0) if len(layers) > 1 else layers[0].weight
        return torch.cat([A.reshape(self.in_dim, -1), W.t()], dim=1)

    def _bias(self) -> torch.Tensor:
        """``[T]``: the biases of all quadratic layers (zeros for a layer without bias)."""
        parts = [seq[0].bias if seq[0].bias is not None else
                 torch.zeros(seq[0].out_features, device=seq[0].weight.device, dtype=seq[0].weight.dtype)
                 for seq in self.quadratic_layers]
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def _draw(self, x: torch.Tensor):
        """One dropout draw for the ``[N, total]`` units (``total`` = the hidden sizes, then the
        hidden sizes but the first: the masks of the quadratic, then of the convex layers):
        ``None`` (dropout off: eval mode or ``dropout == 0``), ``("dense", flat)`` with ``flat``
        0 or 1/keep, or ``("sparse", idx)`` with the flat indices of the dropped units."""
        if not (self.training and self.dropout > 0):
            return None
        hidden = self.hidden_layer_sizes
        keep = 1.0 - self.dropout
        total = sum(hidden) + sum(hidden[1:])
        numel = x.shape[0] * total
        if (x.device.type == "cpu" and x.dim() == 2 and self.dropout <= _SPARSE_MAX_RATE
                and numel * self.dropout <= 64):
            # few expected drops (e.g. the toy runs' dropout 1e-5): the same Bernoulli masks drawn as
            # K ~ Binomial(numel, p) dropped units at a uniformly random K-subset of positions —
            # exactly the same distribution as a Bernoulli draw per unit, at a fraction of the cost
            k = int(torch.binomial(torch.tensor(float(numel), dtype=torch.float64),
                                   torch.tensor(self.dropout, dtype=torch.float64)).item())
            return ("sparse", _uniform_subset(numel, k))
        return ("dense", torch.empty(x.shape[0], total, dtype=x.dtype, device=x.device).bernoulli_(keep).div_(keep))

    def _draw_masks(self, x: torch.Tensor) -> list | None:
        """Dropout masks ``[(mq_k, mc_k)]`` (``mc_1`` is ``None``) from one Bernoulli draw, or
        ``None`` when dropout is off (eval mode or ``dropout == 0``). Each mask is 0 with
        probability ``dropout`` and ``1/(1 − dropout)`` otherwise, as ``nn.Dropout``."""
        draw = self._draw(x)
        if draw is None:
            return None
        hidden = self.hidden_layer_sizes
        if draw[0] == "sparse":
            total = sum(hidden) + sum(hidden[1:])
            flat = torch.full((x.shape[0], total), 1.0, dtype=x.dtype, device=x.device).div_(1.0 - self.dropout)
            flat.view(-1)[draw[1]] = 0.0
        else:
            flat = draw[1]
        cols = flat.split(list(hidden) + list(hidden[1:]), dim=1)
        L = len(hidden)
        return [(cols[k], cols[L + k - 1] if k > 0 else None) for k in range(L)]

    def _draw_drops(self, x: torch.Tensor) -> tuple[tuple | None, float | None]:
        """The draw of :meth:`_draw_masks` in the kernels' form ``(mq, [None, mc_2, …])`` of
        :class:`_Drop` (``mq`` for the quadratic outputs of all layers, ``[N, T]``), and the factor
        1/keep to fold into the parameters (``None`` for dense masks, which carry it)."""
        draw = self._draw(x)
        if draw is None:
            return None, None
        hidden = self.hidden_layer_sizes
        L, T = len(hidden), sum(hidden)
        cblk = [None] + _blocks(hidden[1:])  # column ranges of the convex masks after the first T
        if draw[0] == "dense":
            flat = draw[1]
            return (_Drop(flat[:, :T]), [None] + [_Drop(flat[:, T + a:T + b]) for a, b in cblk[1:]]), None
        total = T + sum(hidden[1:])
        buckets: dict[int, tuple[list, list]] = {}
        for i in draw[1].tolist():
            row, col = divmod(i, total)
            if col < T:
                j = 0
            else:
                col -= T
                j = next(k for k in range(1, L) if col < cblk[k][1])
                col -= cblk[j][0]
            rows, cols = buckets.setdefault(j, ([], []))
            rows.append(row)
            cols.append(col)

        def drop(j):
            if j not in buckets:
                return _Drop()
            rows, cols = buckets[j]
            return _Drop(rows=torch.tensor(rows, device=x.device), cols=torch.tensor(cols, device=x.device))

        return (drop(0), [None] + [drop(k) for k in range(1, L)]), 1.0 / (1.0 - self.dropout)

    def _run(self, x: torch.Tensor, need_grad: bool, masks=None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """ψ(x) (and ∇ψ(x) in closed form when ``need_grad``) layer by layer with ordinary autograd
        ops, so the result can be differentiated any number of times (the reference the fast
        kernels are tested against)."""
        self._check_input(x)
        if masks is None:
            masks = self._draw_masks(x)
        n = x.shape[0]
        cache, z = [], None
        for k, seq in enumerate(self.quadratic_layers):
            layer = seq[0]
            s, lin = layer.split(x @ layer.fused_weight())
            qk = (s * s).sum(dim=1) + lin
            if layer.bias is not None:
                qk = qk + layer.bias
            mq, mc = masks[k] if masks is not None else (None, None)
            if mq is not None:
                qk = qk * mq
            if k == 0:
                z, pre = qk, None
            else:
                c = F.linear(z, self.convex_layers[k - 1][0].weight)
                if mc is not None:
                    c = c * mc
                pre = c + qk
                z = _activation(self.activation, pre)
            cache.append((layer, s, mq, mc, pre))
        value = F.linear(z, self.final_layer.weight)
        if self.strong_convexity:
            value = value + (0.5 * self.strong_convexity) * (x * x).sum(dim=1, keepdim=True)
        if not need_grad:
            return value, None
        # closed-form backward pass: g = dψ/dz_k, row by row
        g = self.final_layer.weight.expand(n, -1)
        grad = self.strong_convexity * x if self.strong_convexity else torch.zeros_like(x)
        for k in range(len(cache) - 1, -1, -1):
            layer, s, mq, mc, pre = cache[k]
            if pre is not None:
                g = g * _activation_grad(self.activation, pre)
            gq = g * mq if mq is not None else g
            coef = torch.cat([(2.0 * s * gq.unsqueeze(1)).reshape(n, -1), gq], dim=1)
            grad = grad + coef @ layer.fused_weight().t()
            if k > 0:
                gc = g * mc if mc is not None else g
                g = gc @ self.convex_layers[k - 1][0].weight
        return value, grad

    def _value_and_push(self, x: torch.Tensor, value_input_grad: bool = True,
                        need_push: bool = True, const_rows: int = 0,
                        need_value: bool = True) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """ψ(x) and ∇ψ(x) with a hand-written backward pass (:class:`_DenseValuePush`).

        Args:
            value_input_grad: whether the gradient of ψ(x) flows into ``x`` (``False``: as if
                ψ were evaluated at ``x.detach()``, while ∇ψ(x) stays differentiable in ``x``;
                W2GN uses this for ψ_θ(∇ψ_ω(y)) and the cycle term from one pass).
            need_push: ``False`` returns ``(ψ(x), None)`` without the final product for ∇ψ.
            need_value: ``False`` returns ``(None, ∇ψ(x))`` without computing ψ(x).
            const_rows: the first ``const_rows`` rows of ``x`` are treated as constants (data
                batched with differentiable rows): no input gradient is computed for them.

        The result is differentiable once (enough for any loss on ψ and ∇ψ); for higher
        derivatives use :meth:`forward` / :meth:`push_autograd`.
        """
        self._check_input(x)
        meta = self._kernel_meta(value_input_grad, need_push, const_rows, need_value)
        if not torch.is_grad_enabled() or not (x.requires_grad or any(p.requires_grad for p in self.parameters())):
            with torch.no_grad():
                if not need_push:
                    return self._run(x, need_grad=False)
                masks, scale = self._draw_drops(x)
                params = self._fast_params()
                if scale is not None:
                    params = self._scaled_params(params, scale)
                value, push, _ = _vp_forward(meta, masks, x, *params)
            return value, push
        masks, scale = self._draw_drops(x)
        out = _DenseValuePush.apply(meta, masks, x, *self._effective(self._fast_params(), scale))
        if need_push and need_value:
            return out[0], out[1]
        return (None, out) if need_push else (out, None)

    def _kernel_meta(self, value_input_grad: bool = True, need_push: bool = True, const_rows: int = 0,
                     need_value: bool = True) -> tuple:
        """The ``meta`` tuple of :class:`_DenseValuePush` for this net and these options."""
        if not (need_push or need_value):
            raise ValueError("_value_and_push: nothing to compute (need_push and need_value are both False)")
        return (tuple(self.hidden_layer_sizes), self.rank, self.activation, self.strong_convexity,
                bool(value_input_grad), bool(need_push), int(const_rows), bool(need_value),
                bool(self.__dict__.get("compile", False)))

    def _effective(self, params: list, scale: float | None) -> list:
        """``params`` (``_fast_params()``) as the kernels take them under a dropout draw whose factor
        1/keep is ``scale`` (sparse masks; ``None``: the masks carry it): the factor folded into the
        parameters (q_k·s = Σ(√s·S)² + s·L + s·b and (z Vᵀ)·s = z (s·V)ᵀ), so the masks only zero
        the dropped units. Scaled once per ``params`` list (cached on that list, which lives for
        one step: nothing with a graph is kept on the module)."""
        if scale is None:
            return params
        cached = getattr(params, "scaled", None)
        if cached is not None and cached[0] == scale:
            return cached[1]
        scaled = self._scaled_params(params, scale)
        if isinstance(params, _Params):
            params.scaled = (scale, scaled)
        return scaled

    def _pass(self, x: torch.Tensor, params: list, **options):
        """One kernel forward pass outside autograd (for a caller that writes its own backward, as
        the W2GN objective): ``(ψ or None, ∇ψ or None, record)``; ``options`` as
        :meth:`_value_and_push`. Draws the dropout masks like ``_value_and_push``."""
        meta = self._kernel_meta(**options)
        masks, scale = self._draw_drops(x)
        value, push, saved = _kernels(meta[-1])[0](meta, masks, x, *self._effective(params, scale))
        return value, push, (meta, masks, scale, saved)

    def _pass_backward(self, record, Gv, Gp, needs_dx: bool):
        """Backward of :meth:`_pass` for the output gradients ``Gv`` (of ψ) and ``Gp`` (of ∇ψ), either
        ``None``: ``(∂/∂x for the rows from const_rows on or None, [∂F, ∂w, ∂b, ∂V…])`` with respect to
        the unscaled ``params`` given to the pass."""
        meta, masks, scale, saved = record
        dx, dF, dw, db, *dV = _kernels(meta[-1])[1](meta, masks, needs_dx, saved, Gv, Gp)
        if scale is not None:  # chain rule of the folded dropout factor
            dF = dF.mul_(self._colscale(dF, scale))
            db = db.mul_(scale)
            dV = [d.mul_(scale) for d in dV]
        return dx, [dF, dw, db, *dV]

    def _param_grads(self, grads: list) -> list:
        """``[∂F, ∂w, ∂b, ∂V…]`` (of ``_fast_params``) as gradients of ``self.parameters()``, in
        order (views of the fused tensors)."""
        dF, dw, db, dV = grads[0], grads[1], grads[2], grads[3:]
        hidden = self.hidden_layer_sizes
        r, T = self.rank, sum(hidden)
        dA = dF[:, :r * T].view(self.in_dim, r, T).split(hidden, dim=2)
        dW = dF[:, r * T:].t().split(hidden, dim=0)
        dB = db.split(hidden)
        out = []
        for k, seq in enumerate(self.quadratic_layers):
            out += [dA[k], dW[k], dB[k]] if seq[0].bias is not None else [dA[k], dW[k]]
        return out + list(dV) + [dw]

    def _fast_params(self) -> list[torch.Tensor]:
        """``[F, w_out, b, V_2 … V_L]`` as used by :class:`_DenseValuePush` (``F`` from
        :meth:`_fused_weight`, ``b`` from :meth:`_bias`)."""
        return _Params([self._fused_weight(), self.final_layer.weight, self._bias(),
                        *[seq[0].weight for seq in self.convex_layers]])

    def _scaled_params(self, params: list, s: float) -> list:
        """``_fast_params`` of the net whose every hidden unit is multiplied by ``s``: the quadratic
        factors times √s, the linear weights, biases and convex weights times ``s``."""
        Fw, w, b, V = params[0], params[1], params[2], params[3:]
        return [Fw * self._colscale(Fw, s), w, b * s, *[Vk * s for Vk in V]]

    def _colscale(self, Fw: torch.Tensor, s: float) -> torch.Tensor:
        """``[K]``: √s on the columns of the quadratic factors in ``F``, s on the linear ones (cached)."""
        T = sum(self.hidden_layer_sizes)
        key = (Fw.shape[-1], s, Fw.dtype, Fw.device)
        cached = self.__dict__.get("_colscale_cache")
        if cached is None or cached[0] != key:
            scales = torch.full((Fw.shape[-1],), math.sqrt(s), dtype=Fw.dtype, device=Fw.device)
            scales[-T:] = s
            cached = (key, scales)
            self.__dict__["_colscale_cache"] = cached
        return cached[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ψ(x), ``[N, 1]`` (ordinary autograd ops: differentiable any number of times)."""
        return self._run(x, need_grad=False)[0]

    def value_and_push(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ψ(x) ``[N, 1]`` and ∇ψ(x) ``[N, D]`` in closed form, sharing one forward pass.

        Differentiable once in the weights and ``x`` (hand-written backward pass)."""
        return self._value_and_push(x)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """∇ψ(x), ``[N, D]``; part of the autograd graph whenever grad mode is on.

        Differentiable once (hand-written backward pass); use :meth:`push_autograd` to
        differentiate twice."""
        return self._value_and_push(x)[1]

    def push_autograd(self, x: torch.Tensor) -> torch.Tensor:
        """∇ψ(x) by autograd on ``forward`` (slower; kept as an independent check)."""
        return ICNN.value_and_push(self, x)[1]

    @torch.no_grad()
    def convexify(self) -> None:
        """Clamp to ≥ 0 the weights of the convex (z → z) layers and of the final layer."""
        torch._foreach_clamp_min_([seq[0].weight for seq in self.convex_layers] + [self.final_layer.weight], 0.0)

    def _remap_state_dict(self, state_dict: dict) -> dict:
        # the Wasserstein-2 benchmark stores the layers without the Sequential(…, Dropout) wrapper
        out = {}
        for key, value in state_dict.items():
            parts = key.split(".")
            if parts[0] in ("quadratic_layers", "convex_layers") and len(parts) == 3:
                key = ".".join([parts[0], parts[1], "0", parts[2]])
            out[key] = value
        return out


class ConvICNN(ICNN):
    """Convolutional ICNN for square images of side 8 … 128 (powers of two), in the layout of the
    paper's ConvICNN128 (same module names; ``ConvICNN(3, 128, 128)`` has its exact state dict).

    * ``first_linear``: four 3×3 convolutions (padding 1, ``channels → width → … → width``), only
      the last with a bias; ``first_squared``: four such convolutions without biases.
      Stage input ``first_linear(x) + first_squared(x)²`` (unconstrained weights).
    * ``convex`` (an ``nn.Sequential``): CELU, then ``log2(image_size/4)`` times [3×3 conv
      ``width → width``, stride 2, padding 1, with bias; CELU], a flatten to ``width·4·4``, CELU
      again (twice in a row, as in the reference), then linear layers ``→128→64→32→1`` with CELU
      between. Its conv and linear weights are kept ≥ 0 by :meth:`convexify`.

    ``forward`` returns ψ(x) as ``[N]`` (the reference squeezes the last layer's output);
    ``push`` is ∇ψ by autograd, same shape as ``x``.

    Args:
        channels: image channels C.
        image_size: H = W of the inputs.
        width: channels of the convolutions (128 in the paper).
        strong_convexity: coefficient of ½‖x‖² added to ψ (0 in the paper).

    On CUDA, ψ and ∇ψ (the map) are computed with full-float32 convolutions (``conv_tf32 =
    False``; torch would use TF32, ~3 significant digits, in cuDNN convolutions by default): the
    map is the output, and the cycle term multiplies its squared errors by λ = 35000. The
    parameter gradients of the loss (its backward pass) follow torch's setting.
    """

    conv_tf32 = False

    def __init__(self, channels: int = 3, image_size: int = 128, width: int = 128,
                 strong_convexity: float = 0.0):
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two ≥ 8, got {image_size}")
        self.channels, self.image_size, self.width = channels, image_size, width
        self.strong_convexity = float(strong_convexity)
        self.sample_shape = (channels, image_size, image_size)

        def stack(last_bias: bool) -> nn.Sequential:
            return nn.Sequential(*[nn.Conv2d(channels if i == 0 else width, width, 3, padding=1,
                                             bias=last_bias and i == 3) for i in range(4)])

        self.first_linear = stack(last_bias=True)
        self.first_squared = stack(last_bias=False)
        layers: list[nn.Module] = [nn.CELU()]
        for _ in range(int(round(math.log2(image_size // 4)))):
            layers += [nn.Conv2d(width, width, 3, stride=2, padding=1), nn.CELU()]
        layers += [nn.Flatten(), nn.CELU()]
        sizes = [width * 16, 128, 64, 32, 1]
        for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [nn.Linear(a, b)] + ([nn.CELU()] if k < len(sizes) - 2 else [])
        self.convex = nn.Sequential(*layers)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, image_size={self.image_size}, width={self.width}"

    def config(self) -> dict:
        return dict(channels=self.channels, image_size=self.image_size, width=self.width,
                    strong_convexity=self.strong_convexity)

    def nonnegative_weights(self) -> list[torch.Tensor]:
        """The weights :meth:`convexify` clamps: every conv and linear weight inside ``convex``."""
        return [m.weight for m in self.convex if isinstance(m, (nn.Conv2d, nn.Linear))]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ψ(x), ``[N]``."""
        self._check_input(x)
        sq = self.first_squared(x)
        out = self.convex(self.first_linear(x) + sq * sq).squeeze(-1)
        if self.strong_convexity:
            out = out + 0.5 * self.strong_convexity * (x * x).flatten(1).sum(1)
        return out

    @torch.no_grad()
    def convexify(self) -> None:
        """Clamp to ≥ 0 the conv and linear weights inside ``convex`` (biases and the input stage stay free)."""
        torch._foreach_clamp_min_(self.nonnegative_weights(), 0.0)


class ConvICNN128(ConvICNN):
    """The paper's ConvICNN for 128×128 images: :class:`ConvICNN` with width 128 and five stride-2
    convolutions; its state dict (``first_linear.*``, ``first_squared.*``, ``convex.{1,3,5,7,9}``
    convs, ``convex.{13,15,17,19}`` linears) is the reference implementation's, so its
    checkpoints load unchanged."""

    def __init__(self, channels: int = 3):
        super().__init__(channels=channels, image_size=128, width=128)

    def config(self) -> dict:
        return dict(channels=self.channels)
