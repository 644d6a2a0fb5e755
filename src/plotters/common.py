"""Helpers shared by the plotting modules."""
from __future__ import annotations

import numpy as np


def to_numpy(x, dtype=None) -> np.ndarray:
    """A tensor (any device, detached) or array-like as a NumPy array (of ``dtype`` when given)."""
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=dtype)
