"""Plots of the autoencoder / latent-OT experiment: image grids, reconstructions, loss curves, FID bars."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _image_grid(images, nrow: int) -> np.ndarray:
    """``[N, C, H, W]`` tensor/array in [-1, 1] -> one ``[rows·H, nrow·W(, 3)]`` array in [0, 1]."""
    x = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=np.float32)
    x = np.clip((x + 1) / 2, 0, 1)
    n, c, h, w = x.shape
    rows = int(np.ceil(n / nrow))
    grid = np.ones((c, rows * (h + 1) - 1, nrow * (w + 1) - 1), dtype=np.float32)
    for i in range(n):
        r, q = divmod(i, nrow)
        grid[:, r * (h + 1):r * (h + 1) + h, q * (w + 1):q * (w + 1) + w] = x[i]
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def plot_image_grid(images, nrow: int = 8, title: str | None = None, ax=None, figsize=(5, 5)):
    """Show images ``[N, C, H, W]`` in [-1, 1] as a grid. Returns ``(fig, ax)``."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=figsize)
    grid = _image_grid(images, nrow)
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return fig, ax


def plot_reconstructions(originals, reconstructions, n: int = 16, nrow: int = 8):
    """Originals (top) and their reconstructions (bottom). Returns ``(fig, axes)``."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.8))
    plot_image_grid(originals[:n], nrow, "originals", ax=axes[0])
    plot_image_grid(reconstructions[:n], nrow, "reconstructions", ax=axes[1])
    fig.tight_layout()
    return fig, axes


def plot_loss_curves(history: dict, keys=("loss",), smooth: float | None = 0.2, title: str | None = None,
                     logy: bool = True, min_points_to_smooth: int = 50):
    """One panel per key of a training history (``iteration`` on x), with an EWMA when the history
    has at least ``min_points_to_smooth`` points (shorter ones are shown raw). Returns ``(fig, axes)``."""
    from ..utils import ewma

    keys = [k for k in keys if k in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    it = np.asarray(history["iteration"])
    smooth = smooth if len(it) >= min_points_to_smooth else None
    for ax, k in zip(axes[0], keys):
        v = np.asarray(history[k], dtype=float)
        ax.plot(it, v, alpha=0.4 if smooth else 1.0, label="raw")
        if smooth and len(v) > 2:
            ax.plot(it, ewma(v, smooth), label=f"ewma {smooth}")
        if logy and np.all(v > 0):
            ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.set_title(k)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, axes


def plot_generated_comparison(raw, transported, nrow: int = 8, titles=("decoded N(0, I) (raw)",
                                                                       "decoded ∇ψ_ω(N(0, I)) (AE + W2GN)")):
    """Side by side: decoded raw noise vs decoded transported noise (same noise). Returns ``(fig, axes)``."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    plot_image_grid(raw, nrow, titles[0], ax=axes[0])
    plot_image_grid(transported, nrow, titles[1], ax=axes[1])
    fig.tight_layout()
    return fig, axes


def plot_latent_pca(codes, noise, transported, n: int = 2000):
    """2-D PCA (fitted on the data codes) of data codes, raw noise N(0, I) and transported noise.

    Returns ``(fig, axes)``: left codes vs raw noise, right codes vs transported noise.
    """
    def arr(t):
        return np.asarray(t.detach().cpu() if hasattr(t, "detach") else t, dtype=np.float64)[:n]

    c, z, t = arr(codes), arr(noise), arr(transported)
    mean = c.mean(0)
    _, _, vt = np.linalg.svd(c - mean, full_matrices=False)
    proj = vt[:2].T
    pc, pz, pt = (c - mean) @ proj, (z - mean) @ proj, (t - mean) @ proj
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.5), sharex=True, sharey=True)
    for ax, other, label in ((axes[0], pz, "N(0, I) noise"), (axes[1], pt, "∇ψ_ω(noise) (W2GN)")):
        ax.scatter(pc[:, 0], pc[:, 1], s=3, alpha=0.4, label="latent codes of data")
        ax.scatter(other[:, 0], other[:, 1], s=3, alpha=0.4, label=label)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.legend(markerscale=4, loc="upper right")
        ax.grid(alpha=0.3)
    axes[0].set_title("codes vs raw noise")
    axes[1].set_title("codes vs transported noise")
    fig.tight_layout()
    return fig, axes


def plot_fid_bars(fids: dict, paper: dict | None = None, title: str = "FID (lower is better)"):
    """Bars of our FIDs (``{name: value or None}``), with the paper's beside them when given."""
    names = list(fids)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    x = np.arange(len(names))
    ours = [np.nan if fids[k] is None else fids[k] for k in names]
    w = 0.38 if paper else 0.6
    ax.bar(x - (w / 2 if paper else 0), ours, w, label="ours")
    if paper:
        ax.bar(x + w / 2, [paper.get(k, np.nan) for k in names], w, label="paper (CelebA, MSE-AE)")
    ax.set_xticks(x, names)
    ax.set_title(title)
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig, ax
