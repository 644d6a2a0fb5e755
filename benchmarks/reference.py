"""The reference implementation's computation pattern, re-implemented (not copied), and the
set-ups on which ours is compared to it: :mod:`benchmarks.step_speed` (time per step),
:mod:`benchmarks.time_to_accuracy`, ``scripts/device_check.py`` and the tests import it from here.

* ``ConvexQuadratic`` contracts ``x`` ``[N, D]`` with ``quadratic_decomposed`` ``[D, rank, out]``
  by a broadcast 3-D matrix product (``x @ A.transpose(0, 1)`` -> ``[rank, N, out]``, transposed
  back, squared and summed over ``rank``) and adds a separate ``F.linear``;
* every layer of ``DenseICNN`` is an ``nn.Sequential(layer, nn.Dropout)``;
* ``push(x)`` is ``torch.autograd.grad(ψ(x), x, create_graph=True)`` with the batches made
  ``requires_grad_()`` (so backward also computes their gradients);
* one step: ``Y_inv = D_conj.push(Y).detach()``; ``loss = mean D(X) − mean D(Y_inv) + <Y_inv, Y>
  + λ·R + l1·Σ|w|`` with ``R`` recomputing ``D_conj.push(Y)`` (and ``D.push(X)``) inside the cycle
  term(s); Adam on both nets (torch's default, per-parameter loop on CPU), then ``convexify``.

:func:`configs` are the benchmarked problems (Gaussian D's and the toy), :func:`make_nets` builds
ours and the reference pattern from the same weights, :func:`batches` the same batches for both.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from src.icnn import DenseICNN, init_normal_
from src.training import scheduled_lr
from src.w2gn import W2GNConfig

__all__ = ["RefConvexQuadratic", "RefDenseICNN", "ref_losses", "RefTrainer", "configs", "make_nets", "batches"]


class RefConvexQuadratic(nn.Module):
    def __init__(self, in_features, out_features, rank):
        super().__init__()
        self.quadratic_decomposed = nn.Parameter(torch.randn(in_features, rank, out_features))
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.randn(out_features))

    def forward(self, x):
        # [N, D] @ [rank, D, out] -> [rank, N, out] -> [N, rank, out]
        quad = torch.matmul(x, self.quadratic_decomposed.transpose(0, 1)).transpose(0, 1)
        return (quad ** 2).sum(dim=1) + F.linear(x, self.weight, self.bias)


class RefDenseICNN(nn.Module):
    def __init__(self, in_dim, hidden, rank, dropout, strong_convexity):
        super().__init__()
        self.strong_convexity = strong_convexity
        self.quadratic_layers = nn.ModuleList(
            nn.Sequential(RefConvexQuadratic(in_dim, h, rank), nn.Dropout(dropout)) for h in hidden)
        self.convex_layers = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b, bias=False), nn.Dropout(dropout)) for a, b in zip(hidden[:-1], hidden[1:]))
        self.final_layer = nn.Linear(hidden[-1], 1, bias=False)

    def forward(self, x):
        out = self.quadratic_layers[0](x)
        for quad, conv in zip(self.quadratic_layers[1:], self.convex_layers):
            out = F.celu(conv(out) + quad(x))
        return self.final_layer(out) + 0.5 * self.strong_convexity * (x ** 2).sum(dim=1, keepdim=True)

    def push(self, x):
        value = self.forward(x)
        return torch.autograd.grad(value, x, grad_outputs=torch.ones_like(value),
                                   create_graph=True, retain_graph=True)[0]

    @torch.no_grad()
    def convexify(self):
        for seq in self.convex_layers:
            seq[0].weight.clamp_(min=0)
        self.final_layer.weight.clamp_(min=0)


def ref_losses(D, D_conj, X, Y, lam, cycle, l1):
    X = X.detach().requires_grad_(True)
    Y = Y.detach().requires_grad_(True)
    Y_inv = D_conj.push(Y).detach()
    loss = D(X).mean() - D(Y_inv).mean() + (Y_inv * Y).sum(dim=1).mean()
    reg = ((D.push(D_conj.push(Y)) - Y) ** 2).mean()
    if cycle != "inverse":
        reg = reg + ((D_conj.push(D.push(X)) - X) ** 2).mean()
        if cycle == "both_mean":
            reg = reg / 2
    loss = loss + lam * reg
    if l1:
        loss = loss + l1 * sum(p.abs().sum() for net in (D, D_conj) for p in net.parameters())
    return loss


class RefTrainer:
    """The reference pattern's training step; the learning rate of step ``iteration`` follows
    ``cfg``'s schedule (:func:`src.training.scheduled_lr`) as in :meth:`src.w2gn.W2GN.step`."""

    def __init__(self, D, D_conj, cfg: W2GNConfig):
        self.D, self.D_conj, self.cfg, self.iteration = D, D_conj, cfg, 0
        self.opt = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.opt_conj = torch.optim.Adam(D_conj.parameters(), lr=cfg.lr, betas=cfg.conj_betas)

    def step(self, X, Y):
        c = self.cfg
        if c.lr_schedule != "constant" or c.warmup:
            lr = scheduled_lr(c.lr, self.iteration, c.iterations, c.lr_schedule, c.warmup, c.lr_end)
            for opt in (self.opt, self.opt_conj):
                for group in opt.param_groups:
                    group["lr"] = lr
        self.D.train()
        self.D_conj.train()
        self.opt.zero_grad()
        self.opt_conj.zero_grad()
        loss = ref_losses(self.D, self.D_conj, X, Y, c.lambda_cycle, c.cycle, c.l1)
        loss.backward()
        self.opt.step()
        self.opt_conj.step()
        self.D.convexify()
        self.D_conj.convexify()
        self.iteration += 1
        return loss


# ---------------------------------------------------------------------------- configurations
def configs(dims):
    out = []
    for d in dims:
        hidden = [max(128, d), max(128, d), max(64, d)]
        out.append(dict(name=f"gauss D={d}", dim=d, hidden=hidden, rank=1, dropout=0.0, sc=5e-2, scale=1 / 20,
                        cfg=W2GNConfig(batch_size=256, lr=3e-4, lambda_cycle=float(min(d, 50)), cycle="both_sum",
                                       l1=1e-10, progress=False)))
    out.append(dict(name="toy D=2", dim=2, hidden=[128, 128, 64], rank=3, dropout=1e-5, sc=1e-6, scale=1 / 2,
                    cfg=W2GNConfig(batch_size=1024, lr=1e-3, lambda_cycle=1.0, cycle="inverse", l1=1e-10,
                                   progress=False)))
    return out


def make_nets(spec, dropout=None, dtype=torch.float32, seed=0):
    p = spec["dropout"] if dropout is None else dropout
    g = torch.Generator().manual_seed(seed)
    D = DenseICNN(spec["dim"], spec["hidden"], rank=spec["rank"], dropout=p, strong_convexity=spec["sc"])
    init_normal_(D, spec["scale"], generator=g)
    D.convexify()
    D_conj = copy.deepcopy(D)
    init_normal_(D_conj, spec["scale"], generator=g)  # different weights, so the check sees both nets
    D_conj.convexify()
    R, R_conj = (RefDenseICNN(spec["dim"], spec["hidden"], spec["rank"], p, spec["sc"]) for _ in range(2))
    R.load_state_dict(D.state_dict())
    R_conj.load_state_dict(D_conj.state_dict())
    return [net.to(dtype) for net in (D, D_conj, R, R_conj)]


def batches(spec, n, dtype=torch.float32, seed=1):
    g = torch.Generator().manual_seed(seed)
    b = spec["cfg"].batch_size
    return [(torch.randn(b, spec["dim"], generator=g).to(dtype),
             1.5 * torch.randn(b, spec["dim"], generator=g).to(dtype)) for _ in range(n)]
