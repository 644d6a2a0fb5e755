"""Matrix products of the DenseICNN kernels, on the faster of two CPU libraries.

PyTorch's CPU ``torch.mm`` in float32 calls MKL's SGEMM, which picks its code path by CPU
vendor and can run at a fraction of the CPU's speed; oneDNN, which PyTorch also ships,
dispatches on the instruction sets the CPU reports. Products of at least ``2**20``
multiply-adds (``m·k·n``, with at least 16 rows and columns) go to oneDNN, smaller ones stay on
``torch.mm`` (oneDNN's fixed cost per call is higher). Only the summation order changes.

oneDNN is reached through ``torch.ops.mkldnn._linear_pointwise`` (a private operator of
PyTorch's), checked against ``torch.mm`` the first time it is used (with its own random
generator: the global RNG is not touched); where it is missing or disagrees, every product
stays on ``torch.mm`` (with one warning). Products on other devices or dtypes, batched (3-D)
products, products under ``torch.compile`` and products with autograd recording always use
``torch``'s own operators. Operands with strides oneDNN runs slowly (a transposed column block
of a wider tensor) are copied to dense ones first.

``set_cpu_matmul("torch")`` turns oneDNN off; ``"auto"`` (the default) uses it where it works.
``benchmarks/README.md`` has the measurements; ``benchmarks/step_speed.py`` times both.
"""
from __future__ import annotations

import contextlib
import warnings

import torch

__all__ = ["set_cpu_matmul", "cpu_matmul", "use_cpu_matmul", "mm", "addmm"]

_MIN_MNK = 1 << 20  # products smaller than this stay on torch.mm (oneDNN's fixed cost is higher)
_MIN_SIDE = 16  # nor products with fewer rows or columns (no faster there, and less accurate on the
# pushes' cancelling sums, measured in the toy's gradients)
_BACKENDS = ("auto", "onednn", "torch")
_state = {"requested": "auto", "on": None}  # on: None = not probed yet
_linear = None  # torch.ops.mkldnn._linear_pointwise.default: a @ Wᵀ
_linear_add = None  # torch.ops.mkldnn._linear_pointwise.binary: a @ Wᵀ + other


def set_cpu_matmul(backend: str) -> None:
    """Which library computes the kernels' large float32 CPU products: ``"auto"`` (oneDNN where it
    is available and agrees with ``torch.mm``, the default), ``"onednn"`` (the same, but an error
    instead of a fall-back when it is not usable) or ``"torch"`` (``torch.mm``, i.e. MKL/OpenBLAS)."""
    if backend not in _BACKENDS:
        raise ValueError(f"cpu matmul backend must be one of {_BACKENDS}, got {backend!r}")
    _state["requested"] = backend
    _state["on"] = False if backend == "torch" else _state.get("usable")  # probed once per process
    if backend == "onednn" and not (_state["on"] or _probe()):
        raise RuntimeError(f"oneDNN matrix products are not usable here: {_state.get('why')}")


@contextlib.contextmanager
def use_cpu_matmul(backend: str):
    """``set_cpu_matmul(backend)`` inside a ``with`` block; the previous choice is restored after."""
    before = _state["requested"]
    set_cpu_matmul(backend)
    try:
        yield
    finally:
        set_cpu_matmul(before)


def cpu_matmul() -> str:
    """The library in effect for large float32 CPU products: ``"onednn"`` or ``"torch"``."""
    if _state["on"] is None:
        _probe()
    return "onednn" if _state["on"] else "torch"


def _probe() -> bool:
    """Whether oneDNN's linear operator exists and computes what ``torch.mm`` computes (on
    strided operands and with the fused addition, as the kernels call it); sets the state."""
    global _linear, _linear_add
    try:
        if not torch.backends.mkldnn.is_available():
            raise RuntimeError("torch was built without oneDNN (mkldnn)")
        op = torch.ops.mkldnn._linear_pointwise
        lin, lin_add = op.default, op.binary
        g = torch.Generator().manual_seed(0)
        a = torch.randn(37, 70, generator=g)[:, 3:64]  # a column block: strided rows
        b = torch.randn(50, 61, generator=g).mT       # a transposed operand
        c = torch.randn(37, 80, generator=g)[:, 5:55]
        want = a @ b
        got = lin(a, b.mT, None, "none", [], "")
        got_add = lin_add(a, c, b.mT, None, "add")
        tol = 1e-5 * want.abs().max().item()
        if got.shape != want.shape or (got - want).abs().max().item() > tol or \
                (got_add - (want + c)).abs().max().item() > tol:
            raise RuntimeError("its products differ from torch.mm's")
        _linear, _linear_add = lin, lin_add
        _state["on"] = _state["usable"] = True
    except Exception as err:  # noqa: BLE001 - any failure means: do not use it
        _state["on"] = _state["usable"] = False
        _state["why"] = f"{type(err).__name__}: {err}"
        if _state["requested"] == "auto":
            warnings.warn(f"oneDNN matrix products unavailable ({_state['why']}); using torch.mm", RuntimeWarning,
                          stacklevel=3)
    return _state["on"]


def _onednn_operands(a: torch.Tensor, b: torch.Tensor):
    """``(a, b)`` in layouts oneDNN runs at speed when the product goes to oneDNN, else ``None``."""
    if torch.compiler.is_compiling():  # first: nothing below is traced (no shape guards, no recompiles)
        return None
    on = _state["on"]
    if on is None:
        on = _probe()
    if not (on and a.dim() == 2 and b.dim() == 2 and a.dtype is torch.float32 and b.dtype is torch.float32
            and a.device.type == "cpu" and a.shape[0] >= _MIN_SIDE and b.shape[1] >= _MIN_SIDE
            and a.shape[0] * a.shape[1] * b.shape[1] >= _MIN_MNK
            and not ((a.requires_grad or b.requires_grad) and torch.is_grad_enabled())):
        return None
    return _plain(a, row_blocks=True), _plain(b)


def _plain(t: torch.Tensor, row_blocks: bool = False) -> torch.Tensor:
    """``t`` itself if dense or a transposed dense tensor (or, ``row_blocks``, row-major with a row
    stride, as a column block of a wider tensor), else a dense copy. oneDNN runs products with other
    strides (e.g. a transposed column block ``Z[:, a:b].mT``, as the weight gradients' operands)
    on slow reference code; a copy costs little beside the product."""
    if t.stride(1) == 1 and (row_blocks or t.stride(0) == t.shape[1]):
        return t
    if t.stride(0) == 1 and t.stride(1) == t.shape[0]:
        return t
    return t.mT.contiguous().mT if t.stride(0) == 1 else t.contiguous()


def _use_onednn(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Whether ``a @ b`` goes to oneDNN (see the module docstring)."""
    return _onednn_operands(a, b) is not None


def mm(a: torch.Tensor, b: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """``a @ b`` (2-D or batched), written into ``out`` (any strided view) when given."""
    ops = _onednn_operands(a, b)
    if ops is not None:
        r = _linear(ops[0], ops[1].mT, None, "none", [], "")
        return r if out is None else out.copy_(r)
    if out is not None:
        return torch.mm(a, b, out=out) if a.dim() == 2 else torch.matmul(a, b, out=out)
    return a @ b


def addmm(c: torch.Tensor, a: torch.Tensor, b: torch.Tensor, beta: float = 1.0,
          out: torch.Tensor | None = None, reuse: bool = False) -> torch.Tensor:
    """``beta·c + a @ b`` (2-D or batched, ``c`` broadcastable to the product), written into ``out``
    (e.g. ``c`` itself) when given. ``reuse``: ``c`` is not needed again, the result may be written
    into it (in place on torch's path, a new tensor from oneDNN, saving the copy). One fused kernel
    on torch's path (``addmm``/``baddbmm``)."""
    ops = _onednn_operands(a, b)
    if out is None and reuse and ops is None and not torch.compiler.is_compiling():
        out = c
    if ops is not None:
        a, b = ops
        if beta == 1.0 and c.shape == (a.shape[0], b.shape[1]):
            r = _linear_add(a, _plain(c, row_blocks=True), b.mT, None, "add")
        else:
            r = _linear(a, b.mT, None, "none", [], "").add_(c, alpha=beta)
        return r if out is None else out.copy_(r)
    if a.dim() == 2:
        return torch.addmm(c, a, b, beta=beta) if out is None else torch.addmm(c, a, b, beta=beta, out=out)
    return torch.baddbmm(c, a, b, beta=beta) if out is None else torch.baddbmm(c, a, b, beta=beta, out=out)
