"""Plots of the colour-transfer experiment: images, RGB colour clouds, training history."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_color_images(images: dict, ncols: int | None = None, size: float = 3.5):
    """Show ``uint8 [H, W, 3|4]`` images side by side; ``images`` maps title → image."""
    n = len(images)
    ncols = ncols or n
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols * 1.3, size * nrows), squeeze=False)
    for ax, (title, img) in zip(axes.flat, images.items()):
        ax.imshow(img)
        ax.set_title(title, fontsize=10)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig, axes


def plot_rgb_clouds(clouds: dict, n_points: int = 3000, seed: int = 0, size: float = 3.6):
    """RGB colour distributions as 3-D point clouds, each point drawn in its own colour.

    Args:
        clouds: title → colours ``[N, 3]`` (array or tensor) in [0, 1] (values are clipped).
        n_points: random points shown per cloud.
    """
    rng = np.random.default_rng(seed)
    n = len(clouds)
    fig = plt.figure(figsize=(size * n, size + 0.3))
    axes = []
    for i, (title, pts) in enumerate(clouds.items()):
        pts = np.clip(np.asarray(pts, dtype=np.float64).reshape(-1, 3), 0, 1)
        if pts.shape[0] > n_points:
            pts = pts[rng.choice(pts.shape[0], n_points, replace=False)]
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        ax.scatter(pts[:, 0], pts[:, 1], pts[:, 2], c=pts, s=2, depthshade=False)
        ax.set_xlim(0, 1), ax.set_ylim(0, 1), ax.set_zlim(0, 1)
        ax.set_xlabel("R"), ax.set_ylabel("G"), ax.set_zlabel("B")
        ax.set_title(title, fontsize=10)
        ax.view_init(elev=20, azim=-60)
        axes.append(ax)
    fig.tight_layout()
    return fig, np.array(axes)


def plot_color_transfer_history(history: dict):
    """W2² estimate and cycle regulariser of a W2GN colour-transfer fit against the iteration."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3))
    it = history["iteration"]
    axes[0].plot(it, history["w2"])
    axes[0].set_title("W2² estimate")
    axes[1].semilogy(it, history["cycle"])
    axes[1].set_title("cycle regulariser")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig, axes
