"""The toy experiment's figures: the forward and inverse maps (pics/w2gn_mapping.png) and the
100-Gaussians coverage (pics/toy_100_gaussians.png), from the toy notebook's preserved panels."""
from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch

from .inputs import Inputs
from .style import fmt_small, footer, show_image


def _mapping_header(fig, y0: float, y1: float):
    """Arrows above the four toy panels: forward input → target space, inverse target → input space."""
    ax = fig.add_axes([0, y0, 1, y1 - y0])
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_axis_off()
    cols = (0.135, 0.385, 0.635, 0.885)  # centres of plot_toy_maps's four equal columns
    for (a, b), y, text, c in (((cols[0], cols[2]), 0.72, "forward map ∇ψ_θ : P → Q", "tab:green"),
                               ((cols[1], cols[3]), 0.2, "inverse map ∇ψ_ω ≈ (∇ψ_θ)⁻¹ : Q → P", "tab:purple")):
        ax.plot([a], [y], "o", color=c, ms=5)
        ax.add_patch(FancyArrowPatch((a, y), (b, y), arrowstyle="-|>", mutation_scale=16, color=c, lw=1.8))
        ax.text((a + b) / 2, y + 0.07, text, ha="center", va="bottom", color=c, fontsize=11,
                bbox=dict(fc="white", ec="none", pad=1))


def fig_mapping(inp: Inputs):
    toy = inp.get("toy", "metrics")
    imgs = [inp.toy_image("8g"), inp.toy_image("swiss")]
    w = imgs[0].shape[1] / 100
    heights = [im.shape[0] / 100 for im in imgs]
    head, foot = 0.8, 0.42
    fig = plt.figure(figsize=(w, sum(heights) + head + foot))
    H = fig.get_figheight()
    _mapping_header(fig, 1 - head / H, 1 - 0.05 / H)
    y = 1 - head / H
    for im, h in zip(imgs, heights):
        y -= h / H
        show_image(fig.add_axes([0, y, 1, h / H]), im)
    footer(fig, f"Learned W2GN maps, N(0, I₂) → whitened 8 Gaussians ({toy['8g']['iterations']} steps) and Swiss roll "
                f"({toy['swiss']['iterations']} steps). Panels: the toy notebook's preserved outputs "
                f"(notebooks/W2GN_toy_experiments.ipynb). {inp.note('toy')}")
    return fig


def fig_toy(inp: Inputs):
    m = inp.get("toy", "metrics", "100g")
    imgs = [inp.toy_image("100g"), inp.notebook_image("toy_coverage")]
    w = max(im.shape[1] for im in imgs) / 100
    heights = [im.shape[0] / 100 for im in imgs]
    foot = 0.55
    fig = plt.figure(figsize=(w, sum(heights) + foot))
    H = fig.get_figheight()
    y = 1.0
    for im, h in zip(imgs, heights):
        y -= h / H
        show_image(fig.add_axes([0, y, im.shape[1] / 100 / w, h / H]), im)
    footer(fig, f"N(0, I₂) → 100 Gaussians: {m['iterations']} steps; modes covered {m['modes_covered']}/{m['n_modes']}, "
                f"mass in modes {m['mass_in_modes']:.2f}, energy distance forward {fmt_small(m['energy_forward'])} / "
                f"inverse {fmt_small(m['energy_inverse'])}. Below: each mixture component's share of the pushed "
                f"sample / its expected share, all targets. Images: notebooks/W2GN_toy_experiments.ipynb. "
           + inp.note("toy"))
    return fig
