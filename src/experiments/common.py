"""What several experiments share: a pair of potentials pretrained to the identity."""
from __future__ import annotations

from typing import Callable

import torch

from ..configs import PretrainSpec
from ..icnn import init_normal_
from ..w2gn import pretrain_identity

__all__ = ["pretrained_net", "make_pair"]


def pretrained_net(build: Callable[[], torch.nn.Module], init_scale: float, init_seed: int, sampler,
                   pretrain: PretrainSpec, device=None, checkpoint_path: str | None = None, progress: bool = True):
    """``build()`` initialised N(0, 1)·``init_scale`` (a generator seeded with ``init_seed``),
    moved to ``device`` and pretrained to the identity on ``sampler``.

    Args:
        build: makes a fresh net (a potential ψ).
        init_scale: std of the normal initialisation of every weight.
        init_seed: seed of the initialisation's own generator.
        sampler: the pretraining inputs (``.sample(n) -> [n, *shape]``).
        pretrain: the pretraining's settings.
        device: torch device of the net.
        checkpoint_path: the pretraining's checkpoint (see :func:`src.w2gn.pretrain_identity`).
        progress: show a progress bar.

    Returns:
        ``(net, last pretraining loss)``.
    """
    net = build()
    init_normal_(net, init_scale, generator=torch.Generator().manual_seed(init_seed))
    net = net.to(device)
    loss = pretrain_identity(net, sampler, checkpoint_path=checkpoint_path, **pretrain.kwargs(progress))
    return net, loss


def make_pair(build: Callable[[], torch.nn.Module], init_scale: float, init_seed: int, sampler,
              pretrain: PretrainSpec, device=None, checkpoint_path: str | None = None, progress: bool = True):
    """ψ_θ (``D``) as :func:`pretrained_net` makes it and ψ_ω (``D_conj``) a second ``build()``
    holding a copy of its weights — the start of every W2GN run here.

    Returns:
        ``(D, D_conj, last pretraining loss)``.
    """
    D, loss = pretrained_net(build, init_scale, init_seed, sampler, pretrain, device, checkpoint_path, progress)
    D_conj = build().to(device)
    D_conj.load_state_dict(D.state_dict())
    return D, D_conj, loss
