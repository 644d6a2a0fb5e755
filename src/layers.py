"""Convex building blocks of input convex neural networks.

``ConvexQuadratic`` is the first-order block of :class:`src.icnn.DenseICNN`:

    out_j(x) = sum_r (x . A[:, r, j])^2 + (W x + b)_j,

a sum of ``rank`` squared linear forms plus an affine map. It is convex in ``x`` for any
weights, so it needs no clamping. Parameter names and shapes follow the reference
implementation (``quadratic_decomposed`` ``[in, rank, out]``, ``weight`` ``[out, in]``,
``bias`` ``[out]``) so that its checkpoints load unchanged.

:data:`ACTIVATIONS` is the registry of the activations σ (σ, σ', σ'' and the fast kernels' forms,
:class:`Activation`); every part of the package looks a name up there (:func:`get_activation`),
so an unknown name is a ``ValueError`` wherever it is used.
"""
from __future__ import annotations

import math
import numbers
import operator
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ConvexQuadratic", "ConvexQuadraticConv2d", "Activation", "ACTIVATIONS", "get_activation",
           "activation", "activation_grad", "check_integer", "check_real"]


@dataclass(frozen=True)
class Activation:
    """One activation σ of the ICNNs (convex and non-decreasing, so that the nets stay convex),
    with what every implementation of :class:`src.icnn.DenseICNN` needs of it. Each function takes
    ``(x, alpha)``; ``alpha`` is the net's ``celu_alpha`` (ignored unless ``uses_alpha``).

    Attributes:
        name: the ``activation=`` name of :class:`~src.icnn.DenseICNN`.
        value: σ(x).
        grad: σ'(x), written with differentiable operations (the readable closed-form ∇ψ,
            ``DenseICNN._run``, differentiates it again for the loss on ∇ψ).
        grad2: σ''(x) (the definition ``grad2_from_grad`` is tested against, itself against autograd).
        uses_alpha: whether ``alpha`` is a parameter of σ (otherwise a net must keep α = 1).
        value_and_grad_: the fast kernels' forward form (:mod:`src.fast.kernels`): ``(σ(P), σ'(P))``,
            free to overwrite ``P`` (which the kernels do not keep), or ``None``.
        grad2_from_grad: the fast kernels' backward form: σ''(P) from σ'(P) alone (P is not kept),
            or ``None``. The fast path runs an activation only when both forms are given and its
            name is in :data:`src.fast.SUPPORTED_ACTIVATIONS`.
    """

    name: str
    value: Callable[[torch.Tensor, float], torch.Tensor]
    grad: Callable[[torch.Tensor, float], torch.Tensor]
    grad2: Callable[[torch.Tensor, float], torch.Tensor]
    uses_alpha: bool = False
    value_and_grad_: Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]] | None = None
    grad2_from_grad: Callable[[torch.Tensor, float], torch.Tensor] | None = None


# --- CELU: max(0, x) + min(0, α(exp(x/α) − 1)); σ' = exp(min(x, 0)/α); σ'' = exp(x/α)/α for x < 0, else 0
def _celu_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.exp(x.clamp(max=0.0) / alpha) if alpha != 1.0 else torch.exp(x.clamp(max=0.0))


def _celu_grad2(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return torch.where(x < 0, _celu_grad(x, alpha) / alpha, torch.zeros_like(x))


def _celu_value_and_grad_(p: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    # z = celu(p) in p's place; σ'(p) = exp(min(p, 0)/α) = min(z/α + 1, 1) from it: exactly 1 for
    # p > 0, below 1 otherwise (so σ'' = frac(σ')/α below). Where exp(p/α) is below float32's
    # spacing at −1 (~6e-8) it comes out 0: an absolute error < 6e-8.
    z = F.celu(p, alpha, inplace=True)
    d1 = torch.add(z, 1.0).clamp_(max=1.0) if alpha == 1.0 else torch.add(z, alpha).div_(alpha).clamp_(max=1.0)
    return z, d1


def _celu_grad2_from_grad(d1: torch.Tensor, alpha: float) -> torch.Tensor:
    # σ'' = exp(x/α)/α·[x < 0] = frac(σ')/α: one op, no boolean masks (slow on CPU)
    return torch.frac(d1) if alpha == 1.0 else torch.frac(d1).div_(alpha)


# --- softplus: log(1 + eˣ) (F.softplus, linear above its threshold 20); σ' = sigmoid; σ'' = s(1 − s)
def _softplus_grad(x: torch.Tensor, alpha: float) -> torch.Tensor:
    # 1 above F.softplus's threshold 20, as its backward
    return torch.where(x > 20.0, torch.ones_like(x), torch.sigmoid(x))


def _softplus_grad2(x: torch.Tensor, alpha: float) -> torch.Tensor:
    s = _softplus_grad(x, alpha)
    return s * (1.0 - s)


def _softplus_value_and_grad_(p: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    return F.softplus(p), _softplus_grad(p, alpha)


def _softplus_grad2_from_grad(d1: torch.Tensor, alpha: float) -> torch.Tensor:
    return d1 * (1.0 - d1)


#: every activation of the ICNNs, by name: the one list that src.layers, src.icnn and src.fast read
ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("celu", lambda x, alpha: torch.celu(x, alpha), _celu_grad, _celu_grad2, uses_alpha=True,
               value_and_grad_=_celu_value_and_grad_, grad2_from_grad=_celu_grad2_from_grad),
    Activation("softplus", lambda x, alpha: F.softplus(x), _softplus_grad, _softplus_grad2,
               value_and_grad_=_softplus_value_and_grad_, grad2_from_grad=_softplus_grad2_from_grad),
)}


def get_activation(name: str) -> Activation:
    """The :class:`Activation` called ``name``; ``ValueError`` for a name not in :data:`ACTIVATIONS`."""
    act = ACTIVATIONS.get(name) if isinstance(name, str) else None
    if act is None:
        raise ValueError(f"unknown activation {name!r}; the ICNNs' activations are {tuple(ACTIVATIONS)}")
    return act


def activation(name: str, x: torch.Tensor, celu_alpha: float = 1.0) -> torch.Tensor:
    """σ(x) of the activation ``name`` (:data:`ACTIVATIONS`), e.g. ``"celu"`` with ``celu_alpha``:
    max(0, x) + min(0, α(exp(x/α) − 1)), or ``"softplus"``; ``ValueError`` for an unknown name."""
    return get_activation(name).value(x, celu_alpha)


def activation_grad(name: str, x: torch.Tensor, celu_alpha: float = 1.0) -> torch.Tensor:
    """σ'(x) of the activation ``name``: celu'(x) = exp(min(x, 0)/α); softplus'(x) = sigmoid(x)
    (1 above F.softplus's threshold 20, as its backward). Differentiable, NaN-free."""
    return get_activation(name).grad(x, celu_alpha)


# ------------------------------------------------------------------ argument checks
def check_integer(value, name: str, minimum: int | None = None, owner: str = "") -> int:
    """``value`` as an ``int`` when it is an integer (Python or NumPy integer, an integer-valued
    float such as ``16.0``); otherwise ``TypeError`` / ``ValueError`` naming ``name`` (and
    ``owner``, the class that refuses it). Never truncates (``16.9`` is refused), never parses a
    string (``"64"`` is refused) and refuses ``True``/``False``."""
    where = f"{owner}: " if owner else ""
    if isinstance(value, (bool, str, bytes)) or value is None:
        raise TypeError(f"{where}{name} must be an integer, got {value!r} ({type(value).__name__})")
    try:
        out = operator.index(value)
    except TypeError:
        if isinstance(value, numbers.Real) and math.isfinite(float(value)) and float(value).is_integer():
            out = int(value)
        elif isinstance(value, numbers.Real):
            raise ValueError(f"{where}{name} must be an integer, got {value!r} (not truncated)") from None
        else:
            raise TypeError(f"{where}{name} must be an integer, got {value!r} ({type(value).__name__})") from None
    if minimum is not None and out < minimum:
        raise ValueError(f"{where}{name} must be ≥ {minimum}, got {out}")
    return int(out)


def check_real(value, name: str, minimum: float | None = None, maximum: float | None = None,
               min_open: bool = False, max_open: bool = False, owner: str = "") -> float:
    """``value`` as a finite ``float`` in the range given (``min_open``/``max_open``: the bound
    itself excluded); otherwise ``TypeError`` / ``ValueError`` naming ``name`` (NaN and ±inf are
    refused, strings are not parsed, ``True``/``False`` are refused)."""
    where = f"{owner}: " if owner else ""
    if isinstance(value, (bool, str, bytes)) or not isinstance(value, (numbers.Real, torch.Tensor)):
        raise TypeError(f"{where}{name} must be a real number, got {value!r} ({type(value).__name__})")
    if isinstance(value, torch.Tensor) and (value.numel() != 1 or value.is_complex()):
        raise TypeError(f"{where}{name} must be a real number, got a tensor of shape {list(value.shape)}")
    out = float(value)
    if not math.isfinite(out):
        raise ValueError(f"{where}{name} must be finite, got {out}")
    low_bad = minimum is not None and (out <= minimum if min_open else out < minimum)
    high_bad = maximum is not None and (out >= maximum if max_open else out > maximum)
    if low_bad or high_bad:
        lo = "" if minimum is None else f"{'>' if min_open else '≥'} {minimum:g}"
        hi = "" if maximum is None else f"{'<' if max_open else '≤'} {maximum:g}"
        raise ValueError(f"{where}{name} must be {' and '.join(x for x in (lo, hi) if x)}, got {out:g}")
    return out


class ConvexQuadratic(nn.Module):
    """Rank-``rank`` convex quadratic plus affine layer.

    Args:
        in_features: input dimension D.
        out_features: number of outputs.
        rank: number of squared linear forms per output.
        bias: whether the affine part has a bias (initialised, unlike the reference).

    Shapes: ``x`` ``[N, in_features]`` -> ``[N, out_features]``.
    """

    def __init__(self, in_features: int, out_features: int, rank: int = 1, bias: bool = True):
        super().__init__()
        sizes = {k: check_integer(v, k, owner="ConvexQuadratic")
                 for k, v in (("in_features", in_features), ("out_features", out_features), ("rank", rank))}
        if min(sizes.values()) < 1:
            raise ValueError(
                f"ConvexQuadratic needs positive sizes, got in={in_features}, out={out_features}, rank={rank}"
            )
        if not isinstance(bias, bool):
            raise TypeError(f"ConvexQuadratic: bias must be True or False, got {bias!r}")
        in_features, out_features, rank = sizes["in_features"], sizes["out_features"], sizes["rank"]
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.quadratic_decomposed = nn.Parameter(torch.empty(in_features, rank, out_features))
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.quadratic_decomposed, -bound, bound)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def fused_weight(self) -> torch.Tensor:
        """``[in, rank*out + out]``: the quadratic factors and the linear weight side by side,
        so that one matrix product ``x @ fused_weight()`` gives both parts."""
        a = self.quadratic_decomposed.reshape(self.in_features, self.rank * self.out_features)
        return torch.cat([a, self.weight.t()], dim=1)

    def split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split ``x @ fused_weight()`` ``[N, (rank+1)*out]`` into the factors ``[N, rank, out]``
        and the linear part ``[N, out]`` (without bias)."""
        s, lin = h.split([self.rank * self.out_features, self.out_features], dim=1)  # cheap backward
        return s.reshape(-1, self.rank, self.out_features), lin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s, lin = self.split(x @ self.fused_weight())
        out = (s * s).sum(dim=1) + lin
        return out + self.bias if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"


class ConvexQuadraticConv2d(nn.Module):
    """Convolutional analogue of :class:`ConvexQuadratic`: ``sum_r conv_r(x)^2 + conv(x)``.

    Convex in ``x`` for any weights. Shapes: ``[N, C, H, W]`` -> ``[N, out_channels, H', W']``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, rank: int = 1,
                 stride: int = 1, padding: int = 1, bias: bool = True):
        super().__init__()
        owner = "ConvexQuadraticConv2d"
        in_channels = check_integer(in_channels, "in_channels", 1, owner)
        out_channels = check_integer(out_channels, "out_channels", 1, owner)
        kernel_size = check_integer(kernel_size, "kernel_size", 1, owner)
        rank = check_integer(rank, "rank", 1, owner)
        stride = check_integer(stride, "stride", 1, owner)
        padding = check_integer(padding, "padding", 0, owner)
        if not isinstance(bias, bool):
            raise TypeError(f"{owner}: bias must be True or False, got {bias!r}")
        self.rank, self.out_channels = rank, out_channels
        self.stride, self.padding = stride, padding
        self.quadratic = nn.Conv2d(in_channels, rank * out_channels, kernel_size, stride, padding, bias=False)
        self.linear = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # one convolution for both parts
        w = torch.cat([self.quadratic.weight, self.linear.weight], dim=0)
        h = F.conv2d(x, w, None, self.stride, self.padding)
        ro = self.rank * self.out_channels
        q = h[:, :ro]
        q = (q * q).reshape(h.shape[0], self.rank, self.out_channels, *h.shape[2:]).sum(dim=1)
        lin = h[:, ro:]
        if self.linear.bias is not None:
            lin = lin + self.linear.bias[None, :, None, None]
        return q + lin
