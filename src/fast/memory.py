"""Allocator tuning for CPU training (fast path)."""
from __future__ import annotations

import os

__all__ = ["keep_freed_memory"]

_MALLOC_TUNED: list = []


def keep_freed_memory(threshold_bytes: int = 1 << 28) -> bool:
    """Ask glibc's ``malloc`` to keep freed blocks up to ``threshold_bytes`` for reuse instead of
    handing them back to the kernel (``mallopt`` M_MMAP_THRESHOLD / M_TRIM_THRESHOLD).

    A W2GN step on the CPU allocates and frees the same megabyte-sized activations every step;
    by default glibc maps many of them fresh from the kernel each time, and the page faults of
    touching them cost a noticeable share of a small step (see ``benchmarks/README.md``). The
    process's peak memory is unchanged; memory freed at the end is kept by the process rather
    than returned. Called once by :class:`src.w2gn.W2GN` for CPU nets; set the
    environment variable ``W2GN_KEEP_FREED_MEMORY=0`` to leave the allocator alone.

    Returns:
        whether the setting was applied (``False`` off glibc or when disabled).
    """
    if _MALLOC_TUNED:
        return _MALLOC_TUNED[0]
    ok = False
    if os.environ.get("W2GN_KEEP_FREED_MEMORY", "1") != "0":
        try:
            import ctypes
            import ctypes.util

            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
            ok = bool(libc.mallopt(M_MMAP_THRESHOLD, int(threshold_bytes))) and \
                bool(libc.mallopt(M_TRIM_THRESHOLD, 2 * int(threshold_bytes)))
        except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
            ok = False
    _MALLOC_TUNED.append(ok)
    return ok
