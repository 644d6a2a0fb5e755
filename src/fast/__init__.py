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

What the fast path implements is listed here and nowhere else; everything outside it runs the
readable definitions, also while :func:`enabled`:

* potentials: the classes that set ``_fast_path = True`` in their *own* class body
  (:data:`MARKER`; ``DenseICNN`` does). It is read from the class itself, not inherited, so a
  subclass that changes ψ (e.g. overrides ``forward``) is never computed by the parent's kernels
  unless it sets the attribute itself — a promise that its ψ and ∇ψ are still DenseICNN's;
* activations: :data:`SUPPORTED_ACTIVATIONS` (their kernel forms are in :data:`src.layers.ACTIVATIONS`);
* cycle variants of the objective: :data:`SUPPORTED_CYCLES`; its other arguments: :data:`OBJECTIVE_ARGUMENTS`.

:func:`supports` answers for one net, :func:`src.fast.objective.applies` for an objective call.
"""
from __future__ import annotations

import contextlib

__all__ = ["enabled", "set_enabled", "disabled", "supports", "MARKER", "SUPPORTED_ACTIVATIONS",
           "SUPPORTED_CYCLES", "OBJECTIVE_ARGUMENTS"]

_state = {"enabled": True}

#: the class attribute (``= True``, in the class's own body) of a potential whose ψ and ∇ψ the
#: DenseICNN kernels (:mod:`.dense`) compute
MARKER = "_fast_path"
#: the activations (names in :data:`src.layers.ACTIVATIONS`) the kernels implement
SUPPORTED_ACTIVATIONS = ("celu", "softplus")
#: the cycle variants (of ``src.w2gn.CYCLE_VARIANTS``) the fused objective (:mod:`.objective`) implements
SUPPORTED_CYCLES = ("inverse", "both_sum", "both_mean")
#: the arguments of ``src.w2gn.w2gn_losses`` (besides the nets and batches) the fused objective
#: accounts for: it computes each of them (a term it did not compute would have to keep
#: ``w2gn_losses`` from calling it while the term is on; see docs/extending.md)
OBJECTIVE_ARGUMENTS = ("lambda_cycle", "cycle", "l1")


def supports(net) -> bool:
    """Whether the DenseICNN kernels compute ψ and ∇ψ of ``net``: its class itself sets
    :data:`MARKER` to ``True`` (not through a parent class), ``forward`` is not replaced on the
    instance, and its activation is in :data:`SUPPORTED_ACTIVATIONS`."""
    return (vars(type(net)).get(MARKER) is True and "forward" not in vars(net)
            and getattr(net, "activation", None) in SUPPORTED_ACTIVATIONS)


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
