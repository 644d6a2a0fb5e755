"""The CPU fast path: fused kernels and tuning that make the same computations quicker.

The readable definitions live in :mod:`src.icnn` (``DenseICNN._run``) and :mod:`src.w2gn`
(``w2gn_losses``); this package computes the same values faster and is engaged by one explicit
branch at each place it applies, while :func:`enabled` (the default):

* :mod:`.kernels`, :mod:`.dense`, :mod:`.dropout`: DenseICNN's ψ and ∇ψ in closed form with a
  hand-written backward pass (``DenseICNN.value_and_push``);
* :mod:`.objective`: the W2GN objective of two DenseICNNs as one autograd node (``w2gn_losses``);
* :mod:`.gemm`: large float32 CPU matrix products on oneDNN instead of MKL;
* :mod:`.adam`: the fused Adam update called directly (``W2GN.step``);
* :mod:`.memory`: glibc's allocator told to keep freed memory (``W2GN`` on CPU).

``with src.fast.disabled(): ...`` runs the readable paths instead (slower; the tests compare both).
See ``benchmarks/README.md`` for what each piece buys.
"""
from __future__ import annotations

import contextlib

__all__ = ["enabled", "set_enabled", "disabled"]

_state = {"enabled": True}


def enabled() -> bool:
    """Whether the fast path is used where it applies (default ``True``)."""
    return _state["enabled"]


def set_enabled(flag: bool) -> None:
    """Turn the fast path on or off for this process."""
    _state["enabled"] = bool(flag)


@contextlib.contextmanager
def disabled():
    """The readable paths inside a ``with`` block (the previous setting is restored after)."""
    before = _state["enabled"]
    _state["enabled"] = False
    try:
        yield
    finally:
        _state["enabled"] = before
