"""Input convex neural networks (ICNNs) and their gradient maps.

In W2GN the forward optimal map is ``∇ψ_θ`` and the inverse map is ``∇ψ_ω``; the reference
implementation calls the nets ``D`` (ψ_θ) and ``D_conj`` (ψ_ω). Every net here exposes

* ``forward(x)`` -> ψ(x), ``[N, 1]``;
* ``push(x)`` -> ∇ψ(x), same shape as ``x``, differentiable w.r.t. the weights (and ``x``)
  whenever grad mode is on, whether or not ``x.requires_grad``;
* ``value_and_push(x)`` -> both from one forward pass;
* ``push_nograd(x, batch_size)`` -> ∇ψ(x) without a graph, in batches, for large inputs;
* ``convexify()`` -> clamps to ≥ 0 the weights that must be non-negative.

``DenseICNN`` computes ∇ψ in closed form (a hand-written backward pass through the net), so a
loss on ``push`` costs one ordinary backward pass instead of double back-propagation. The
forward/backward of that pass are plain functions (``_vp_forward`` / ``_vp_backward``); setting
``net.compile = True`` (what ``W2GNConfig(compile=True)`` does) runs them ``torch.compile``-d,
falling back to eager with one warning if compilation fails.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

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


def _mm_acc(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """``beta·c + a @ b`` for 2-D or batched 3-D operands (one fused kernel)."""
    if a.dim() == 2:
        return torch.addmm(c, a, b, beta=beta)
    return torch.baddbmm(c, a, b, beta=beta)


def _mul_into(out: torch.Tensor, a: torch.Tensor, b: torch.Tensor, functional: bool) -> None:
    """``out[...] = a·b`` (``out`` a strided view): ``torch.mul(out=)`` eagerly, a copy when
    compiled (Dynamo does not trace ``out=`` into non-contiguous tensors)."""
    if functional:
        out.copy_(a * b)
    else:
        torch.mul(a, b, out=out)


class _DenseValuePush(torch.autograd.Function):
    """ψ(x) and ∇ψ(x) of a :class:`DenseICNN` with a hand-written backward pass.

    Inputs: ``meta = (hidden, rank, activation, strong_convexity, value_input_grad, need_push,
    compiled)``,
    ``masks`` (dropout masks or ``None``), ``x [N, D]``, ``F [D, K]`` (fused quadratic/linear
    weights, see ``DenseICNN._fused_weight``), ``w [1, h_L]``, biases ``b_k [h_k]``, convex
    weights ``V_k [h_k, h_{k−1}]``. With a leading dimension on every tensor (``x [B, N, D]``,
    ``F [B, D, K]``, ``w [B, 1, h_L]``, ``b_k [B, 1, h_k]``, ``V_k [B, h_k, h_{k−1}]``) it evaluates
    B nets of the same architecture at once (batched matrix products).

    Forward (k = 1 … L; ``S_k``, ``L_k`` are column blocks of ``H = x F``)::

        q_k = Σ_r S_k² + L_k + b_k;  z_1 = q_1·mq_1;  P_k = (z_{k−1} V_kᵀ)·mc_k + q_k·mq_k;
        z_k = σ(P_k);  ψ = z_L wᵀ + ½·sc·‖x‖²

    and ∇ψ = C Fᵀ + sc·x with ``C = ∂ψ/∂H`` from the transposed recursion
    ``G_L = w;  U_k = G_k·σ'(P_k);  G_{k−1} = (U_k·mc_k) V_k;  C = [2 S_k·U_k·mq_k | U_k·mq_k]``.
    The backward pass differentiates both outputs by hand (reverse of the transposed
    recursion, then of the forward chain); the value's gradient reuses ``C``, ``U_k`` and
    ``∂ψ/∂x = ∇ψ`` instead of a second pass. Differentiable once.
    """

    @staticmethod
    def forward(ctx, meta, masks, x, Fw, w, *bv):
        value, push, saved = _kernels(meta[-1])[0](meta, masks, x, Fw, w, *bv)
        ctx.meta, ctx.masks = meta, masks
        ctx.b_shapes = [t.shape for t in bv[:len(meta[0])]]
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*saved)
        if meta[5]:
            return value, push
        return value

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, *grads):
        need_push = ctx.meta[5]
        Gv = grads[0]
        Gp = grads[1] if need_push else None
        grads = _kernels(ctx.meta[-1])[1](ctx.meta, ctx.masks, ctx.needs_input_grad[2], ctx.b_shapes,
                                         ctx.saved_tensors, Gv, Gp)
        return (None, None, *grads)


def _vp_forward(meta, masks, x, Fw, w, *bv):
    """Forward of :class:`_DenseValuePush`: ``(ψ, ∇ψ or None, tensors saved for backward)``."""
    hidden, r, act, sc, value_input_grad, need_push = meta[:6]
    L = len(hidden)
    b, V = bv[:L], bv[L:]
    lead, n = x.shape[:-2], x.shape[-2]
    widths = []
    for h in hidden:
        widths += [r * h, h]
    H = x @ Fw
    parts = H.split(widths, dim=-1)
    S = [parts[2 * k].view(*lead, n, r, h) for k, h in enumerate(hidden)]
    zs, Ps = [], [None]
    z = None
    for k in range(L):
        lin = parts[2 * k + 1]
        q = torch.add(lin, b[k])
        for j in range(r):
            q.addcmul_(S[k][..., j, :], S[k][..., j, :])
        if masks is not None:
            q.mul_(masks[k][0])
        if k == 0:
            z = q
        else:
            P = z @ V[k - 1].mT
            if masks is not None:
                P.mul_(masks[k][1])
            P.add_(q)
            Ps.append(P)
            z = F.celu(P) if act == "celu" else F.softplus(P)
        zs.append(z)
    value = z @ w.mT
    if sc:
        value.add_((x * x).sum(dim=-1, keepdim=True), alpha=0.5 * sc)
    # transposed recursion: C = ∂ψ/∂H, written block by block
    C = torch.empty_like(H)
    cparts = C.split(widths, dim=-1)
    G = w.expand(*lead, n, w.shape[-1])
    Gs, Us, d1s = [None] * L, [None] * L, [None] * L
    for k in range(L - 1, -1, -1):
        Gs[k] = G
        if k > 0:
            d1s[k] = _activation_grad(act, Ps[k])
            U = G * d1s[k]
        else:
            U = G
        Us[k] = U
        GQ = cparts[2 * k + 1]
        if masks is not None:
            _mul_into(GQ, U, masks[k][0], meta[6])
        else:
            GQ.copy_(U)
        _mul_into(cparts[2 * k].view(*lead, n, r, hidden[k]), S[k], (2.0 * GQ).unsqueeze(-2), meta[6])
        if k > 0:
            Uc = U * masks[k][1] if masks is not None else U
            Us[k] = Uc
            G = Uc @ V[k - 1]
    push = None
    if need_push:
        push = _mm_acc(x, C, Fw.mT, beta=sc) if sc else C @ Fw.mT
    saved = (x, Fw, w, H, C, push if need_push else H, *V, *zs, *Ps[1:], *Gs, *Us, *d1s[1:])
    return value, push, saved


def _vp_backward(meta, masks, needs_dx, b_shapes, saved, Gv, Gp):
    """Backward of :class:`_DenseValuePush`: gradients of ``(x, F, w, b_1…, V_1…)``."""
    hidden, r, act, sc, value_input_grad, need_push = meta[:6]
    L = len(hidden)
    x, Fw, w, H, C, push = saved[:6]
    i = 6
    V = saved[i:i + L - 1]; i += L - 1
    zs = saved[i:i + L]; i += L
    Ps = (None,) + saved[i:i + L - 1]; i += L - 1
    Gs = saved[i:i + L]; i += L
    Us = saved[i:i + L]; i += L
    d1s = (None,) + saved[i:i + L - 1]
    lead, n = x.shape[:-2], x.shape[-2]
    widths = []
    for h in hidden:
        widths += [r * h, h]
    Sp = H.split(widths, dim=-1)
    S = [Sp[2 * k].view(*lead, n, r, h) for k, h in enumerate(hidden)]
    Cp = C.split(widths, dim=-1)
    GQs = [Cp[2 * k + 1] for k in range(L)]
    Hbar = torch.empty_like(H)
    Hp = Hbar.split(widths, dim=-1)
    HS = [Hp[2 * k].view(*lead, n, r, h) for k, h in enumerate(hidden)]
    HL = [Hp[2 * k + 1] for k in range(L)]
    dV = [None] * (L - 1)
    Pbar = [None] * L
    if Gp is not None:
        # reverse of the transposed recursion, k = 1 … L
        dC = Gp @ Fw
        dCp = dC.split(widths, dim=-1)
        Gbar = None
        for k in range(L):
            dCS, dCL = dCp[2 * k].view(*lead, n, r, hidden[k]), dCp[2 * k + 1]
            GQ = GQs[k]
            sd = S[k][..., 0, :] * dCS[..., 0, :]
            for j in range(1, r):
                sd.addcmul_(S[k][..., j, :], dCS[..., j, :])
            gqbar = torch.add(dCL, sd, alpha=2.0)
            _mul_into(HS[k], dCS, (2.0 * GQ).unsqueeze(-2), meta[6])
            Ubar = gqbar * masks[k][0] if masks is not None else gqbar
            if k > 0:
                t = Gbar @ V[k - 1].mT
                if masks is not None:
                    t.mul_(masks[k][1])
                Ubar.add_(t)
                dV[k - 1] = Us[k].mT @ Gbar
                d1 = d1s[k]
                # σ'': CELU exp(x)·[x ≤ 0]; softplus s(1 − s) (0 above the threshold)
                if act == "celu":
                    Pbar[k] = (Ubar * Gs[k]).mul_(d1).masked_fill_(Ps[k] > 0, 0.0)
                else:
                    Pbar[k] = (Ubar * Gs[k]).mul_(d1 * (1.0 - d1))
                Gbar = Ubar * d1
            else:
                Gbar = Ubar
        dw = Gbar.sum(dim=-2, keepdim=True)
        # reverse of the forward chain, k = L … 1
        zbar = None
        for k in range(L - 1, 0, -1):
            Pt = Pbar[k] if zbar is None else Pbar[k].addcmul_(zbar, d1s[k])
            cbar = Pt * masks[k][1] if masks is not None else Pt
            cv = cbar if Gv is None else cbar + Gv * Us[k]
            dV[k - 1] = _mm_acc(dV[k - 1], cv.mT, zs[k - 1])
            zbar = cbar @ V[k - 1]
            qbar = Pt.mul_(masks[k][0]) if masks is not None else Pt
            HL[k].copy_(qbar)
            HS[k].addcmul_(S[k], (2.0 * qbar).unsqueeze(-2))
        if zbar is not None:
            qbar = zbar.mul_(masks[0][0]) if masks is not None else zbar
            HL[0].copy_(qbar)
            HS[0].addcmul_(S[0], (2.0 * qbar).unsqueeze(-2))
        else:  # a single hidden layer: no forward-chain adjoint
            HL[0].zero_()
    else:
        dw = torch.zeros_like(w)
        for k in range(1, L):
            dV[k - 1] = torch.zeros_like(V[k - 1])
            if Gv is not None:
                dV[k - 1] = _mm_acc(dV[k - 1], (Gv * Us[k]).mT, zs[k - 1])
    # biases: Σ_n of the adjoint of q_k (push part) + Gv·∂ψ/∂q_k (value part)
    db = []
    for k in range(L):
        g = Gv * GQs[k] if Gp is None else (HL[k] if Gv is None else HL[k] + Gv * GQs[k])
        db.append(g.sum(dim=-2).view(b_shapes[k]))
    if Gv is not None:
        dw = dw + (Gv * zs[-1]).sum(dim=-2, keepdim=True)
    # fused weights: xᵀ·H̄ (push part) + (Gp + Gv·x)ᵀ·C (push output and value)
    side = Gp if Gv is None else (Gv * x if Gp is None else Gp + Gv * x)
    dF = side.mT @ C if side is not None else torch.zeros_like(Fw)
    if Gp is not None:
        dF = _mm_acc(dF, x.mT, Hbar)
    dx = None
    if needs_dx:
        dx = Hbar @ Fw.mT if Gp is not None else torch.zeros_like(x)
        if Gp is not None and sc:
            dx.add_(Gp, alpha=sc)
        if Gv is not None and value_input_grad:
            if not need_push:  # ∂ψ/∂x = ∇ψ(x), not computed in the forward pass
                push = _mm_acc(x, C, Fw.mT, beta=sc) if sc else C @ Fw.mT
            dx.addcmul_(Gv, push)
    return (dx, dF, dw, *db, *dV)


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


class ICNN(nn.Module):
    """Base class: gradient maps by autograd, batching, input checks, clear load errors."""

    #: expected shape of one sample (without the batch dimension)
    sample_shape: tuple[int, ...] = ()

    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{type(self).__name__} expects a torch.Tensor, got {type(x).__name__}")
        if tuple(x.shape[1:]) != tuple(self.sample_shape) or x.dim() != len(self.sample_shape) + 1:
            raise ValueError(
                f"{type(self).__name__} expects inputs of shape [N, {', '.join(map(str, self.sample_shape))}],"
                f" got {list(x.shape)}"
            )

    def value_and_push(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ψ(x) ``[N, 1]`` and ∇ψ(x) (shape of ``x``) from one forward pass (autograd version)."""
        self._check_input(x)
        create_graph = torch.is_grad_enabled()
        with torch.enable_grad():
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

    ``push`` is computed in closed form: one fused matrix product ``x @ [A_1|W_1ᵀ|A_2|…]`` for
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
        """``[D, K]``: ``[A_1 | W_1ᵀ | A_2 | W_2ᵀ | …]`` (``A_k`` reshaped to ``[D, rank·h_k]``)."""
        parts = [seq[0].fused_weight() for seq in self.quadratic_layers]
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def _widths(self) -> list[int]:
        """Column widths of the fused product: ``[rank·h_1, h_1, rank·h_2, h_2, …]``."""
        out = []
        for h in self.hidden_layer_sizes:
            out += [self.rank * h, h]
        return out

    def _draw_masks(self, x: torch.Tensor) -> list | None:
        """Dropout masks ``[(mq_k, mc_k)]`` (``mc_1`` is ``None``) from one Bernoulli draw, or
        ``None`` when dropout is off (eval mode or ``dropout == 0``). Each mask is 0 with
        probability ``dropout`` and ``1/(1 − dropout)`` otherwise, as ``nn.Dropout``."""
        if not (self.training and self.dropout > 0):
            return None
        hidden = self.hidden_layer_sizes
        keep = 1.0 - self.dropout
        total = sum(hidden) + sum(hidden[1:])
        numel = x.shape[0] * total
        if x.device.type == "cpu" and numel * self.dropout <= 64:
            # few expected drops (e.g. the toy runs' dropout 1e-5): the same Bernoulli masks drawn as
            # K ~ Binomial(numel, p) dropped units at a uniformly random K-subset of positions —
            # exactly the same distribution as a Bernoulli draw per unit, at a fraction of the cost
            flat = torch.full((x.shape[0], total), 1.0, dtype=x.dtype, device=x.device).div_(keep)
            k = int(torch.binomial(torch.tensor(float(numel), dtype=torch.float64),
                                   torch.tensor(self.dropout, dtype=torch.float64)).item())
            if k:
                idx = torch.empty(0, dtype=torch.long)
                while idx.numel() < k:  # sequential rejection of repeats: a uniform k-subset
                    cand = torch.cat([idx, torch.randint(numel, (k,))])
                    uniq, inverse = torch.unique(cand, return_inverse=True)
                    first = torch.full((uniq.numel(),), cand.numel(), dtype=torch.long)
                    first.scatter_reduce_(0, inverse, torch.arange(cand.numel()), reduce="amin")
                    idx = cand[first.sort().values]
                flat.view(-1)[idx[:k]] = 0.0
        else:
            flat = torch.empty(x.shape[0], total, dtype=x.dtype, device=x.device).bernoulli_(keep).div_(keep)
        cols = flat.split(list(hidden) + list(hidden[1:]), dim=1)
        L = len(hidden)
        return [(cols[k], cols[L + k - 1] if k > 0 else None) for k in range(L)]

    def _run(self, x: torch.Tensor, need_grad: bool, masks=None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """ψ(x) (and ∇ψ(x) in closed form when ``need_grad``) with ordinary autograd ops, so the
        result can be differentiated any number of times."""
        self._check_input(x)
        if masks is None:
            masks = self._draw_masks(x)
        fused = self._fused_weight()
        n, r = x.shape[0], self.rank
        parts = (x @ fused).split(self._widths(), dim=1)  # split (not slicing): cheap backward
        cache, z = [], None
        for k, seq in enumerate(self.quadratic_layers):
            h = self.hidden_layer_sizes[k]
            s, lin = parts[2 * k].reshape(n, r, h), parts[2 * k + 1]
            qk = (s * s).sum(dim=1) + lin
            if seq[0].bias is not None:
                qk = qk + seq[0].bias
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
            cache.append((s, mq, mc, pre))
        value = F.linear(z, self.final_layer.weight)
        if self.strong_convexity:
            value = value + (0.5 * self.strong_convexity) * (x * x).sum(dim=1, keepdim=True)
        if not need_grad:
            return value, None
        # closed-form backward pass: g = dψ/dz_k, row by row
        g = self.final_layer.weight.expand(n, -1)
        pieces: list[torch.Tensor] = []
        for k in range(len(cache) - 1, -1, -1):
            s, mq, mc, pre = cache[k]
            if pre is not None:
                g = g * _activation_grad(self.activation, pre)
            gq = g * mq if mq is not None else g
            pieces.append(gq)
            pieces.append((2.0 * s * gq.unsqueeze(1)).reshape(n, -1))
            if k > 0:
                gc = g * mc if mc is not None else g
                g = gc @ self.convex_layers[k - 1][0].weight
        coef = torch.cat(pieces[::-1], dim=1)  # same column order as `fused`
        grad = coef @ fused.t()
        if self.strong_convexity:
            grad = grad + self.strong_convexity * x
        return value, grad

    def _value_and_push(self, x: torch.Tensor, value_input_grad: bool = True,
                        need_push: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """ψ(x) and ∇ψ(x) with a hand-written backward pass (:class:`_DenseValuePush`).

        Args:
            value_input_grad: whether the gradient of ψ(x) flows into ``x`` (``False``: as if
                ψ were evaluated at ``x.detach()``, while ∇ψ(x) stays differentiable in ``x``;
                W2GN uses this for ψ_θ(∇ψ_ω(y)) and the cycle term from one pass).
            need_push: ``False`` returns ``(ψ(x), None)`` without the final product for ∇ψ.

        The result is differentiable once (enough for any loss on ψ and ∇ψ); for higher
        derivatives use :meth:`forward` / :meth:`push_autograd`.
        """
        self._check_input(x)
        params = self._fast_params()
        if not torch.is_grad_enabled() or not (x.requires_grad or any(p.requires_grad for p in params)):
            with torch.no_grad():
                value, grad = self._run(x, need_grad=need_push)
            return value, grad
        masks = self._draw_masks(x)
        meta = (tuple(self.hidden_layer_sizes), self.rank, self.activation, self.strong_convexity,
                value_input_grad, need_push, bool(self.__dict__.get("compile", False)))
        out = _DenseValuePush.apply(meta, masks, x, *params)
        return (out[0], out[1]) if need_push else (out, None)

    def _fast_params(self) -> list[torch.Tensor]:
        """``[F, w_out, b_1 … b_L, V_1 … V_{L−1}]`` as used by :class:`_DenseValuePush`."""
        biases = []
        for seq in self.quadratic_layers:
            b = seq[0].bias
            biases.append(b if b is not None else torch.zeros(seq[0].out_features, device=seq[0].weight.device,
                                                               dtype=seq[0].weight.dtype))
        return [self._fused_weight(), self.final_layer.weight, *biases,
                *[seq[0].weight for seq in self.convex_layers]]

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
    """Convolutional ICNN for square images of size 32 … 128 (powers of two).

    Input stage (unconstrained): four 3×3 convolutions (linear) plus four 3×3 convolutions whose
    output is squared, summed, then CELU. Then ``log2(image_size/4)`` stride-2 3×3 convolutions
    with non-negative weights, each followed by CELU, a flatten to ``width·4·4`` and non-negative
    linear layers ``→128→64→32→1`` with CELU between. ``∇ψ`` by autograd.

    Args:
        channels: image channels C.
        image_size: H = W of the inputs.
        width: channels of the convolutions (128 in the paper).
        strong_convexity: coefficient of ½‖x‖² added to ψ (0 in the paper).
    """

    def __init__(self, channels: int = 3, image_size: int = 128, width: int = 128,
                 strong_convexity: float = 0.0):
        super().__init__()
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two ≥ 8, got {image_size}")
        self.channels, self.image_size, self.width = channels, image_size, width
        self.strong_convexity = float(strong_convexity)
        self.sample_shape = (channels, image_size, image_size)

        def stack() -> nn.Sequential:
            return nn.Sequential(*[nn.Conv2d(channels if i == 0 else width, width, 3, padding=1) for i in range(4)])

        self.first_linear = stack()
        self.first_squared = stack()
        n_down = int(round(math.log2(image_size // 4)))
        self.convex = nn.ModuleList(nn.Conv2d(width, width, 3, stride=2, padding=1) for _ in range(n_down))
        sizes = [width * 16, 128, 64, 32]
        self.dense = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.final_layer = nn.Linear(32, 1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, image_size={self.image_size}, width={self.width}"

    def config(self) -> dict:
        return dict(channels=self.channels, image_size=self.image_size, width=self.width,
                    strong_convexity=self.strong_convexity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        sq = self.first_squared(x)
        h = torch.celu(self.first_linear(x) + sq * sq)
        for conv in self.convex:
            h = torch.celu(conv(h))
        h = h.flatten(1)
        for layer in self.dense:
            h = torch.celu(layer(h))
        out = self.final_layer(h)
        if self.strong_convexity:
            out = out + 0.5 * self.strong_convexity * (x * x).flatten(1).sum(1, keepdim=True)
        return out

    @torch.no_grad()
    def convexify(self) -> None:
        """Clamp to ≥ 0 every weight after the input stage (biases stay free)."""
        for layer in [*self.convex, *self.dense, self.final_layer]:
            layer.weight.clamp_(min=0)


class ConvICNN128(ConvICNN):
    """The paper's ConvICNN for 128×128 images (width 128, five stride-2 convolutions)."""

    def __init__(self, channels: int = 3):
        super().__init__(channels=channels, image_size=128, width=128)

    def config(self) -> dict:
        return dict(channels=self.channels)

