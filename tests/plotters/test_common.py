"""src.plotters.common: tensors (with a graph, any dtype) and array-likes as NumPy arrays."""
import numpy as np
import torch

from src.plotters.common import to_numpy


def test_to_numpy():
    t = torch.arange(6.0, requires_grad=True).view(2, 3) * 2        # part of a graph
    a = to_numpy(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and a.tolist() == [[0, 2, 4], [6, 8, 10]]
    assert to_numpy(t, np.float64).dtype == np.float64
    assert to_numpy(torch.tensor([1, 2]), np.float32).tolist() == [1.0, 2.0]
    assert to_numpy([[1, 2], [3, 4]]).shape == (2, 2)
    assert to_numpy(3.5).shape == () and float(to_numpy(3.5)) == 3.5
    arr = np.ones(3)
    assert to_numpy(arr) is arr                                      # arrays pass through without a copy
