"""Metrics: L2-UVP, the benchmark's cosine similarity, energy distance, 1-NN accuracy, Fréchet
distance, and two checks of a transport map on samples: the sliced W2 distance and the exact W2²
between two point clouds (:func:`exact_w2`). Depends on torch/numpy/scipy only (FID's network is imported lazily elsewhere)."""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["l2_uvp", "cosine_similarity", "energy_distance", "knn_accuracy", "frechet_distance",
           "sliced_wasserstein", "exact_w2"]


def _t(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def l2_uvp(mapped, optimal, target_variance: float) -> float:
    """L2 unexplained variance percentage: 100 · E‖T̂(x) − T*(x)‖² / Var(Q).

    Args:
        mapped: ``[N, D]`` fitted map applied to samples x ~ P.
        optimal: ``[N, D]`` optimal map at the same x.
        target_variance: total variance of Q (trace of its covariance, sum over coordinates).
    """
    mapped, optimal = _t(mapped).double(), _t(optimal).double()
    if mapped.shape != optimal.shape:
        raise ValueError(f"shapes differ: mapped {list(mapped.shape)} vs optimal {list(optimal.shape)}")
    if not target_variance > 0:
        raise ValueError(f"target_variance must be > 0, got {target_variance}")
    return float(100.0 * ((mapped - optimal) ** 2).flatten(1).sum(1).mean() / target_variance)


def cosine_similarity(x, mapped, optimal) -> float:
    """The Wasserstein-2 benchmark's cosine: E<T*(x)−x, T̂(x)−x> / sqrt(E‖T*(x)−x‖² E‖T̂(x)−x‖²)."""
    x, mapped, optimal = (_t(a).double().flatten(1) for a in (x, mapped, optimal))
    u, v = optimal - x, mapped - x
    return float((u * v).sum(1).mean() / ((u * u).sum(1).mean() * (v * v).sum(1).mean()).sqrt())


def _mean_dist(a: torch.Tensor, b: torch.Tensor, exclude_diagonal: bool, chunk: int = 2048) -> torch.Tensor:
    total = torch.zeros((), dtype=torch.float64, device=a.device)
    for i in range(0, a.shape[0], chunk):
        total += torch.cdist(a[i:i + chunk], b).sum()
    n_pairs = a.shape[0] * b.shape[0] - (a.shape[0] if exclude_diagonal else 0)
    return total / n_pairs


def energy_distance(X, Y) -> float:
    """Two-sample (unbiased) energy distance 2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ (X' ≠ X within sample)."""
    X, Y = _t(X).double().flatten(1), _t(Y).double().flatten(1)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"dimensions differ: {X.shape[1]} vs {Y.shape[1]}")
    if min(X.shape[0], Y.shape[0]) < 2:
        raise ValueError("energy_distance needs at least 2 samples on each side")
    return float(2 * _mean_dist(X, Y, False) - _mean_dist(X, X, True) - _mean_dist(Y, Y, True))


def knn_accuracy(train_features, train_labels, test_features, test_labels, k: int = 1, chunk: int = 1024) -> float:
    """Accuracy of a k-nearest-neighbour classifier (Euclidean; majority vote) fit on the train set."""
    train_features, test_features = _t(train_features).float().flatten(1), _t(test_features).float().flatten(1)
    train_labels, test_labels = _t(train_labels).long(), _t(test_labels).long()
    test_features = test_features.to(train_features.device)
    preds = []
    for i in range(0, test_features.shape[0], chunk):
        d = torch.cdist(test_features[i:i + chunk], train_features)
        idx = d.topk(k, dim=1, largest=False).indices
        votes = train_labels.to(idx.device)[idx]
        preds.append(votes.mode(dim=1).values if k > 1 else votes[:, 0])
    pred = torch.cat(preds).cpu()
    return float((pred == test_labels.cpu()).double().mean())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (the FID formula), computed
    as ‖mu1 − mu2‖² + tr σ1 + tr σ2 − 2 Σ sqrt(eig(σ1^{1/2} σ2 σ1^{1/2})) in float64."""
    from .gaussian import w2_squared  # the same closed form

    return w2_squared(np.asarray(mu1, np.float64), np.asarray(sigma1, np.float64),
                      np.asarray(mu2, np.float64), np.asarray(sigma2, np.float64))


def sliced_wasserstein(X, Y, n_projections: int = 256, seed: int = 0) -> float:
    """Sliced W2 distance (sqrt of the mean over random directions of 1-D W2²); equal sample sizes."""
    X, Y = _t(X).double().flatten(1), _t(Y).double().flatten(1)
    if X.shape != Y.shape:
        raise ValueError(f"sliced_wasserstein needs equal shapes, got {list(X.shape)} and {list(Y.shape)}")
    g = torch.Generator().manual_seed(seed)
    theta = torch.randn(X.shape[1], n_projections, generator=g, dtype=torch.float64).to(X.device)
    theta = theta / theta.norm(dim=0, keepdim=True)
    px, _ = (X @ theta).sort(dim=0)
    py, _ = (Y @ theta).sort(dim=0)
    return float(((px - py) ** 2).mean().sqrt())


def exact_w2(X, Y, max_points: int = 5000) -> float:
    """W2² between the empirical distributions of two equally sized point clouds ``X``, ``Y``
    ``[n, ...]`` (each point of weight 1/n): the mean squared distance of the optimal matching,
    solved exactly as an assignment problem (``scipy.optimize.linear_sum_assignment``; O(n³), so
    ``n`` ≤ ``max_points``). With ``Y`` the images of ``X`` under a map T this is *not* the map's
    cost: compare ``exact_w2(T(X), Y_samples)`` (≈ 0 when T pushes P to Q, up to the sampling
    error of n points) and ``mean‖X − T(X)‖²`` against ``exact_w2(X, Y_samples)``.

    Returns:
        the squared distance W2² (a float; the square root is W2).
    """
    from scipy.optimize import linear_sum_assignment

    X, Y = _t(X).double().flatten(1).cpu(), _t(Y).double().flatten(1).cpu()
    if X.shape != Y.shape:
        raise ValueError(f"exact_w2 needs point clouds of equal shape, got {list(X.shape)} and {list(Y.shape)}")
    if X.shape[0] == 0 or X.shape[0] > max_points:
        raise ValueError(f"exact_w2 needs 1 … {max_points} points (O(n³) time), got {X.shape[0]}; "
                         "subsample, or raise max_points")
    cost = torch.cdist(X, Y).pow(2).numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())
