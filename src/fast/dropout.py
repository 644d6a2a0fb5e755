"""Dropout draws of :class:`src.icnn.DenseICNN`, dense or as a sparse list of dropped units.

With few expected drops (e.g. the toy runs' dropout 1e-5) the same Bernoulli masks are drawn as
``K ~ Binomial(numel, p)`` dropped units at a uniformly random K-subset of positions: exactly
the distribution of one Bernoulli draw per unit, at a fraction of the cost. The readable
forward pass and the kernels take their masks from the same :func:`draw`, so both see the
same random numbers.
"""
from __future__ import annotations

import torch

from .kernels import blocks

#: largest dropout rate drawn as a sparse list of dropped units (above it: dense masks)
SPARSE_MAX_RATE = 0.1


class Drop:
    """One dropout mask as the kernels apply it.

    Dense: a tensor of 0 and 1/keep (multiplied in). Sparse: the factor 1/keep is folded into
    the parameters (:func:`src.fast.dense.effective_params`) and only the dropped ``(row, col)``
    positions are zeroed, so no full-size multiply is made (none at all when nothing was dropped).
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


def uniform_subset(n: int, k: int) -> torch.Tensor:
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


def draw(x: torch.Tensor, total: int, rate: float):
    """One dropout draw for ``[N, total]`` units at rate ``rate > 0``: ``("dense", flat)`` with
    ``flat`` 0 or 1/keep, or ``("sparse", idx)`` with the flat indices of the dropped units."""
    keep = 1.0 - rate
    numel = x.shape[0] * total
    if x.device.type == "cpu" and x.dim() == 2 and rate <= SPARSE_MAX_RATE and numel * rate <= 64:
        k = int(torch.binomial(torch.tensor(float(numel), dtype=torch.float64),
                               torch.tensor(rate, dtype=torch.float64)).item())
        return ("sparse", uniform_subset(numel, k))
    return ("dense", torch.empty(x.shape[0], total, dtype=x.dtype, device=x.device).bernoulli_(keep).div_(keep))


def kernel_masks(drawn, hidden, rate: float, device) -> tuple[tuple | None, float | None]:
    """A draw of :func:`draw` (``None``: dropout off) in the kernels' form ``(mq, [None, mc_2, …])``
    of :class:`Drop` (``mq`` for the quadratic outputs of all layers, ``[N, T]``), and the factor
    1/keep to fold into the parameters (``None`` for dense masks, which carry it)."""
    if drawn is None:
        return None, None
    L, T = len(hidden), sum(hidden)
    cblk = [None] + blocks(hidden[1:])  # column ranges of the convex masks after the first T
    if drawn[0] == "dense":
        flat = drawn[1]
        return (Drop(flat[:, :T]), [None] + [Drop(flat[:, T + a:T + b]) for a, b in cblk[1:]]), None
    total = T + sum(hidden[1:])
    buckets: dict[int, tuple[list, list]] = {}
    for i in drawn[1].tolist():
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
            return Drop()
        rows, cols = buckets[j]
        return Drop(rows=torch.tensor(rows, device=device), cols=torch.tensor(cols, device=device))

    return (drop(0), [None] + [drop(k) for k in range(1, L)]), 1.0 / (1.0 - rate)
