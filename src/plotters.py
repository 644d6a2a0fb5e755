"""Plotting helpers for the notebooks (matplotlib, imported by notebooks only — not by the core).
Every function returns ``(fig, axes)``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# Each experiment's plotting helpers live in their own section below.

# ==== common ====
# ==== end common ====

# ==== toy / gaussians ====
def _np2(x):
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64)


def plot_toy_maps(X, Y, Y_fwd, X_inv, centers=None, stds=None, title: str | None = None,
                  radius: float = 3.0, lim: float | None = None, s: float = 2.0):
    """Four 2-D scatter panels: input X, target Y, forward map ∇ψ_θ(X), inverse map ∇ψ_ω(Y).

    Args:
        X, Y, Y_fwd, X_inv: ``[N, 2]`` points (tensors or arrays).
        centers, stds: optional mixture centres ``[K, 2]`` and stds ``[K]``; circles of
            ``radius`` stds are drawn on the target-space panels (the mode-coverage regions).
        lim: half-width of the axes (default: from the data).
    """
    pts = [_np2(p) for p in (X, Y, Y_fwd, X_inv)]
    names = ["input X ~ N(0, I)", "target Y", "forward ∇ψ_θ(X)", "inverse ∇ψ_ω(Y)"]
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    lim = lim or 1.1 * float(np.percentile(np.abs(np.concatenate(pts[:2])), 99.9))
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), sharex=True, sharey=True)
    for i, (ax, p, name, c) in enumerate(zip(axes, pts, names, colors)):
        ax.scatter(p[:, 0], p[:, 1], s=s, c=c, alpha=0.6, linewidths=0)
        if centers is not None and i in (1, 2):
            cs, ss = _np2(centers), np.broadcast_to(_np2(stds if stds is not None else 1.0), (len(_np2(centers)),))
            for (cx, cy), r in zip(cs, ss):
                ax.add_patch(plt.Circle((cx, cy), radius * r, fill=False, lw=0.4, color="k", alpha=0.4))
        ax.set_title(name, fontsize=10)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    if title:
        fig.suptitle(title)
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
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False)
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
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].set_ylabel("energy distance")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig, axes


def plot_mode_shares(coverages: dict, ncols: int = 4):
    """Histogram of the components' shares / expected share for each mixture target.

    Args:
        coverages: ``{name: mode_coverage(...) dict}``.
    """
    n = len(coverages)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False)
    for ax, (name, cov) in zip(axes.flat, coverages.items()):
        ratio = np.asarray(cov["shares"]) / np.asarray(cov["expected"])
        ax.hist(ratio, bins=np.linspace(0, max(2.0, ratio.max() * 1.05), 21), color="tab:gray")
        ax.axvline(0.2, color="tab:red", ls="--", lw=1, label="dropped below 0.2")
        ax.set_title(f"{name}: {cov['modes_covered']}/{cov['n_modes']} modes", fontsize=10)
        ax.set_xlabel("share / expected share")
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].set_ylabel("components")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return fig, axes
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
    X, Y, fwd, fwd_opt, inv, inv_opt = (_np2(a)[:n] for a in (X, Y, fwd, fwd_opt, inv, inv_opt))
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
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.6 * nrows), squeeze=False)
    for ax, (dim, c) in zip(axes.flat, curves.items()):
        ax.plot(c["iteration"], c["l2_uvp"], label="forward ∇ψ_θ")
        ax.plot(c["iteration"], c["l2_uvp_inverse"], label="inverse ∇ψ_ω")
        if logy:
            ax.set_yscale("log")
        ax.set_title(f"D = {dim}", fontsize=10)
        ax.set_xlabel("iteration")
        ax.grid(alpha=0.3)
    for ax in axes.flat[n:]:
        ax.axis("off")
    axes[0, 0].set_ylabel("L2-UVP, %")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig, axes


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
# ==== end toy / gaussians ====

# ==== color_transfer ====
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
# ==== end color_transfer ====

# ==== domain_adaptation ====
def _da_np(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x)


def fit_pca(features, n_components: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """PCA of ``features`` ``[N, d]``: ``(mean [d], components [n_components, d])`` (SVD, float64).
    Project with ``(x - mean) @ components.T``; fit once (on the target domain) and reuse it so
    the panels of :func:`plot_pca_domains` share axes."""
    f = _da_np(features).astype(np.float64)
    mean = f.mean(0)
    _, _, vt = np.linalg.svd(f - mean, full_matrices=False)
    return mean, vt[:n_components]


def plot_digit_domains(domains: dict, n_per_class: int = 6, size: float = 0.5):
    """Example images of each domain: one panel per ``{title: (X [N,1,H,W], y [N])}``, a column
    per class 0..9 and ``n_per_class`` rows (the first images of each class)."""
    fig, axes = plt.subplots(1, len(domains), figsize=(len(domains) * 10 * size + 0.5, n_per_class * size + 0.6),
                             squeeze=False)
    for ax, (title, (X, y)) in zip(axes[0], domains.items()):
        X, y = _da_np(X), _da_np(y)
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
        f, y = _da_np(f).astype(np.float64), _da_np(y)
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
# ==== end domain_adaptation ====

# ==== latent_ot ====
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
    from .utils import ewma

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
# ==== end latent_ot ====

# ==== style_transfer ====
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
# ==== end style_transfer ====

# ==== baselines / benchmark ====
def _paper_value(v):
    """Numeric value of a paper table cell ("<1" → 1 as an upper bound, ">50" → 50)."""
    if v is None:
        return np.nan
    s = str(v).strip()
    return float(s.lstrip("<>")) if s else np.nan


def plot_uvp_vs_dim(uvp: dict, paper: dict | None = None, title: str | None = "L2-UVP vs dimension",
                    ax=None):
    """L2-UVP % against dimension, one line per method.

    Args:
        uvp: ``{method: {dim (int or str): uvp %}}`` (ours, solid lines with markers).
        paper: optional ``{"dims": [...], method: [cell, ...]}`` (the paper's table, cells such
            as "1.2", "<1", ">50"), drawn dashed in the same colour; "<1"/">50" are drawn at 1/50.
    """
    fig, ax = (plt.subplots(figsize=(6.5, 4.2)) if ax is None else (ax.figure, ax))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (method, values) in enumerate(uvp.items()):
        dims = sorted(int(d) for d in values)
        vals = [values.get(d, values.get(str(d))) for d in dims]
        c = colors[i % len(colors)]
        ax.plot(dims, vals, "o-", color=c, label=f"{method} (ours)")
        if paper is not None and method in paper:
            ax.plot(paper["dims"], [_paper_value(v) for v in paper[method]], "--", color=c, alpha=0.6,
                    label=f"{method} (paper)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("dimension D")
    ax.set_ylabel("L2-UVP, %")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig, ax


def plot_time_vs_dim(times: dict, title: str | None = "training wall time", ax=None):
    """Wall time (s) against dimension, one line per method (``{method: {dim: seconds}}``)."""
    fig, ax = (plt.subplots(figsize=(6.5, 4.2)) if ax is None else (ax.figure, ax))
    for method, values in times.items():
        dims = sorted(int(d) for d in values)
        ax.plot(dims, [values.get(d, values.get(str(d))) for d in dims], "o-", label=method)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("dimension D")
    ax.set_ylabel("seconds")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax
# ==== end baselines / benchmark ====
