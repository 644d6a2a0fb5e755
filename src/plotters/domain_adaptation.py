"""Plots of the domain-adaptation experiment: digit domains, PCA of features, 1-NN accuracy."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import to_numpy


def fit_pca(features, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """PCA of ``features`` ``[N, d]``: ``(mean [d], components [n_components, d])`` (SVD, float64).
    Project with ``(x - mean) @ components.T``; fit once (on the target domain) and reuse it so
    the panels of :func:`plot_pca_domains` share axes."""
    f = to_numpy(features).astype(np.float64)
    mean = f.mean(0)
    _, _, vt = np.linalg.svd(f - mean, full_matrices=False)
    return mean, vt[:n_components]


def plot_digit_domains(domains: dict, n_per_class: int = 6, size: float = 0.5):
    """Example images of each domain: one panel per ``{title: (X [N,1,H,W], y [N])}``, a column
    per class 0..9 and ``n_per_class`` rows (the first images of each class)."""
    fig, axes = plt.subplots(1, len(domains), figsize=(len(domains) * 10 * size + 0.5, n_per_class * size + 0.6),
                             squeeze=False)
    for ax, (title, (X, y)) in zip(axes[0], domains.items()):
        X, y = to_numpy(X), to_numpy(y)
        h, w = X.shape[-2:]
        canvas = np.ones((n_per_class * h, 10 * w))
        for c in range(10):
            idx = np.flatnonzero(y == c)[:n_per_class]
            for r, i in enumerate(idx):
                canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = X[i].reshape(h, w)
        ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_xticks((np.arange(10) + 0.5) * w, [str(c) for c in range(10)], fontsize=8)
        ax.set_yticks([])
    fig.tight_layout()
    return fig, axes[0]


def plot_pca_domains(panels: dict, pca: tuple | None = None, n: int = 2000, s: float = 3.0, seed: int = 0,
                     ncols: int | None = None):
    """2-D PCA scatter of feature sets coloured by class (tab10), one panel per
    ``{title: (features [N, d], labels [N])}``, all in the coordinates of ``pca`` (default:
    :func:`fit_pca` of the first panel) with shared axis limits; at most ``n`` points a panel."""
    items = list(panels.items())
    pca = pca if pca is not None else fit_pca(items[0][1][0])
    mean, comps = pca
    rng = np.random.default_rng(seed)
    ncols = ncols or len(items)
    nrows = -(-len(items) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows), sharex=True, sharey=True,
                             squeeze=False)
    for ax, (title, (f, y)) in zip(axes.flat, items):
        f, y = to_numpy(f).astype(np.float64), to_numpy(y)
        idx = rng.permutation(len(f))[:n]
        z = (f[idx] - mean) @ comps.T
        sc = ax.scatter(z[:, 0], z[:, 1], c=y[idx], cmap="tab10", vmin=-0.5, vmax=9.5, s=s, linewidths=0)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("PC 1")
    for ax in axes.flat[len(items):]:
        ax.axis("off")
    for row in axes:
        row[0].set_ylabel("PC 2")
    cbar = fig.colorbar(sc, ax=list(axes.flat), ticks=range(10), shrink=0.9)
    cbar.set_label("digit")
    return fig, axes


def plot_knn_accuracy(history: dict, baselines: dict | None = None, paper: dict | None = None):
    """1-NN accuracy of the transported features during W2GN training.

    Args:
        history: ``{"iteration": [...], name: [accuracy, ...], ...}`` (a KnnAccuracyTracker's).
        baselines: ``{label: accuracy}`` drawn as dashed horizontal lines (ours).
        paper: ``{label: accuracy}`` drawn as dotted grey lines (the paper's numbers).
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    it = history["iteration"]
    for name, values in history.items():
        if name != "iteration":
            ax.plot(it, values, marker="o", ms=3, label=f"W2GN ({name})")
    for i, (label, acc) in enumerate((baselines or {}).items()):
        ax.axhline(acc, ls="--", lw=1, color=f"C{i + 3}", label=f"{label}: {acc:.3f}")
    for label, acc in (paper or {}).items():
        ax.axhline(acc, ls=":", lw=1, color="grey")
        ax.annotate(f"paper {label} {acc:.3f}", (it[-1] if it else 0, acc), fontsize=7, color="grey",
                    ha="right", va="bottom")
    ax.set_xlabel("W2GN iteration")
    ax.set_ylabel("1-NN accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig, ax
