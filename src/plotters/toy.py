"""Plots of the toy and Gaussian experiments: 2-D maps, energy and L2-UVP curves, mode shares, PCA views."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .common import to_numpy


def _panel_grid(n: int, ncols: int, width: float, height: float):
    """``plt.subplots`` for ``n`` panels of ``width × height`` inches, ``ncols`` to a row."""
    nrows = -(-n // ncols)
    return plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)


def _finish_panels(fig, axes, n: int, ylabel: str, legend_size: float):
    """Hide the panels after the first ``n``, label and legend the first one; ``(fig, axes)``."""
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].set_ylabel(ylabel)
    axes.flat[0].legend(fontsize=legend_size)
    fig.tight_layout()
    return fig, axes


def _mode_circles(ax, centers, stds, radius: float) -> None:
    """Circles of ``radius`` stds around each mixture centre (the mode-coverage regions)."""
    cs = to_numpy(centers, np.float64)
    ss = np.broadcast_to(to_numpy(stds if stds is not None else 1.0, np.float64), (len(cs),))
    for (cx, cy), r in zip(cs, ss):
        ax.add_patch(plt.Circle((cx, cy), radius * r, fill=False, lw=0.4, color="k", alpha=0.4))


def plot_toy_maps(X, Y, Y_fwd, X_inv, centers=None, stds=None, title: str | None = None,
                  radius: float = 3.0, lim: float | None = None, s: float = 2.0):
    """Four 2-D scatter panels: input X, target Y, forward map ∇ψ_θ(X), inverse map ∇ψ_ω(Y).

    Args:
        X, Y, Y_fwd, X_inv: ``[N, 2]`` points (tensors or arrays).
        centers, stds: optional mixture centres ``[K, 2]`` and stds ``[K]``; circles of
            ``radius`` stds are drawn on the target-space panels (the mode-coverage regions).
        lim: half-width of the axes (default: from the data).
    """
    pts = [to_numpy(p, np.float64) for p in (X, Y, Y_fwd, X_inv)]
    names = ["input X ~ N(0, I)", "target Y", "forward ∇ψ_θ(X)", "inverse ∇ψ_ω(Y)"]
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    lim = lim or 1.1 * float(np.percentile(np.abs(np.concatenate(pts[:2])), 99.9))
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), sharex=True, sharey=True)
    for i, (ax, p, name, c) in enumerate(zip(axes, pts, names, colors)):
        ax.scatter(p[:, 0], p[:, 1], s=s, c=c, alpha=0.6, linewidths=0)
        if centers is not None and i in (1, 2):
            _mode_circles(ax, centers, stds, radius)
        ax.set_title(name, fontsize=10)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, axes


def plot_pushed_per_seed(pushed: dict, centers, stds, radius: float = 3.0, lim: float | None = None,
                         s: float = 2.0):
    """One scatter panel per training run of the forward map's samples, with the mode circles.

    Args:
        pushed: ``{label: [N, 2] points}`` (e.g. ``{"seed 0": ∇ψ_θ(X), ...}``).
        centers, stds: mixture centres ``[K, 2]`` and stds ``[K]``; circles of ``radius`` stds.
        lim: half-width of the axes (default: from the centres and the circles).
    """
    pts = {k: to_numpy(v, np.float64) for k, v in pushed.items()}
    cs = to_numpy(centers, np.float64)
    lim = lim or float(np.abs(cs).max() + 1.5 * radius * np.max(to_numpy(stds, np.float64)))
    n = len(pts)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.4), sharex=True, sharey=True, squeeze=False)
    for ax, (label, p) in zip(axes[0], pts.items()):
        ax.scatter(p[:, 0], p[:, 1], s=s, c="tab:green", alpha=0.6, linewidths=0)
        _mode_circles(ax, centers, stds, radius)
        ax.set_title(label, fontsize=10)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    fig.tight_layout()
    return fig, axes


def plot_energy_curves(curves: dict, ncols: int = 5, logy: bool = True, linthresh: float = 1e-4):
    """Energy distance of the forward and inverse maps during training, one panel per run.

    Args:
        curves: ``{name: {"iteration": [...], "forward": [...], "inverse": [...]}}``
            (e.g. :meth:`src.experiments.toy.EnergyTracker.as_dict`).
        logy: log y axis; symmetric-log (linear within ±``linthresh``) when a value is ≤ 0,
            which the unbiased estimator reaches at its noise level.
    """
    n = len(curves)
    fig, axes = _panel_grid(n, min(ncols, n), 3.2, 2.8)
    for ax, (name, c) in zip(axes.flat, curves.items()):
        ax.plot(c["iteration"], c["forward"], label="forward ∇ψ_θ(X) vs Y")
        ax.plot(c["iteration"], c["inverse"], label="inverse ∇ψ_ω(Y) vs X")
        if logy and min(c["forward"] + c["inverse"]) > 0:
            ax.set_yscale("log")
        elif logy:
            ax.set_yscale("symlog", linthresh=linthresh)
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    return _finish_panels(fig, axes, n, "energy distance", 7)


def plot_mode_shares(coverages: dict, ncols: int = 4):
    """Histogram of the components' shares / expected share for each mixture target.

    Args:
        coverages: ``{name: mode_coverage(...) dict}``.
    """
    n = len(coverages)
    fig, axes = _panel_grid(n, min(ncols, n), 3.2, 2.6)
    for ax, (name, cov) in zip(axes.flat, coverages.items()):
        ratio = np.asarray(cov["shares"]) / np.asarray(cov["expected"])
        ax.hist(ratio, bins=np.linspace(0, max(2.0, ratio.max() * 1.05), 21), color="tab:gray")
        ax.axvline(0.2, color="tab:red", ls="--", lw=1, label="dropped below 0.2")
        ax.set_title(f"{name}: {cov['modes_covered']}/{cov['n_modes']} modes", fontsize=10)
        ax.set_xlabel("share / expected share")
    return _finish_panels(fig, axes, n, "components", 7)


def _pca2(ref: np.ndarray):
    ref = np.asarray(ref, dtype=np.float64)
    mean = ref.mean(axis=0)
    _, _, vt = np.linalg.svd(ref - mean, full_matrices=False)
    basis = vt[:2].T
    if basis.shape[1] < 2:
        basis = np.pad(basis, ((0, 0), (0, 2 - basis.shape[1])))
    return lambda a: (np.asarray(a, dtype=np.float64) - mean) @ basis


def plot_pca_maps(X, Y, fwd, fwd_opt, inv, inv_opt, title: str | None = None, n: int = 1500, s: float = 2.0):
    """Forward and inverse maps in the plane of the first two principal components.

    Left: target Y, the optimal map T*(X) and the fitted ∇ψ_θ(X), projected on the PCA of Y.
    Right: input X, T*⁻¹(Y) and the fitted ∇ψ_ω(Y), projected on the PCA of X.
    All arguments are ``[N, D]`` arrays/tensors; ``n`` points of each are drawn.
    """
    X, Y, fwd, fwd_opt, inv, inv_opt = (to_numpy(a, np.float64)[:n] for a in (X, Y, fwd, fwd_opt, inv, inv_opt))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, ref, opt, fit, labels in (
        (axes[0], Y, fwd_opt, fwd, ("target Y ~ Q", "optimal T*(X)", "fitted ∇ψ_θ(X)")),
        (axes[1], X, inv_opt, inv, ("input X ~ P", "optimal T*⁻¹(Y)", "fitted ∇ψ_ω(Y)")),
    ):
        proj = _pca2(ref)
        for pts, lab, c, a in ((ref, labels[0], "tab:gray", 0.25), (opt, labels[1], "tab:orange", 0.5),
                               (fit, labels[2], "tab:blue", 0.5)):
            p = proj(pts)
            ax.scatter(p[:, 0], p[:, 1], s=s, c=c, alpha=a, linewidths=0, label=lab)
        ax.set_xlabel("PC 1")
        ax.set_ylabel("PC 2")
        ax.legend(markerscale=4, fontsize=8, loc="upper right")
    axes[0].set_title("forward map (PCA of Q)", fontsize=10)
    axes[1].set_title("inverse map (PCA of P)", fontsize=10)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig, axes


def plot_uvp_curves(curves: dict, ncols: int = 4, logy: bool = True):
    """L2-UVP (%) of the forward and inverse maps during training, one panel per dimension.

    Args:
        curves: ``{D: {"iteration": [...], "l2_uvp": [...], "l2_uvp_inverse": [...]}}``.
    """
    n = len(curves)
    fig, axes = _panel_grid(n, min(ncols, n), 3.2, 2.6)
    for ax, (dim, c) in zip(axes.flat, curves.items()):
        ax.plot(c["iteration"], c["l2_uvp"], label="forward ∇ψ_θ")
        ax.plot(c["iteration"], c["l2_uvp_inverse"], label="inverse ∇ψ_ω")
        if logy:
            ax.set_yscale("log")
        ax.set_title(f"D = {dim}", fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    return _finish_panels(fig, axes, n, "L2-UVP, %", 8)


def plot_l2_uvp_vs_dim(dims, ours: dict, reference: dict | None = None, logy: bool = True,
                       title: str = "L2-UVP against dimension"):
    """L2-UVP (%) against dimension (log₂ axis).

    Args:
        dims: the dimensions.
        ours: ``{label: {D: value}}`` curves drawn with markers.
        reference: ``{label: {D: value or None}}`` curves drawn dashed (``None`` is skipped,
            e.g. the paper's "<1" entries).
    """
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for label, vals in ours.items():
        ds = [d for d in dims if vals.get(d, vals.get(str(d))) is not None]
        ax.plot(ds, [vals.get(d, vals.get(str(d))) for d in ds], "o-", label=label)
    for label, vals in (reference or {}).items():
        ds = [d for d in dims if vals.get(d) is not None]
        ax.plot(ds, [vals[d] for d in ds], "s--", alpha=0.8, label=label)
    ax.set_xscale("log", base=2)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("dimension D")
    ax.set_ylabel("L2-UVP, %")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax
