"""Data sets. Real loaders (used by the ``paper`` profile) raise a clear error naming the folder
to fill when their data are absent; offline substitutes (``cpu``/``smoke``) are labelled as such.
torchvision is imported lazily (through :func:`src.tv.import_torchvision`), never by the core.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Where data sets live: env ``W2GN_DATA`` or ``data/`` in the repository."""
    return Path(os.environ.get("W2GN_DATA", REPO_ROOT / "data"))


class MissingDataError(FileNotFoundError):
    """A data set is not where it should be; the message says where and how to get it."""


# Each group of loaders lives in its own section below.

# ==== images (colour transfer: sample photographs) ====
# ==== end images ====

# ==== digits (domain adaptation: MNIST, USPS, sklearn digits) ====
# ==== end digits ====

# ==== celeba (latent OT) ====
# ==== end celeba ====

# ==== unpaired (style transfer: CycleGAN folders, offline photo domains) ====
# ==== end unpaired ====
