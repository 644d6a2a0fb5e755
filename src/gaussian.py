"""Closed-form optimal transport between Gaussians, and the paper's random Gaussian problems.

All matrix functions use float64 symmetric eigendecompositions (stable and fast up to
D = 4096; scipy's ``sqrtm`` is slow there and can turn complex).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["sqrtm_psd", "gaussian_ot_map", "w2_squared", "GaussianProblem", "random_gaussian_problem"]


def _sym(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {a.shape}")
    return (a + a.T) / 2


def sqrtm_psd(a: np.ndarray, inverse: bool = False) -> np.ndarray:
    """Symmetric square root (or inverse square root) of a PSD matrix, float64."""
    w, v = np.linalg.eigh(_sym(a))
    w = np.clip(w, 0.0, None)
    if inverse:
        if w.min() <= 0:
            raise ValueError("matrix is singular: no inverse square root")
        w = 1.0 / w
    return (v * np.sqrt(w)) @ v.T


def gaussian_ot_map(mean_x, cov_x, mean_y, cov_y) -> tuple[np.ndarray, np.ndarray]:
    """Optimal map x ↦ A x + b from N(mean_x, cov_x) to N(mean_y, cov_y) (quadratic cost).

    A = Σx^{-1/2} (Σx^{1/2} Σy Σx^{1/2})^{1/2} Σx^{-1/2},  b = m_y − A m_x.
    Returns float64 ``A`` ``[D, D]`` (symmetric PSD) and ``b`` ``[D]``.
    """
    mean_x, mean_y = np.asarray(mean_x, np.float64), np.asarray(mean_y, np.float64)
    root = sqrtm_psd(cov_x)
    inv_root = sqrtm_psd(cov_x, inverse=True)
    middle = sqrtm_psd(root @ _sym(cov_y) @ root)
    A = _sym(inv_root @ middle @ inv_root)
    return A, mean_y - A @ mean_x


def w2_squared(mean_x, cov_x, mean_y, cov_y) -> float:
    """W2² between two Gaussians: ‖m_x − m_y‖² + tr Σx + tr Σy − 2 tr (Σx^{1/2} Σy Σx^{1/2})^{1/2}."""
    root = sqrtm_psd(cov_x)
    cross = np.linalg.eigvalsh(_sym(root @ _sym(cov_y) @ root))
    diff = np.asarray(mean_x, np.float64) - np.asarray(mean_y, np.float64)
    return float(diff @ diff + np.trace(cov_x) + np.trace(cov_y) - 2 * np.sqrt(np.clip(cross, 0, None)).sum())


@dataclass
class GaussianProblem:
    """P = N(mean_x, cov_x), Q = N(mean_y, cov_y) and the optimal map x ↦ A x + b."""

    dim: int
    seed: int
    mean_x: np.ndarray
    cov_x: np.ndarray
    mean_y: np.ndarray
    cov_y: np.ndarray
    A: np.ndarray
    b: np.ndarray
    w2: float  # W2² (not halved)

    @property
    def var_y(self) -> float:
        """Total variance of Q (trace of its covariance), the L2-UVP normaliser."""
        return float(np.trace(self.cov_y))

    @property
    def var_x(self) -> float:
        return float(np.trace(self.cov_x))


def random_gaussian_problem(dim: int, seed: int = 0) -> GaussianProblem:
    """The paper's pair: Σ = R·diag(exp(linspace(log ½, log 2, D)))²·Rᵀ for X and for Y, each with
    its own random rotation R (scipy ``ortho_group``, seeded by ``seed`` — the *problem* seed,
    separate from any training seed), zero means."""
    from scipy.stats import ortho_group

    if dim < 1:
        raise ValueError(f"dim must be ≥ 1, got {dim}")
    rng = np.random.RandomState(seed)
    scales = np.exp(np.linspace(np.log(0.5), np.log(2.0), dim)) ** 2

    def cov() -> np.ndarray:
        R = ortho_group.rvs(dim, random_state=rng) if dim > 1 else np.ones((1, 1))
        return _sym((R * scales) @ R.T)

    cov_x, cov_y = cov(), cov()
    zero = np.zeros(dim)
    A, b = gaussian_ot_map(zero, cov_x, zero, cov_y)
    return GaussianProblem(dim, seed, zero, cov_x, zero.copy(), cov_y, A, b, w2_squared(zero, cov_x, zero, cov_y))
