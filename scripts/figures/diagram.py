"""The DenseICNN recursion as a diagram (pics/icnn_diagram.png and the poster's method column)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from .inputs import Inputs, section
from .style import footer


def draw_icnn(ax, hidden, rank: int, activation: str, strong_convexity: float, fontsize: float = 9):
    """The DenseICNN recursion as boxes and arrows on ``ax`` (data coordinates 0…10 × 0…4.3)."""
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 4.3)
    ax.set_axis_off()
    k = len(hidden)

    def box(x, y, w, h, text, fc, size=fontsize):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    fc=fc, ec="0.3", lw=1.0))
        ax.text(x, y, text, ha="center", va="center", fontsize=size)

    def arrow(a, b, text=None, color="0.35", ls="-"):
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, color=color, lw=1.1,
                                     shrinkA=0, shrinkB=0, linestyle=ls))
        if text:
            ax.text((a[0] + b[0]) / 2, max(a[1], b[1]) + 0.1, text, ha="center", va="bottom", fontsize=fontsize,
                    color=color)

    bw, zy, qy, bus = 1.9, 3.15, 2.05, 1.2
    xs = np.linspace(1.15, 6.15, k) if k > 1 else np.array([1.15])
    xo = 8.85
    ax.plot([0.8, xs[-1]], [bus, bus], color="0.35", lw=1.1)
    box(0.2 + 0.3, bus, 0.6, 0.4, "$x$", "#e8eef7", size=fontsize + 1)
    for i, (x, h) in enumerate(zip(xs, hidden)):
        arrow((x, bus), (x, qy - 0.27))
        box(x, qy, bw * 0.8, 0.5, f"$Q_{i + 1}(x)$: {h} units", "#fdf1dc")
        label = "$z_1 = Q_1(x)$" if i == 0 else f"$z_{i + 1}=\\sigma(W_{i}z_{i} + Q_{i + 1}(x))$"
        box(x, zy, bw, 0.5, label, "#e3f2e1")
        if i:
            arrow((xs[i - 1] + bw / 2, zy), (x - bw / 2, zy), f"$W_{i}\\geq 0$", color="tab:blue")
        arrow((x, qy + 0.26), (x, zy - 0.26))
    box(xo, zy, 2.1, 0.6, "$\\psi(x) = w^{\\top} z_{%d} + \\frac{s}{2}\\|x\\|^2$" % k, "#f4e1ef")
    arrow((xs[-1] + bw / 2, zy), (xo - 1.05, zy), "$w\\geq 0$", color="tab:blue")
    box(xo, qy, 2.1, 0.8, "$\\nabla\\psi(x)$ (push):\nclosed-form backward pass", "#eeeeee",
        size=fontsize - 0.5)
    arrow((xo, zy - 0.4), (xo, qy + 0.4), ls="--")
    ax.text(0.05, 4.25, f"DenseICNN(D, {list(hidden)}, rank={rank}, activation={activation!r}, "
            f"strong_convexity=s={strong_convexity:g})", fontsize=fontsize, va="top", ha="left",
            family="DejaVu Sans Mono")
    ax.text(0.05, 0.05,
            "$Q_k(x)=\\Sigma_{r=1}^{%d}\\,(A_{k,r}\\,x)^2 + B_k\\,x + b_k$ is convex for any weights;  "
            "σ = %s is convex, non-decreasing;\n$W_k, w \\geq 0$ (convexify() after each step)  ⇒  "
            "ψ is convex in x, and ∇ψ is a cycle monotone map" % (rank, activation),
            fontsize=fontsize, va="bottom", ha="left", linespacing=1.5)




def fig_icnn(inp: Inputs):
    cfg = section(inp.get("toy", "config"), "icnn")
    fig = plt.figure(figsize=(10.5, 4.3))
    ax = fig.add_axes([0.01, 0.08, 0.98, 0.9])
    draw_icnn(ax, cfg["hidden"], cfg["rank"], "celu", cfg["strong_convexity"])
    footer(fig, "Drawn from the toy experiment's network settings (results/toy.json config: hidden, rank, "
                "strong_convexity); the same recursion, widths aside, is used in every dense experiment.")
    return fig
