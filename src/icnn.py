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

``DenseICNN`` computes ∇ψ in closed form (``DenseICNN._run``: the transposed layer recursion
written with ordinary autograd ops). While :func:`src.fast.enabled` (the default), its
``value_and_push`` / ``push`` run the same formulas through fused kernels with a hand-written
backward pass instead (:mod:`src.fast.dense`), so a loss on ``push`` costs one ordinary backward
pass instead of double back-propagation. The kernels run for ``DenseICNN`` itself only (its
``_fast_path = True``, read from the class body by :func:`src.fast.supports`, is not inherited):
a subclass that overrides ``forward`` gets ∇ψ by autograd of its own ``forward``, one that keeps
it gets the readable closed form (``_run``), unless it sets ``_fast_path = True`` itself.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import fast
from .fast import dense as fast_dense, dropout as _dropout
from .layers import ACTIVATIONS, ConvexQuadratic, check_integer, check_real, get_activation

__all__ = ["ICNN", "DenseICNN", "ConvICNN", "ConvICNN128", "init_normal_"]


def init_normal_(net: nn.Module, scale: float, generator: torch.Generator | None = None) -> nn.Module:
    """The reference's hand initialisation: every parameter ~ N(0, 1) * ``scale``.

    The paper's scales: 1/2 (toy), 1/20 (Gaussians), 1/10 (latent), 1/5 (domain adaptation),
    1/100 (ConvICNN). Call :meth:`ICNN.convexify` afterwards (``pretrain_identity`` does).
    """
    scale = check_real(scale, "scale", owner="init_normal_")
    with torch.no_grad():
        for p in net.parameters():
            noise = torch.randn(p.shape, generator=generator, dtype=p.dtype)
            p.copy_(noise.to(p.device) * scale)
    return net

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


def _widths(hidden_layer_sizes, owner: str) -> list[int]:
    """The hidden widths as a list of ints: a sequence of integers (``[64, 64]``); a string (``"64"``
    would be the widths 6 and 4), a single number or non-integers (``[16.9]``) are refused."""
    if isinstance(hidden_layer_sizes, (str, bytes, dict, numbers.Number)):
        raise TypeError(f"{owner}: hidden_layer_sizes must be a sequence of integers such as [64, 64], "
                        f"got {hidden_layer_sizes!r} ({type(hidden_layer_sizes).__name__})")
    try:
        items = list(hidden_layer_sizes)
    except TypeError:
        raise TypeError(f"{owner}: hidden_layer_sizes must be a sequence of integers such as [64, 64], "
                        f"got {hidden_layer_sizes!r} ({type(hidden_layer_sizes).__name__})") from None
    return [check_integer(h, f"hidden_layer_sizes[{i}]", owner=owner) for i, h in enumerate(items)]


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
    through dropout. σ is CELU or softplus (convex, non-decreasing; the names of
    :data:`src.layers.ACTIVATIONS`).

    Args:
        in_dim: dimension D of the input.
        hidden_layer_sizes: widths of the hidden layers.
        rank: rank of the quadratic layers.
        activation: ``"celu"`` or ``"softplus"`` (a name of :data:`src.layers.ACTIVATIONS`).
        dropout: dropout probability after every layer (training mode only).
        strong_convexity: coefficient of the ½‖x‖² term.
        celu_alpha: α of CELU (the reference's is 1): the width of its bend, so a smaller α lets
            ∇ψ change faster between regions (sharper transport maps) at the same weight scale.

    ``push`` is ∇ψ in closed form: the layer recursion, then the transposed recursion
    (:meth:`_run`); the fast path (:mod:`src.fast.dense`) computes the same with one fused matrix
    product ``x @ [A⁽¹⁾ … A⁽ʳ⁾ | Wᵀ]`` for all quadratic/affine parts and a hand-written backward.
    State dicts use the reference keys (``quadratic_layers.{i}.0.quadratic_decomposed``, …);
    the benchmark's layout without the ``.0`` loads too.

    Subclasses: ``push`` is the closed form of this class's ψ; a subclass that overrides
    ``forward`` gets ``push`` by autograd of its ``forward`` instead (:meth:`_closed_form`), and the
    fast kernels serve this class only (``_fast_path``, see :mod:`src.fast`).
    """

    #: the fast kernels (:mod:`src.fast.dense`) compute this class's ψ and ∇ψ; read from this class's
    #: own body (:func:`src.fast.supports`), so subclasses do not inherit it
    _fast_path = True

    def __init__(self, in_dim: int, hidden_layer_sizes: Sequence[int] = (32, 32, 32), rank: int = 1,
                 activation: str = "celu", dropout: float = 0.03, strong_convexity: float = 1e-6,
                 celu_alpha: float = 1.0):
        super().__init__()
        owner = "DenseICNN"
        in_dim = check_integer(in_dim, "in_dim", owner=owner)
        hidden = _widths(hidden_layer_sizes, owner)
        if in_dim < 1 or not hidden or min(hidden) < 1:
            raise ValueError(f"DenseICNN needs in_dim ≥ 1 and non-empty positive hidden sizes, "
                             f"got in_dim={in_dim}, hidden_layer_sizes={hidden_layer_sizes}")
        rank = check_integer(rank, "rank", 1, owner)
        act = get_activation(activation)  # ValueError for a name not in src.layers.ACTIVATIONS
        dropout = check_real(dropout, "dropout", 0.0, 1.0, max_open=True, owner=owner)
        strong_convexity = check_real(strong_convexity, "strong_convexity", 0.0, owner=owner)
        celu_alpha = check_real(celu_alpha, "celu_alpha", 0.0, min_open=True, owner=owner)
        if celu_alpha != 1.0 and not act.uses_alpha:
            with_alpha = tuple(name for name, a in ACTIVATIONS.items() if a.uses_alpha)
            raise ValueError(f"celu_alpha={celu_alpha} applies to activation {' / '.join(map(repr, with_alpha))} "
                             f"only, got {activation!r}")
        self.celu_alpha = float(celu_alpha)
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
                f"activation={self.activation!r}, dropout={self.dropout}, strong_convexity={self.strong_convexity}"
                + (f", celu_alpha={self.celu_alpha}" if self.celu_alpha != 1.0 else ""))

    def config(self) -> dict:
        """Constructor arguments (stored in checkpoints)."""
        return dict(in_dim=self.in_dim, hidden_layer_sizes=list(self.hidden_layer_sizes), rank=self.rank,
                    activation=self.activation, dropout=self.dropout, strong_convexity=self.strong_convexity,
                    celu_alpha=self.celu_alpha)

    # ------------------------------------------------------------------ core computation
    def _draw(self, x: torch.Tensor):
        """One dropout draw for the ``[N, total]`` units (``total`` = the hidden sizes, then the
        hidden sizes but the first: the masks of the quadratic, then of the convex layers), see
        :func:`src.fast.dropout.draw`; ``None`` when dropout is off (eval mode or ``dropout == 0``)."""
        if not (self.training and self.dropout > 0):
            return None
        hidden = self.hidden_layer_sizes
        return _dropout.draw(x, sum(hidden) + sum(hidden[1:]), self.dropout)

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

    def _run(self, x: torch.Tensor, need_grad: bool, masks=None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """ψ(x) (and ∇ψ(x) in closed form when ``need_grad``) layer by layer with ordinary autograd
        ops, so the result can be differentiated any number of times (the reference the fast
        kernels are tested against)."""
        self._check_input(x)
        if masks is None:
            masks = self._draw_masks(x)
        n = x.shape[0]
        act = get_activation(self.activation)
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
                z = act.value(pre, self.celu_alpha)
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
                g = g * act.grad(pre, self.celu_alpha)
            gq = g * mq if mq is not None else g
            coef = torch.cat([(2.0 * s * gq.unsqueeze(1)).reshape(n, -1), gq], dim=1)
            grad = grad + coef @ layer.fused_weight().t()
            if k > 0:
                gc = g * mc if mc is not None else g
                g = gc @ self.convex_layers[k - 1][0].weight
        return value, grad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ψ(x), ``[N, 1]`` (ordinary autograd ops: differentiable any number of times)."""
        return self._run(x, need_grad=False)[0]

    def value_and_push(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ψ(x) ``[N, 1]`` and ∇ψ(x) ``[N, D]`` in closed form, sharing one forward pass.

        Differentiable in the weights and ``x``: once on the fast path (hand-written backward
        pass, :mod:`src.fast.dense`), any number of times on the readable one (:meth:`_run`).
        A subclass that overrides ``forward``: ∇ of its ``forward`` by autograd (:meth:`_closed_form`)."""
        self._check_input(x)
        if not self._closed_form():
            return ICNN.value_and_push(self, x)
        if fast.enabled() and fast.supports(self):
            return fast_dense.value_and_push(self, x)
        return self._run(x, need_grad=True)

    def _closed_form(self) -> bool:
        """Whether ψ is :meth:`_run`'s (``forward`` not overridden by a subclass or replaced on the
        instance), so that its closed-form ∇ψ is the gradient of ``forward``."""
        return type(self).forward is DenseICNN.forward and "forward" not in vars(self)

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """∇ψ(x), ``[N, D]``; part of the autograd graph whenever grad mode is on (see
        :meth:`value_and_push`; :meth:`push_autograd` differentiates ψ instead)."""
        return self.value_and_push(x)[1]

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
        owner = type(self).__name__
        channels = check_integer(channels, "channels", 1, owner)
        image_size = check_integer(image_size, "image_size", owner=owner)
        if image_size < 8 or image_size & (image_size - 1):
            raise ValueError(f"image_size must be a power of two ≥ 8, got {image_size}")
        width = check_integer(width, "width", 1, owner)
        strong_convexity = check_real(strong_convexity, "strong_convexity", 0.0, owner=owner)
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
