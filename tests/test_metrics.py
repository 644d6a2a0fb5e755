import numpy as np
import pytest
import torch

from src.metrics import (cosine_similarity, energy_distance, frechet_distance, knn_accuracy, l2_uvp,
                         sliced_wasserstein)


def test_l2_uvp_and_cosine():
    x = torch.randn(1000, 4)
    opt = 2 * x
    assert l2_uvp(opt, opt, 4.0) == 0
    assert l2_uvp(opt + 1, opt, 4.0) == pytest.approx(100.0)
    assert cosine_similarity(x, opt, opt) == pytest.approx(1.0)
    assert cosine_similarity(x, x - (opt - x), opt) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        l2_uvp(x, x[:, :2], 1.0)


def test_energy_distance_properties():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(800, 2, generator=g), torch.randn(800, 2, generator=g)
    c = torch.randn(800, 2, generator=g) + 3
    same, far = energy_distance(a, b), energy_distance(a, c)
    assert abs(same) < 0.02 and far > 2.0
    # hand formula on a tiny example
    x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[3.0], [5.0]])
    cross = np.mean([3, 5, 2, 4])
    assert energy_distance(x, y) == pytest.approx(2 * cross - 1 - 2)


def test_knn_accuracy():
    tr = torch.tensor([[0.0, 0], [10, 10]])
    lab = torch.tensor([0, 1])
    te = torch.tensor([[1.0, 1], [9, 9], [8, 8]])
    assert knn_accuracy(tr, lab, te, torch.tensor([0, 1, 0])) == pytest.approx(2 / 3)


def test_frechet_and_sliced():
    mu, s = np.zeros(3), np.eye(3)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0, abs=1e-10)
    assert frechet_distance(mu, s, mu + 1, s) == pytest.approx(3.0)
    x = torch.randn(500, 3)
    assert sliced_wasserstein(x, x) == 0
    assert sliced_wasserstein(x, x + torch.tensor([1.0, 0, 0])) > 0.3
