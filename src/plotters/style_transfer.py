"""Plots of the style-transfer experiment: unpaired domains, transport grids, history, distances."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _st_grid(images, nrow: int, value_range=(-1.0, 1.0)) -> np.ndarray:
    """``[N, C, H, W]`` tensor/array in ``value_range`` -> one ``[rows·H, nrow·W, 3]`` array in [0, 1]."""
    x = images.detach().cpu().float().numpy() if hasattr(images, "detach") else np.asarray(images, np.float32)
    lo, hi = value_range
    x = np.clip((x - lo) / (hi - lo), 0, 1)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    n, c, h, w = x.shape
    rows = -(-n // nrow)
    pad = np.ones((rows * nrow - n, c, h, w), dtype=x.dtype)
    x = np.concatenate([x, pad]).reshape(rows, nrow, c, h, w)
    return x.transpose(0, 3, 1, 4, 2).reshape(rows * h, nrow * w, c)


def plot_unpaired_domains(a, b, names=("A", "B"), n: int = 32, nrow: int = 8, size: float = 4.0,
                          value_range=(-1.0, 1.0)):
    """Side-by-side grids of ``n`` images of each domain (``[N, 3, H, W]`` in ``value_range``)."""
    fig, axes = plt.subplots(1, 2, figsize=(2 * size, size * (-(-n // nrow)) / nrow + 0.4))
    for ax, imgs, name in zip(axes, (a, b), names):
        ax.imshow(_st_grid(imgs[:n], nrow, value_range), interpolation="nearest")
        ax.set_title(name)
        ax.axis("off")
    fig.tight_layout()
    return fig, axes


def plot_transport_grid(x, x_fwd, y, y_inv, n: int = 8, title: str | None = None,
                        names=("A", "B"), size: float = 0.8, value_range=(-1.0, 1.0)):
    """Four rows of ``n`` images: inputs ``x`` ~ A, their forward map ∇ψ_θ(x), inputs ``y`` ~ B,
    their inverse map ∇ψ_ω(y) (all ``[N, 3, H, W]`` in ``value_range``; mapped images are clipped).
    ``names`` (of A and B) go into the title."""
    rows = [(x, "A"), (x_fwd, "∇ψ_θ(A)"), (y, "B"), (y_inv, "∇ψ_ω(B)")]
    fig, axes = plt.subplots(len(rows), 1, figsize=(n * size + 1.0, len(rows) * size + 0.7))
    for ax, (imgs, label) in zip(axes, rows):
        ax.imshow(_st_grid(imgs[:n], n, value_range), interpolation="nearest")
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    head = f"A = {names[0]}, B = {names[1]}"
    fig.suptitle(f"{title}\n{head}" if title else head, fontsize=9)
    fig.tight_layout()
    return fig, axes


def plot_style_history(history: dict, keys=("w2", "cycle_x", "cycle_y"), smooth: float = 0.1):
    """Training curves of a W2GN history (one panel per key, raw and EWMA-smoothed)."""
    keys = [k for k in keys if k in history]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3), squeeze=False)
    it = np.asarray(history["iteration"])
    for ax, k in zip(axes[0], keys):
        v = np.asarray(history[k], dtype=float)
        ax.plot(it, v, alpha=0.35, lw=1)
        acc, sm = v[0], []
        for val in v:
            acc = smooth * val + (1 - smooth) * acc
            sm.append(acc)
        ax.plot(it, sm, lw=1.5)
        ax.set_title(k)
        ax.set_xlabel("iteration")
        if k.startswith("cycle"):
            ax.set_yscale("log")
    fig.tight_layout()
    return fig, axes


def plot_distance_bars(before: dict, after: dict, title: str = "distance to the target domain (lower is better)"):
    """Grouped bars of metrics before vs after mapping (dicts name -> value; None is skipped)."""
    names = [k for k in before if before[k] is not None and after.get(k) is not None]
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3), squeeze=False)
    for ax, k in zip(axes[0], names):
        bars = ax.bar(["before", "after"], [before[k], after[k]], color=["#999999", "#3b75af"])
        ax.bar_label(bars, fmt="%.3g")
        ax.set_title(k, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig, axes
