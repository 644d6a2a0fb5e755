"""Data-parallel W2GN on ``torch.distributed`` (used by :meth:`src.w2gn.W2GN.fit`).

Every rank holds the same two nets and optimisers. One step: each rank draws its share
``batch_size / world_size`` of the global batch from its own random streams, computes the W2GN
loss and its gradients on it, and one all-reduce averages the gradients (the loss rides along,
so a non-finite loss on any rank stops every rank at the same step). Since every term of the
objective is a mean over the batch, the average of the ranks' gradients on equal shares is the
gradient on the global batch; the optimiser step and ``convexify`` then run identically on every
rank, so the weights stay equal (checked at every checkpoint). Rank 0 alone writes checkpoints,
holding the random states of all ranks, and every rank resumes its own from them.

A process group started by ``torchrun`` (``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR``, ...) is used when
already initialised, or initialised here for ``W2GNConfig(distributed=True)``: NCCL for CUDA
nets, gloo otherwise.
"""
from __future__ import annotations

import datetime
import os

import numpy as np
import torch
import torch.distributed as dist

from .checkpoint import digest

__all__ = ["active", "setup", "rank", "world_size", "shard", "reseed", "average_gradients", "mean_logs",
           "gather", "check_equal_weights"]


def active() -> bool:
    """A process group is initialised (and has more than one rank or was asked for)."""
    return dist.is_available() and dist.is_initialized()


def setup(distributed: bool, device: torch.device) -> bool:
    """Whether this fit runs data-parallel: an initialised process group, or ``distributed=True``
    (then one is initialised from the ``torchrun`` environment)."""
    if active():
        return True
    if not distributed:
        return False
    if not dist.is_available():
        raise RuntimeError("W2GNConfig(distributed=True): this torch build has no torch.distributed")
    missing = [k for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(f"W2GNConfig(distributed=True) needs the torchrun environment (missing {missing}): "
                           "start the script with `torchrun --nproc_per_node=N script.py`, or initialise "
                           "torch.distributed yourself")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=int(os.environ.get("W2GN_DIST_TIMEOUT",
                                                                                               600))))
    return True


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def shard(batch_size: int) -> int:
    """This rank's share of a global batch of ``batch_size`` samples."""
    n = world_size()
    if batch_size % n:
        raise ValueError(f"batch_size {batch_size} is the global batch and must be divisible by the number of "
                         f"processes ({n})")
    return batch_size // n


def reseed(obj, seed: int, _depth: int = 0) -> None:
    """Seed every random generator ``obj`` owns (its ``torch.Generator`` and NumPy ``RandomState``
    attributes, and those of sampler attributes, recursively) from ``seed``: a rank's own streams."""
    for i, (name, value) in enumerate(sorted(vars(obj).items())):
        if isinstance(value, torch.Generator):
            value.manual_seed(int(seed) * 1_000_003 + i)
        elif isinstance(value, np.random.RandomState):
            value.seed((int(seed) * 1_000_003 + i) % 2**32)
        elif _depth < 8 and callable(getattr(value, "sample", None)) and hasattr(value, "__dict__"):
            reseed(value, int(seed) * 31 + i + 1, _depth + 1)


def average_gradients(params, loss: torch.Tensor) -> float:
    """Average the gradients of ``params`` over the ranks, in place, with one all-reduce that also
    carries ``loss``; returns the mean loss over the ranks (NaN/inf if any rank's is)."""
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads] + [loss.detach().reshape(1).to(grads[0].dtype)])
    dist.all_reduce(flat)
    flat /= world_size()
    offset = 0
    for p, g in zip(params, grads):
        n = g.numel()
        if p.grad is None:
            p.grad = g
        p.grad.copy_(flat[offset:offset + n].view_as(g))
        offset += n
    return float(flat[-1])


def mean_logs(logs: dict, device) -> dict:
    """The logged losses averaged over the ranks (so every rank keeps the same history)."""
    keys = sorted(logs)
    t = torch.tensor([float(logs[k]) for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) for k, v in zip(keys, (t / world_size()).tolist())}


def gather(obj) -> list:
    """``obj`` of every rank, in rank order (plain data)."""
    out = [None] * world_size()
    dist.all_gather_object(out, obj)
    return out


def check_equal_weights(params) -> None:
    """Raise if the ranks' weights differ (they must stay equal: same averaged gradients, same steps)."""
    digests = gather(digest([p.detach() for p in params]))
    if len(set(digests)) != 1:
        raise RuntimeError(f"distributed W2GN: the ranks' weights differ (digests {digests}); the ranks did not "
                           "run the same steps (a non-deterministic operation, or a rank given other settings)")
