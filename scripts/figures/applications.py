"""The figures of the applications, notebook images beside ours-vs-paper bars: latent-space OT
(pics/latent_ot.png), colour transfer, domain adaptation and style transfer."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from .inputs import Inputs
from .style import COLORS, footer, show_image


def plot_bars(ax, names, ours, paper, ours_label, paper_label, fmt="{:.1f}", size=7.5):
    x = np.arange(len(names))
    w = 0.38
    for off, vals, label, c in ((-w / 2, ours, ours_label, COLORS["ours"]), (w / 2, paper, paper_label, "0.6")):
        bars = ax.bar(x + off, vals, w, label=label, color=c)
        for bar, v in zip(bars, vals):
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), fmt.format(v), ha="center", va="bottom",
                    fontsize=size)
    ax.set_xticks(x, names, fontsize=size + 0.5)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=size, loc="upper left")
    ax.set_ylim(0, 1.4 * max(max(ours), max(paper)))


LATENT_ROWS = (("reconstruct", "reconstruction"), ("raw_decode", "raw N(0, I)"), ("w2gn", "AE + W2GN"))
DA_ROWS = (("knn_no_adaptation", "no adaptation"), ("knn_emd", "discrete OT\n(EMD)"),
           ("knn_w2gn_train", "W2GN, train"), ("knn_w2gn_test", "W2GN, test"))


def plot_fid(ax, inp: Inputs, size=7.5):
    m = inp.get("latent_ot", "metrics")
    paper = inp.get("latent_ot", "metrics", "paper_fid")
    plot_bars(ax, [n for _, n in LATENT_ROWS], [m[f"fid_{k}"] for k, _ in LATENT_ROWS],
              [paper[k] for k, _ in LATENT_ROWS], f"ours ({inp.get('latent_ot', 'profile')}: MNIST, "
              f"n = {m['n_fid_samples']})", "paper (CelebA MSE-AE)", size=size)
    ax.set_ylabel("FID (lower is better)", fontsize=size + 1)


def plot_knn(ax, inp: Inputs, size=7.5):
    m = inp.get("domain_adaptation", "metrics")
    paper = inp.get("domain_adaptation", "paper")
    plot_bars(ax, [n for _, n in DA_ROWS], [m[k] for k, _ in DA_ROWS], [paper[k] for k, _ in DA_ROWS],
              f"ours ({inp.get('domain_adaptation', 'profile')}: UCI digits → MNIST)", "paper (USPS → MNIST)",
              fmt="{:.3f}", size=size)
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("1-NN accuracy", fontsize=size + 1)


def fig_latent(inp: Inputs):
    img = inp.notebook_image("latent_samples")
    m = inp.get("latent_ot", "metrics")
    fig = plt.figure(figsize=(12.2, 4.75))
    show_image(fig.add_axes([0.0, 0.13, 0.62, 0.86]), img)
    ax = fig.add_axes([0.68, 0.24, 0.31, 0.68])
    plot_fid(ax, inp)
    ax.set_title(f"FID ({m['iterations']} W2GN steps)", fontsize=9)
    footer(fig, "Left: the same noise decoded raw and after the inverse map ∇ψ_ω (notebooks/"
                "W2GN_latent_space_optimal_transport.ipynb). FIDs of different data sets and sample sizes: compare "
                "the ordering, not the values. " + inp.note("latent_ot"))
    return fig


def fig_color(inp: Inputs):
    images = inp.notebook_image("color_images")
    clouds = [inp.notebook_image("color_clouds", i) for i in (0, 1)]
    m = inp.get("color_transfer", "metrics")
    w = images.shape[1] / 100
    rows = [images.shape[0] / 100 * 1.0, clouds[0].shape[0] / 100, clouds[1].shape[0] / 100]
    foot = 0.5
    fig = plt.figure(figsize=(w, sum(rows) + foot))
    H = fig.get_figheight()
    y = 1.0
    labels = (None, "forward map\n∇ψ_θ", "inverse map\n∇ψ_ω")
    for im, h, label in zip((images, *clouds), rows, labels):
        y -= h / H
        if label is None:
            show_image(fig.add_axes([0, y, 1, h / H]), im)
        else:
            aw = im.shape[1] / 100 / w
            show_image(fig.add_axes([0.16, y, aw, h / H]), im)
            fig.text(0.08, y + h / H / 2, label, ha="center", va="center", fontsize=10)
    footer(fig, f"Top: the images (notebooks/W2GN_color_transfer.ipynb); below: RGB palettes (each point drawn in its "
                f"own colour). Sliced W2 to the palette {m['sliced_w2_before']:.3f} → {m['sliced_w2_after']:.3f}; "
                f"inverse map to the source {m['sliced_w2_inverse_after']:.3f}; cycle RMS {m['cycle_error']:.3f}. "
           + inp.note("color_transfer"))
    return fig


def fig_domain(inp: Inputs):
    img = inp.notebook_image("da_pca")
    fig = plt.figure(figsize=(13.0, 4.0))
    iw = img.shape[1] / 100 / 13.0
    show_image(fig.add_axes([0.0, 0.2, iw, img.shape[0] / 100 / 4.0]), img)
    ax = fig.add_axes([iw + 0.045, 0.3, 0.99 - iw - 0.045, 0.62])
    plot_knn(ax, inp, size=7)
    ax.set_title("1-NN accuracy of mapped source features", fontsize=9)
    footer(fig, "Left: LeNet features in the plane of the target features' first two principal components, coloured "
                "by digit (notebooks/W2GN_domain_adaptation.ipynb). " + inp.note("domain_adaptation"))
    return fig


def _style_note(m: dict) -> str:
    """The style-transfer numbers of results/style_transfer.json, in words."""
    k = m.get("known_map")
    fid = (f"FID(B, ·) {m['fid_before']:.1f} → {m['fid_after']:.1f} ({m['fid_samples']} images per set)"
           if m.get("fid_before") is not None else "no FID")
    if not k:
        return f"OFFLINE SUBSTITUTE DOMAINS, {m['image_size']} px, {m['iterations']} steps: {fid}"
    return (f"OFFLINE SUBSTITUTE WITH A KNOWN OPTIMAL MAP T = ∇φ (B = T(other crops of A's photos)), "
            f"{m['image_size']} px, {m['iterations']} steps: L2-UVP forward {k['l2_uvp_forward']:.1f} %, inverse "
            f"{k['l2_uvp_inverse']:.1f} % (identity {k['l2_uvp_identity_forward']:.1f} / "
            f"{k['l2_uvp_identity_inverse']:.1f} %, colour-only Gaussian OT {k['l2_uvp_colour_baseline_forward']:.1f} %, "
            f"{k['n_eval']} held-out images); {fid}")


def fig_style(inp: Inputs):
    m = inp.get("style_transfer", "metrics")
    images = inp.notebook_images("style_grids")
    # known-map runs: the grid with the truth (A, ∇ψ_θ(A), T(A), B, ∇ψ_ω(B), source of B); else the two grids
    grids = [images[2]] if m.get("known_map") and len(images) > 2 else [images[0], images[1]]
    w = sum(g.shape[1] for g in grids) / 100
    h = max(g.shape[0] for g in grids) / 100
    foot = 1.6 if m.get("known_map") else 0.75
    fig = plt.figure(figsize=(max(w, 6.0), h + foot))
    x = 0.0
    for g in grids:
        show_image(fig.add_axes([x, foot / (h + foot), g.shape[1] / 100 / max(w, 6.0), g.shape[0] / 100 / (h + foot)]), g)
        x += g.shape[1] / 100 / max(w, 6.0)
    footer(fig, _style_note(m) + "; grids from notebooks/W2GN_style_transfer.ipynb. " + inp.note("style_transfer"),
           fontsize=7)
    return fig
