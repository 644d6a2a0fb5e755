"""DenseICNN's fast path: ψ and ∇ψ through the closed-form kernels of :mod:`src.fast.kernels`.

``value_and_push(net, x)`` is what ``DenseICNN.value_and_push`` runs while :func:`src.fast.enabled`
for a net of :func:`src.fast.supports` (the net gives what the kernels need: its layers, sizes,
activation name and ``_draw`` for the dropout masks; nothing here imports :mod:`src.icnn`);
``run_pass`` / ``pass_backward`` are the same passes for a caller that writes its own backward
(the fused W2GN objective, :mod:`src.fast.objective`). The parameters enter the kernels fused:
``[F, w_out, b, V_2 … V_L]`` (:func:`params`).
"""
from __future__ import annotations

import functools
import math

import torch

from . import dropout
from .kernels import DenseValuePush, Params, PassOptions, forward, backward


def options(net, value_input_grad: bool = True, need_push: bool = True, const_rows: int = 0,
            need_value: bool = True) -> PassOptions:
    """The :class:`PassOptions` of ``net`` for one pass."""
    if not (need_push or need_value):
        raise ValueError("value_and_push: nothing to compute (need_push and need_value are both False)")
    return PassOptions(tuple(net.hidden_layer_sizes), net.rank, net.activation, net.strong_convexity,
                       bool(value_input_grad), bool(need_push), int(const_rows), bool(need_value),
                       net.celu_alpha)


def fused_weight(net) -> torch.Tensor:
    """``[D, (rank+1)·T]`` (T = Σ h_k): ``[A⁽¹⁾ | … | A⁽ʳ⁾ | Wᵀ]`` with ``A⁽ʲ⁾ = [A_1[:, j, :] | A_2[:, j, :] | …]``
    (the j-th factors of all layers) and ``Wᵀ = [W_1ᵀ | W_2ᵀ | …]``: one product ``x F`` gives every
    layer's quadratic factors and linear part, each kind contiguous across the layers."""
    layers = [seq[0] for seq in net.quadratic_layers]
    A = torch.cat([layer.quadratic_decomposed for layer in layers], dim=2) if len(layers) > 1 \
        else layers[0].quadratic_decomposed
    W = torch.cat([layer.weight for layer in layers], dim=0) if len(layers) > 1 else layers[0].weight
    return torch.cat([A.reshape(net.in_dim, -1), W.t()], dim=1)


def fused_bias(net) -> torch.Tensor:
    """``[T]``: the biases of all quadratic layers (zeros for a layer without bias)."""
    parts = [seq[0].bias if seq[0].bias is not None else
             torch.zeros(seq[0].out_features, device=seq[0].weight.device, dtype=seq[0].weight.dtype)
             for seq in net.quadratic_layers]
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def params(net) -> Params:
    """``[F, w_out, b, V_2 … V_L]`` as the kernels take them (:func:`fused_weight`, :func:`fused_bias`)."""
    return Params([fused_weight(net), net.final_layer.weight, fused_bias(net),
                   *[seq[0].weight for seq in net.convex_layers]])


def param_grads(net, grads: list) -> list:
    """``[∂F, ∂w, ∂b, ∂V…]`` (of :func:`params`) as gradients of ``net.parameters()``, in order
    (views of the fused tensors)."""
    dF, dw, db, dV = grads[0], grads[1], grads[2], grads[3:]
    hidden = net.hidden_layer_sizes
    r, T = net.rank, sum(hidden)
    dA = dF[:, :r * T].view(net.in_dim, r, T).split(hidden, dim=2)
    dW = dF[:, r * T:].t().split(hidden, dim=0)
    dB = db.split(hidden)
    out = []
    for k, seq in enumerate(net.quadratic_layers):
        out += [dA[k], dW[k], dB[k]] if seq[0].bias is not None else [dA[k], dW[k]]
    return out + list(dV) + [dw]


@functools.lru_cache(maxsize=32)
def _colscale(K: int, T: int, s: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[K]``: √s on the columns of the quadratic factors in ``F``, s on the ``T`` linear ones."""
    scales = torch.full((K,), math.sqrt(s), dtype=dtype, device=device)
    scales[-T:] = s
    return scales


def colscale(net, Fw: torch.Tensor, s: float) -> torch.Tensor:
    return _colscale(Fw.shape[-1], sum(net.hidden_layer_sizes), s, Fw.dtype, Fw.device)


def scaled_params(net, p: list, s: float) -> list:
    """:func:`params` of the net whose every hidden unit is multiplied by ``s``: the quadratic
    factors times √s, the linear weights, biases and convex weights times ``s``."""
    Fw, w, b, V = p[0], p[1], p[2], p[3:]
    return [Fw * colscale(net, Fw, s), w, b * s, *[Vk * s for Vk in V]]


def effective_params(net, p: list, scale: float | None) -> list:
    """``p`` (:func:`params`) as the kernels take them under a dropout draw whose factor 1/keep is
    ``scale`` (sparse masks; ``None``: the masks carry it): the factor folded into the parameters
    (q_k·s = Σ(√s·S)² + s·L + s·b and (z Vᵀ)·s = z (s·V)ᵀ), so the masks only zero the dropped
    units. Scaled once per ``p`` list (cached on that list, which lives for one step)."""
    if scale is None:
        return p
    cached = getattr(p, "scaled", None)
    if cached is not None and cached[0] == scale:
        return cached[1]
    scaled = scaled_params(net, p, scale)
    if isinstance(p, Params):
        p.scaled = (scale, scaled)
    return scaled


def draw_masks(net, x: torch.Tensor):
    """One dropout draw of ``net`` (``DenseICNN._draw``) in the kernels' form (:func:`dropout.kernel_masks`)."""
    return dropout.kernel_masks(net._draw(x), net.hidden_layer_sizes, net.dropout, x.device)


def value_and_push(net, x: torch.Tensor, **opts) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """ψ(x) and ∇ψ(x) of a DenseICNN with the hand-written backward pass (:class:`DenseValuePush`).

    ``opts``: the switches of :class:`PassOptions` (``value_input_grad``, ``need_push``,
    ``const_rows``, ``need_value``); an output not asked for is ``None``. Differentiable once
    (enough for any loss on ψ and ∇ψ); for higher derivatives use ``DenseICNN._run``.
    """
    opt = options(net, **opts)
    if not torch.is_grad_enabled() or not (x.requires_grad or any(p.requires_grad for p in net.parameters())):
        with torch.no_grad():
            if not opt.need_push:
                return net._run(x, need_grad=False)
            masks, scale = draw_masks(net, x)
            p = params(net)
            if scale is not None:
                p = scaled_params(net, p, scale)
            value, push, _ = forward(opt, masks, x, *p)
        return value, push
    masks, scale = draw_masks(net, x)
    out = DenseValuePush.apply(opt, masks, x, *effective_params(net, params(net), scale))
    if opt.need_push and opt.need_value:
        return out[0], out[1]
    return (None, out) if opt.need_push else (out, None)


def run_pass(net, x: torch.Tensor, p: list, **opts):
    """One kernel forward pass outside autograd (for a caller that writes its own backward):
    ``(ψ or None, ∇ψ or None, record)``; ``opts`` as :func:`value_and_push`, ``p`` from
    :func:`params`. Draws the dropout masks as :func:`value_and_push` does."""
    opt = options(net, **opts)
    masks, scale = draw_masks(net, x)
    value, push, saved = forward(opt, masks, x, *effective_params(net, p, scale))
    return value, push, (opt, masks, scale, saved)


def pass_backward(net, record, Gv, Gp, needs_dx: bool):
    """Backward of :func:`run_pass` for the output gradients ``Gv`` (of ψ) and ``Gp`` (of ∇ψ), either
    ``None``: ``(∂/∂x for the rows from const_rows on or None, [∂F, ∂w, ∂b, ∂V…])`` with respect to
    the unscaled parameters given to the pass."""
    opt, masks, scale, saved = record
    dx, dF, dw, db, *dV = backward(opt, masks, needs_dx, saved, Gv, Gp)
    if scale is not None:  # chain rule of the folded dropout factor
        dF = dF.mul_(colscale(net, dF, scale))
        db = db.mul_(scale)
        dV = [d.mul_(scale) for d in dV]
    return dx, [dF, dw, db, *dV]
