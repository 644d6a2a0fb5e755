"""The one place torchvision is imported.

torchvision 0.28.0 (pinned with torch 2.13.0) is a CUDA build; on the CPU torch wheel its import
fails ("operator torchvision::nms does not exist") unless the ``nms``/``qnms`` operator schemas
are defined first. :func:`import_torchvision` does that, only when ``torch.version.cuda is None``.
"""
from __future__ import annotations

import torch

_lib = None


def import_torchvision():
    """Import and return ``torchvision`` (with the CPU-torch shim when needed)."""
    global _lib
    if torch.version.cuda is None and _lib is None:
        try:
            import torchvision  # noqa: F401  (works when the build matches)
            return torchvision
        except RuntimeError:
            pass
        _lib = torch.library.Library("torchvision", "DEF")
        _lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        _lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision

    return torchvision
