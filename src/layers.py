"""Convex building blocks of input convex neural networks.

``ConvexQuadratic`` is the first-order block of :class:`src.icnn.DenseICNN`:

    out_j(x) = sum_r (x . A[:, r, j])^2 + (W x + b)_j,

a sum of ``rank`` squared linear forms plus an affine map. It is convex in ``x`` for any
weights, so it needs no clamping. Parameter names and shapes follow the reference
implementation (``quadratic_decomposed`` ``[in, rank, out]``, ``weight`` ``[out, in]``,
``bias`` ``[out]``) so that its checkpoints load unchanged.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["ConvexQuadratic", "ConvexQuadraticConv2d", "activation", "activation_grad"]


def activation(name: str, x: torch.Tensor, celu_alpha: float = 1.0) -> torch.Tensor:
    """σ(x) of the ICNNs: ``"celu"`` (with ``celu_alpha``: max(0, x) + min(0, α(exp(x/α) − 1)))
    or ``"softplus"`` (convex, non-decreasing)."""
    return torch.celu(x, celu_alpha) if name == "celu" else F.softplus(x)


def activation_grad(name: str, x: torch.Tensor, celu_alpha: float = 1.0) -> torch.Tensor:
    """σ'(x): celu'(x) = exp(min(x, 0)/α); softplus'(x) = sigmoid(x) (1 above F.softplus's
    threshold 20, as its backward). Differentiable, NaN-free."""
    if name == "celu":
        return torch.exp(x.clamp(max=0.0) / celu_alpha) if celu_alpha != 1.0 else torch.exp(x.clamp(max=0.0))
    return torch.where(x > 20.0, torch.ones_like(x), torch.sigmoid(x))


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
        if min(in_features, out_features, rank) < 1:
            raise ValueError(
                f"ConvexQuadratic needs positive sizes, got in={in_features}, out={out_features}, rank={rank}"
            )
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
