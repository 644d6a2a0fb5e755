"""Moved to :mod:`src.fast.gemm` (the kernels' CPU matrix products); re-exported here."""
from .fast.gemm import addmm, cpu_matmul, mm, set_cpu_matmul, use_cpu_matmul  # noqa: F401

__all__ = ["set_cpu_matmul", "cpu_matmul", "use_cpu_matmul", "mm", "addmm"]
