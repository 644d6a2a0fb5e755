"""What several experiments share: a pair of potentials pretrained to the identity."""
from __future__ import annotations

from dataclasses import asdict
from typing import Callable

import torch

from ..configs import PretrainSpec
from ..pretrain import pretrained_net as _pretrained_net, pretrained_pair

__all__ = ["pretrained_net", "make_pair"]


def pretrained_net(build: Callable[[], torch.nn.Module], init_scale: float, init_seed: int, sampler,
                   pretrain: PretrainSpec, device=None, checkpoint_path: str | None = None, progress: bool | None = None):
    """:func:`src.pretrain.pretrained_net` with the experiment's :class:`PretrainSpec`.

    Returns:
        ``(net, last pretraining loss)``.
    """
    return _pretrained_net(build, sampler, init_scale, init_seed, asdict(pretrain), device, checkpoint_path, progress)


def make_pair(build: Callable[[], torch.nn.Module], init_scale: float, init_seed: int, sampler,
              pretrain: PretrainSpec, device=None, checkpoint_path: str | None = None, progress: bool | None = None):
    """:func:`src.pretrain.pretrained_pair` (build → init → identity pretraining → copy) with the
    experiment's :class:`PretrainSpec`: the start of every W2GN run here.

    Returns:
        ``(D, D_conj, last pretraining loss)``.
    """
    return pretrained_pair(build, sampler, init_scale, init_seed, asdict(pretrain), device, checkpoint_path, progress)
