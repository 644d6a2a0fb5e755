"""L2-UVP against the dimension: the Gaussian experiments (pics/gaussians_l2_uvp.png) and the
Wasserstein-2 benchmark (pics/benchmark_l2_uvp.png), ours beside the published values."""
from __future__ import annotations

import matplotlib.pyplot as plt

from .inputs import InputError, Inputs, paper_value, section, steps_by_dim
from .style import COLORS, footer


def _plot_paper_row(ax, dims, cells, color, label, ms=5):
    """The paper's row of a table ("<1" drawn at 1 as ▽, ">50" at 50 as △), dashed."""
    pts = [(d, *paper_value(c)) for d, c in zip(dims, cells)]
    ax.plot([p[0] for p in pts], [p[1] for p in pts], "--", color=color, alpha=0.55, lw=1.2, label=label)
    for marker in "ov^":
        sel = [p for p in pts if p[2] == marker]
        if sel:
            ax.plot([p[0] for p in sel], [p[1] for p in sel], marker, color=color, alpha=0.6, ms=ms,
                    mfc="white" if marker != "o" else color, ls="none")


def _uvp_axes(ax, legend_size: float, ncol: int = 1):
    """Log-log axes of L2-UVP (%) against the dimension D, with grid and legend."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("dimension D")
    ax.set_ylabel("L2-UVP, %")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=legend_size, ncol=ncol, loc="lower right")


def plot_baselines(ax, inp: Inputs, legend_size: float = 7):
    uvp = inp.get("gaussians_baselines", "metrics", "l2_uvp")
    paper = inp.get("gaussians_baselines", "metrics", "paper_l2_uvp")
    for method, vals in uvp.items():
        dims = sorted(int(d) for d in vals)
        c = COLORS.get(method, "k")
        ax.plot(dims, [vals[str(d)] for d in dims], "o-", color=c, ms=4, lw=1.6, label=f"{method} (ours)")
        if method not in paper:
            raise InputError(f"results/gaussians_baselines.json metrics.paper_l2_uvp has no row {method!r}")
        _plot_paper_row(ax, paper["dims"], paper[method], c, f"{method} (paper)", ms=4)
    _uvp_axes(ax, legend_size, ncol=2)


def plot_w2gn_dims(ax, inp: Inputs, legend_size: float = 7):
    m = inp.get("gaussians", "metrics")
    paper = inp.get("gaussians", "paper_w2gn_l2_uvp")
    for key, label, c in (("l2_uvp", "ours, forward ∇ψ_θ", "tab:blue"), ("l2_uvp_inverse", "ours, inverse ∇ψ_ω",
                                                                          "tab:cyan")):
        dims = sorted(int(d) for d in m[key])
        ax.plot(dims, [m[key][str(d)] for d in dims], "o-", color=c, ms=4, lw=1.6, label=label)
    pd = sorted(int(d) for d in paper)
    _plot_paper_row(ax, pd, [paper[str(d)] for d in pd], "k", "paper W2GN (forward)", ms=4)
    _uvp_axes(ax, legend_size)


def fig_gaussians(inp: Inputs):
    b, g = inp.results("gaussians_baselines"), inp.results("gaussians")
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    plot_baselines(axes[0], inp)
    axes[0].set_title(f"LSOT, MM-1, MM-2, W2GN on the same Gaussians\n"
                      f"(ours: {b['profile']} profile, {b['config']['iterations']} steps per method)", fontsize=9)
    plot_w2gn_dims(axes[1], inp)
    axes[1].set_title(f"W2GN by dimension, forward and inverse map\n"
                      f"(ours: {g['profile']} profile, {section(g['config'], 'w2gn')['iterations']} steps per D)", fontsize=9)
    fig.subplots_adjust(left=0.065, right=0.99, top=0.87, bottom=0.25, wspace=0.18)
    footer(fig, "Solid: ours. Dashed: the paper's table (ICLR 2021, forward map); ▽ at 1 = the paper's \"<1\", "
                "△ at 50 = \">50\". Left: " + inp.note("gaussians_baselines") + ". Right: " + inp.note("gaussians"))
    return fig


def plot_benchmark(ax, inp: Inputs, legend_size: float = 7):
    m = inp.get("benchmark", "metrics")
    pub = inp.get("benchmark", "published")
    for key, label, c, style in (("l2_uvp_fwd", "ours W2GN, forward", "tab:blue", "o-"),
                                 ("l2_uvp_inv", "ours W2GN, inverse", "tab:cyan", "o-"),
                                 ("linear_l2_uvp", "ours linear baseline", "tab:orange", "o-")):
        if key not in m:
            raise InputError(f"results/benchmark.json lacks the key metrics.{key}")
        dims = sorted(int(d) for d in m[key])
        ax.plot(dims, [m[key][str(d)] for d in dims], style, color=c, ms=4, lw=1.6, label=label)
    for key, label, c in (("w2gn_l2_uvp_fwd", "published W2GN (approx.)", "k"),
                          ("linear_l2_uvp_fwd", "published linear", "tab:red")):
        if key not in pub:
            raise InputError(f"results/benchmark.json lacks the key published.{key}")
        dims = sorted(int(d) for d in pub[key])
        ax.plot(dims, [pub[key][str(d)] for d in dims], "s--", color=c, ms=4, alpha=0.6, label=label)
    _uvp_axes(ax, legend_size)


def fig_benchmark(inp: Inputs):
    r = inp.results("benchmark")
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    plot_benchmark(ax, inp)
    steps, dims = steps_by_dim(inp.get("benchmark", "metrics", "iterations"))
    ax.set_title(f"Wasserstein-2 benchmark Mix3toMix10: L2-UVP by D\n(ours: {r['profile']} profile, final weights "
                 f"after {steps} steps\nat D = {dims})", fontsize=9)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.845, bottom=0.25)
    footer(fig, "Dashed: published values (Korotin et al., NeurIPS 2021; the W2GN row approximate). "
           + inp.note("benchmark"))
    return fig
