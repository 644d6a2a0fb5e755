#!/usr/bin/env python
"""Regenerate pics/ and poster/ from the committed results (``make figures``).

    python scripts/make_figures.py               # writes pics/*.png, poster/W2GN_poster.{svg,png}
    python scripts/make_figures.py --out DIR     # the same files under DIR/pics, DIR/poster

Inputs, and nothing else: ``results/<experiment>.json`` (numbers, profiles, data sources, the
paper's published values the notebooks store there) and the preserved outputs of
``notebooks/*.ipynb`` (PNG images in their output cells). A figure that needs a notebook image
finds its cell by a piece of the cell's source (``NOTEBOOK_IMAGES`` below), never by cell number,
so notebooks can gain or lose cells. A missing file, key, cell or image stops the script with a
message naming it (:class:`InputError`); nothing is skipped.

Deterministic: the same inputs give the same bytes (Agg backend, matplotlib's default rc with
DejaVu Sans, no software/date metadata, fixed SVG hash salt). tests/test_figures.py checks it.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402
from PIL import Image  # noqa: E402  (matplotlib's own image dependency)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from src.utils import atomic_open  # noqa: E402  (temporary file, fsync, rename)

#: figures README shows (file name → what it is); the poster is written beside them
PICS = {
    "w2gn_mapping.png": "forward ∇ψ_θ and inverse ∇ψ_ω maps on two toy targets",
    "icnn_diagram.png": "the DenseICNN recursion",
    "toy_100_gaussians.png": "N(0, I) → 100 Gaussians",
    "gaussians_l2_uvp.png": "L2-UVP by dimension, ours beside the paper's rows",
    "benchmark_l2_uvp.png": "Wasserstein-2 benchmark, ours beside the published row",
    "latent_ot.png": "latent OT: decoded samples and FID",
    "color_transfer.png": "colour transfer: images and RGB palettes",
    "domain_adaptation.png": "domain adaptation: feature PCA and 1-NN accuracy",
    "style_transfer.png": "style transfer image grids",
}
POSTER = ("W2GN_poster.svg", "W2GN_poster.png")
POSTER_DPI = 110  # 24 × 13.5 in → 2640 × 1485 px

#: notebook images used, by (notebook, a string that occurs in exactly one code cell's source);
#: the cell's image/png outputs are taken in order. The profile the notebook's first cell printed
#: must be that of the results file it writes (NOTEBOOK_RESULTS), so images and numbers match.
NOTEBOOK_IMAGES = {
    "toy_maps": ("W2GN_toy_experiments", "plot_toy_maps("),            # one image per toy target
    "toy_coverage": ("W2GN_toy_experiments", "plot_mode_shares("),       # components' shares histogram
    "latent_samples": ("W2GN_latent_space_optimal_transport", "plot_generated_comparison("),
    "color_images": ("W2GN_color_transfer", "map_image(cmap, source)"),
    "color_clouds": ("W2GN_color_transfer", "plot_rgb_clouds("),       # forward, then inverse
    "da_pca": ("W2GN_domain_adaptation", "W2GN-mapped"),
    "style_grids": ("W2GN_style_transfer", "fwd_eval, inv_eval = maps("),  # eval images 0–7, 8–15
}
NOTEBOOK_RESULTS = {"W2GN_toy_experiments": "toy", "W2GN_latent_space_optimal_transport": "latent_ot",
                    "W2GN_color_transfer": "color_transfer", "W2GN_domain_adaptation": "domain_adaptation",
                    "W2GN_style_transfer": "style_transfer"}

RC = {
    "font.family": "DejaVu Sans",  # bundled with matplotlib
    "mathtext.fontset": "dejavusans",
    "svg.hashsalt": "w2gn-figures",
    "svg.fonttype": "none",  # text stays text in the SVG (searchable; the tests read it)
    "svg.image_inline": True,
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "image.interpolation": "antialiased",
}
PNG_META = {"Software": None}
SVG_META = {"Date": None, "Creator": None}

COLORS = {"LSOT": "tab:red", "MM-1": "tab:orange", "MM-2": "tab:purple", "W2GN": "tab:blue",
          "ours": "tab:blue"}


class InputError(RuntimeError):
    """A results file, key, notebook cell or image the figures need is missing."""


# ------------------------------------------------------------------------------ inputs
class Inputs:
    """Lazy, checked access to results/*.json and the notebooks' output images under ``root``."""

    def __init__(self, root: Path = ROOT, results_dir: Path | None = None):
        self.root = Path(root)
        #: like the notebooks (src.utils.results_dir): env W2GN_RESULTS_DIR, else <root>/results
        self.results_dir = Path(results_dir or os.environ.get("W2GN_RESULTS_DIR") or self.root / "results")
        self._results: dict[str, dict] = {}
        self._notebooks: dict[str, dict] = {}

    def results(self, name: str) -> dict:
        if name not in self._results:
            path = self.results_dir / f"{name}.json"
            if not path.exists():
                raise InputError(f"missing results file {path} (run the notebook that writes it, or restore it "
                                 "from git)")
            self._results[name] = json.loads(path.read_text())
        return self._results[name]

    def get(self, name: str, *keys):
        """``results/<name>.json[keys[0]][keys[1]]…``, or an :class:`InputError` naming the key."""
        value = self.results(name)
        for i, key in enumerate(keys):
            if not isinstance(value, dict) or key not in value:
                raise InputError(f"results/{name}.json lacks the key {'.'.join(map(str, keys[:i + 1]))}")
            value = value[key]
        return value

    def note(self, name: str) -> str:
        """'profile P · data D · results/NAME.json' for a figure's label."""
        data = re.sub(r"(?<!\S)(/[\w.-]+)+/([\w.-]+)", r"\2", self.get(name, "data"))  # no machine paths
        return f"profile: {self.get(name, 'profile')} · data: {data} · numbers: results/{name}.json"

    def notebook_images(self, key: str) -> list[np.ndarray]:
        """The image/png outputs (``[H, W, 4]`` float arrays) of the cell ``NOTEBOOK_IMAGES[key]``."""
        notebook, needle = NOTEBOOK_IMAGES[key]
        path = self.root / "notebooks" / f"{notebook}.ipynb"
        if notebook not in self._notebooks:
            if not path.exists():
                raise InputError(f"missing notebook notebooks/{notebook}.ipynb")
            nb = json.loads(path.read_text())
            self._check_profile(notebook, nb)
            self._notebooks[notebook] = nb
        cells = [c for c in self._notebooks[notebook]["cells"]
                 if c.get("cell_type") == "code" and needle in "".join(c.get("source", ""))]
        if len(cells) != 1:
            raise InputError(f"notebooks/{notebook}.ipynb: expected one code cell containing {needle!r}, "
                             f"found {len(cells)}")
        images = [mpimg.imread(io.BytesIO(base64.b64decode("".join(o["data"]["image/png"]))), format="png")
                  for o in cells[0].get("outputs", []) if "image/png" in o.get("data", {})]
        if not images:
            raise InputError(f"notebooks/{notebook}.ipynb: the cell containing {needle!r} has no image output "
                             "(run the notebook to preserve its outputs)")
        return images

    def _check_profile(self, notebook: str, nb: dict):
        """The profile printed in the notebook's outputs is the profile of its results file."""
        text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c.get("cell_type") == "code"
                       for o in c.get("outputs", []))
        found = re.search(r"^profile:\s+(\w+)", text, flags=re.M)
        if found is None:
            raise InputError(f"notebooks/{notebook}.ipynb: no 'profile: …' line in its outputs (run the notebook)")
        name = NOTEBOOK_RESULTS[notebook]
        if found.group(1) != self.get(name, "profile"):
            raise InputError(f"notebooks/{notebook}.ipynb shows profile {found.group(1)!r} but results/{name}.json "
                             f"is from profile {self.get(name, 'profile')!r}: re-run the notebook so both match")

    def notebook_image(self, key: str, index: int = 0) -> np.ndarray:
        images = self.notebook_images(key)
        if index >= len(images):
            notebook, needle = NOTEBOOK_IMAGES[key]
            raise InputError(f"notebooks/{notebook}.ipynb: the cell containing {needle!r} has {len(images)} "
                             f"image output(s), image {index} is needed")
        return images[index]

    def toy_image(self, target: str) -> np.ndarray:
        """The toy notebook's map panel of ``target`` (its cell draws one image per target, in the
        order of ``config.targets``)."""
        targets = self.get("toy", "config", "targets")
        if target not in targets:
            raise InputError(f"results/toy.json config.targets has no {target!r}: {targets}")
        return self.notebook_image("toy_maps", targets.index(target))


def paper_value(cell) -> tuple[float, str]:
    """A paper table cell ("1.3", "<1", ">50") → (value to draw, marker: 'o', 'v' upper / '^' lower bound)."""
    s = str(cell).strip()
    return float(s.lstrip("<>")), {"<": "v", ">": "^"}.get(s[0], "o")


# ------------------------------------------------------------------------------ helpers
def wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(part, width) for part in text.split("\n"))


def footer(fig, text: str, fontsize: float = 7.5, y: float = 0.008):
    """The profile / data-source label at the bottom left of ``fig`` (wrapped to its width)."""
    width = int(fig.get_figwidth() * 72 / (fontsize * 0.56))
    fig.text(0.008, y, wrap(text, width), fontsize=fontsize, va="bottom", ha="left", color="0.25")


def show_image(ax, img, title: str | None = None, fontsize: float = 9):
    ax.imshow(img)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=fontsize)


def save(fig, path: Path, dpi: float = 100, quantize: bool = False):
    """Write ``fig`` atomically (temp file in the same folder + rename), without volatile metadata.

    PNGs are flattened to RGB (the figures are opaque) and written by Pillow with ``optimize``;
    ``quantize`` reduces them to 256 colours (octree, Floyd–Steinberg dithering) — for figures with
    photographs, which would otherwise be too large for a README (the SVG poster keeps full colour)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        if path.suffix == ".png":
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi, metadata=PNG_META)
            img = Image.open(buf).convert("RGB")
            if quantize:
                img = img.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG)
                pal = img.getpalette()  # the octree's near-white entry back to the background's white
                img.putpalette([255 if min(pal[i - i % 3:i - i % 3 + 3]) >= 248 else v for i, v in enumerate(pal)])
            img.save(f, format="PNG", optimize=True)
        else:
            fig.savefig(f, format=path.suffix[1:], dpi=dpi, metadata=SVG_META)


def fmt_small(x: float, digits: int = 4) -> str:
    """A small signed number without "-0.0000"."""
    text = f"{x:.{digits}f}"
    return f"{0.0:.{digits}f}" if float(text) == 0.0 else text


def fmt_uvp(x: float) -> str:
    """L2-UVP % as printed: 2 decimals below 10, else 1."""
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


# ------------------------------------------------------------------------------ ICNN diagram
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


def _section(config: dict, name: str) -> dict:
    """The nested section ``name`` (``icnn``, ``w2gn``) of a results file's config (results written
    before the configs were nested hold its fields at the top level)."""
    return config.get(name, config)


def fig_icnn(inp: Inputs):
    cfg = _section(inp.get("toy", "config"), "icnn")
    fig = plt.figure(figsize=(10.5, 4.3))
    ax = fig.add_axes([0.01, 0.08, 0.98, 0.9])
    draw_icnn(ax, cfg["hidden"], cfg["rank"], "celu", cfg["strong_convexity"])
    footer(fig, "Drawn from the toy experiment's network settings (results/toy.json config: hidden, rank, "
                "strong_convexity); the same recursion, widths aside, is used in every dense experiment.")
    return fig


# ------------------------------------------------------------------------------ figures
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
                      f"(ours: {g['profile']} profile, {_section(g['config'], 'w2gn')['iterations']} steps per D)", fontsize=9)
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
    it = sorted(set(inp.get("benchmark", "metrics", "iterations").values()))
    ax.set_title(f"Wasserstein-2 benchmark Mix3toMix10: L2-UVP by D\n(ours: {r['profile']} profile, "
                 f"{'/'.join(map(str, it))} steps, final weights)", fontsize=9)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.87, bottom=0.25)
    footer(fig, "Dashed: published values (Korotin et al., NeurIPS 2021; the W2GN row approximate). "
           + inp.note("benchmark"))
    return fig


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


def fig_style(inp: Inputs):
    grids = [inp.notebook_image("style_grids", i) for i in (0, 1)]
    m = inp.get("style_transfer", "metrics")
    w = sum(g.shape[1] for g in grids) / 100
    h = max(g.shape[0] for g in grids) / 100
    foot = 0.75
    fig = plt.figure(figsize=(w, h + foot))
    x = 0.0
    for g in grids:
        show_image(fig.add_axes([x, foot / (h + foot), g.shape[1] / 100 / w, g.shape[0] / 100 / (h + foot)]), g)
        x += g.shape[1] / 100 / w
    footer(fig, f"OFFLINE SUBSTITUTE DOMAINS, {m['image_size']} px, {m['iterations']} steps: FID(B, ·) "
                f"{m['fid_before']:.1f} → {m['fid_after']:.1f} ({m['fid_samples']} images per set); grids from "
                f"notebooks/W2GN_style_transfer.ipynb. " + inp.note("style_transfer"), fontsize=7)
    return fig


FIGURES = {
    "w2gn_mapping.png": fig_mapping, "icnn_diagram.png": fig_icnn, "toy_100_gaussians.png": fig_toy,
    "gaussians_l2_uvp.png": fig_gaussians, "benchmark_l2_uvp.png": fig_benchmark, "latent_ot.png": fig_latent,
    "color_transfer.png": fig_color, "domain_adaptation.png": fig_domain, "style_transfer.png": fig_style,
}
assert set(FIGURES) == set(PICS)
QUANTIZED = {"color_transfer.png"}  # photographs: 256 colours keep them under ~300 KB


# ------------------------------------------------------------------------------ poster
def poster_tables(inp: Inputs) -> dict[str, dict]:
    """Every number the poster prints, as ``{table: {"columns": [...], "rows": [[label, cell…]…], "source": …}}``."""
    b = inp.get("gaussians_baselines", "metrics")
    paper = inp.get("gaussians_baselines", "metrics", "paper_l2_uvp")
    dims = list(next(iter(b["l2_uvp"].values())))
    pcol = {str(d): i for i, d in enumerate(paper["dims"])}
    rows = [[method] + [f"{vals[d]:.2f}\n({paper[method][pcol[d]]})" for d in dims]
            for method, vals in b["l2_uvp"].items()]
    tables = {"gaussians_baselines": {"columns": ["D"] + dims, "rows": rows, "source": "gaussians_baselines"}}

    g = inp.get("gaussians", "metrics")
    gp = inp.get("gaussians", "paper_w2gn_l2_uvp")
    gd = list(g["l2_uvp"])
    tables["gaussians"] = {"columns": ["D"] + gd, "source": "gaussians", "rows": [
        ["ours, fwd"] + [fmt_uvp(g["l2_uvp"][d]) for d in gd],
        ["ours, inv"] + [fmt_uvp(g["l2_uvp_inverse"][d]) for d in gd],
        ["paper"] + [str(gp.get(d, "–")) for d in gd]]}

    bm = inp.get("benchmark", "metrics")
    pub = inp.get("benchmark", "published", "w2gn_l2_uvp_fwd")
    bd = list(bm["l2_uvp_fwd"])
    tables["benchmark"] = {"columns": ["D"] + bd, "source": "benchmark", "rows": [
        ["ours, fwd"] + [fmt_uvp(bm["l2_uvp_fwd"][d]) for d in bd],
        ["published"] + [f"{pub[d]:.1f}" if d in pub else "–" for d in bd],
        ["linear (ours)"] + [f"{bm['linear_l2_uvp'][d]:.1f}" for d in bd]]}

    lm = inp.get("latent_ot", "metrics")
    lp = inp.get("latent_ot", "metrics", "paper_fid")
    tables["latent_ot"] = {"columns": ["FID", "ours", "paper"], "source": "latent_ot", "rows": [
        [name.replace("\n", " "), f"{lm['fid_' + k]:.1f}", f"{lp[k]:.2f}"] for k, name in LATENT_ROWS]}

    dm = inp.get("domain_adaptation", "metrics")
    dp = inp.get("domain_adaptation", "paper")
    tables["domain_adaptation"] = {"columns": ["1-NN accuracy", "ours", "paper"], "source": "domain_adaptation",
                                   "rows": [[name.replace("\n", " "), f"{dm[k]:.3f}", f"{dp[k]:.3f}"]
                                            for k, name in DA_ROWS]}
    return tables


def draw_table(ax, table: dict, fontsize: float = 9, col0: float = 0.22, scale_y: float = 1.35, bold_row=None):
    ax.set_axis_off()
    ncols = len(table["columns"])
    widths = [col0] + [(1 - col0) / (ncols - 1)] * (ncols - 1)
    t = ax.table(cellText=table["rows"], colLabels=table["columns"], colWidths=widths, loc="upper center",
                 cellLoc="center")
    t.auto_set_font_size(False)
    t.set_fontsize(fontsize)
    t.scale(1, scale_y)
    for (r, c), cell in t.get_celld().items():
        cell.set_edgecolor("0.75")
        cell.set_linewidth(0.6)
        if r == 0:
            cell.set_facecolor("#e6ebf2")
            cell.get_text().set_weight("bold")
        if bold_row is not None and r - 1 == bold_row:
            cell.get_text().set_weight("bold")
    return t


METHOD_TEXT = [
    ("Problem", [
        r"Given samples of P and Q on $\mathbb{R}^D$, find the optimal transport map of the quadratic cost,",
        r"$T^{*}=\mathrm{argmin}_{\,T_{\#}P=Q}\ \mathbb{E}_{P}\,\|x-T(x)\|^{2}$, and its inverse: a generative",
        "model that is a map in both directions (P → Q and Q → P), not only a sampler.",
    ]),
    ("Cycle monotone maps, Brenier / McCann", [
        r"T is cycle monotone if $\Sigma_{k=1}^{n}\,\langle T(x_k),\,x_k-x_{k+1}\rangle\geq 0$ for every cycle"
        " ($x_{n+1}=x_1$);",
        "the cycle monotone maps are the (sub)gradients of convex functions (Rockafellar).",
        r"Brenier / McCann: the optimal map is $T^{*}=\nabla\psi^{*}$, the unique gradient of a convex function",
        r"pushing P to Q; its inverse is $\nabla\overline{\psi^{*}}$, with the convex conjugate"
        r" $\overline{\psi}(y)=\max_x\,\langle x,y\rangle-\psi(x)$.",
    ]),
    ("ICNN potentials", [
        "ψ and its conjugate are input convex neural networks: ψ_θ (forward map ∇ψ_θ) and ψ_ω (inverse",
        "map ∇ψ_ω) — gradients of convex functions, hence cycle monotone and invertible by construction.",
    ]),
]

DUAL_TEXT = [
    r"Dual form:  $\frac{1}{2}W_2^2(P,Q)=\frac{1}{2}\mathbb{E}_P\|x\|^2+\frac{1}{2}\mathbb{E}_Q\|y\|^2"
    r"-\min_{\psi\ \mathrm{convex}}\,[\,\mathbb{E}_P\,\psi(x)+\mathbb{E}_Q\,\overline{\psi}(y)\,]$",
    r"The conjugate is taken at $x=\nabla\psi_\omega(y)$ — no inner solver (MM-1), no minimax (MM-2):",
    r"$\mathrm{Corr}(\theta,\omega;\lambda)=\mathbb{E}_P\,\psi_\theta(x)+\mathbb{E}_Q\,[\langle\nabla\psi_"
    r"\omega(y),y\rangle-\psi_\theta(\nabla\psi_\omega(y))]+\lambda\,R_Y(\theta,\omega)$",
    r"cycle regulariser  $R_Y=\mathbb{E}_Q\,\|\nabla\psi_\theta(\nabla\psi_\omega(y))-y\|^2$"
    r"   (or with $R_X=\mathbb{E}_P\,\|\nabla\psi_\omega(\nabla\psi_\theta(x))-x\|^2$),",
    r"zero at the optimum, where $\nabla\psi_\omega=(\nabla\psi_\theta)^{-1}$; minimised over θ and ω with Adam.",
]

GUARANTEE_TEXT = [
    "If the regularised correlation of (ψ_θ, ψ_ω) is within ε of its optimum (ψ_ω strongly convex,",
    "ψ_θ smooth, λ large enough), the squared L2 errors of the inverse map ∇ψ_ω and of the forward",
    "map ∇ψ_θ against the optimal maps are O(ε): a small optimisation gap gives accurate maps both ways.",
]

NOTE = dict(fontsize=9, va="top", color="0.3")


def _heading(fig, x, y, text, size=15):
    fig.text(x, y, text, fontsize=size, weight="bold", color="#1f3b66", va="top")
    return y - 0.03


def _lines(fig, x, y, lines, size=10.5, step=0.0215, **kw):
    for line in lines:
        fig.text(x, y, line, fontsize=size, va="top", **kw)
        y -= step
    return y


def _image_ax(fig, x, y_top, w, img):
    """Image axes of width ``w`` (figure fraction) with its top at ``y_top``; returns its bottom."""
    h = w * fig.get_figwidth() * img.shape[0] / img.shape[1] / fig.get_figheight()
    show_image(fig.add_axes([x, y_top - h, w, h]), img)
    return y_top - h


def _note(fig, x, y, text, width):
    text = wrap(text, width)
    fig.text(x, y, text, **NOTE)
    return y - 0.0165 * (text.count("\n") + 1)


def make_poster(inp: Inputs):
    """The one-page poster (24 × 13.5 in): the method, then each experiment with ours beside the paper's."""
    tables = poster_tables(inp)
    fig = plt.figure(figsize=(24, 13.5))
    fig.add_artist(FancyBboxPatch((0.0, 0.925), 1.0, 0.075, boxstyle="square,pad=0", fc="#1f3b66", ec="none",
                                  transform=fig.transFigure))
    fig.text(0.01, 0.985, "Wasserstein-2 Generative Networks — a reproduction", fontsize=30, color="white",
             weight="bold", va="top")
    fig.text(0.01, 0.942, "Korotin, Egiazarian, Asadulaev, Safin, Burnaev, ICLR 2021.   This project's measured numbers "
             "(committed results/*.json; profile and data named under each panel) beside the paper's.", fontsize=13,
             color="white", va="center")

    # ---- column 1: the method
    x, y = 0.012, 0.905
    for head, lines in METHOD_TEXT:
        y = _lines(fig, x, _heading(fig, x, y, head), lines) - 0.006
    cfg = _section(inp.get("toy", "config"), "icnn")
    ax = fig.add_axes([x, y - 0.2, 0.3, 0.2])
    draw_icnn(ax, cfg["hidden"], cfg["rank"], "celu", cfg["strong_convexity"], fontsize=8)
    y -= 0.205
    y = _lines(fig, x, _heading(fig, x, y, "Dual form, regularised correlation"), DUAL_TEXT, step=0.027)
    y = _lines(fig, x, _heading(fig, x, y - 0.004, "Guarantee"), GUARANTEE_TEXT) - 0.006
    y = _heading(fig, x, y, "Run it")
    fig.text(x + 0.003, y - 0.004, "make notebooks   # every notebook (profile paper with CUDA, else cpu)\n"
             "make test        # the test suite (CPU; every notebook in the smoke profile)\n"
             "make figures     # pics/ and this poster, from results/*.json and notebook outputs",
             family="DejaVu Sans Mono", fontsize=10.5, va="top", linespacing=1.4,
             bbox=dict(boxstyle="round,pad=0.5", fc="#f3f3f3", ec="0.7"))

    c2, c3, c4, cw = 0.33, 0.558, 0.786, 0.206
    # ---- column 2: toy, Gaussians
    toy = inp.results("toy")
    y = _heading(fig, c2, 0.905, "Toy: forward and inverse maps")
    y = _image_ax(fig, c2, y, cw, inp.toy_image("8g"))
    y = _image_ax(fig, c2, y - 0.003, cw, inp.toy_image("100g"))
    m = toy["metrics"]["100g"]
    alpha = toy.get("config", {}).get("icnn", {}).get("celu_alpha", 1.0)
    seeds = m.get("seeds", [])
    on_seeds = (f" on each of {len(seeds)} training seeds" if len(seeds) > 1 and
                all(s["modes_covered"] == m["n_modes"] for s in seeds) else "")
    y = _note(fig, c2, y - 0.003, f"100 Gaussians: {m['modes_covered']}/{m['n_modes']} modes covered{on_seeds} after "
              f"{m['iterations']} steps (paper: none dropped after 100k). {toy['profile']} profile"
              + (f", CELU α = {alpha:g} (paper: 1)" if alpha != 1.0 else "") + ", synthetic data; results/toy.json", 62)
    bl = inp.results("gaussians_baselines")
    y = _heading(fig, c2, y - 0.012, "Gaussians: L2-UVP %, ours (paper)")
    ax = fig.add_axes([c2, y - 0.16, cw, 0.16])
    draw_table(ax, tables["gaussians_baselines"], fontsize=9, col0=0.13, scale_y=2.5, bold_row=3)
    y = _note(fig, c2, y - 0.165, f"{bl['profile']} profile, {bl['config']['iterations']} steps per method "
              "(paper: 5000), synthetic Gaussians; results/gaussians_baselines.json", 62)
    g = inp.results("gaussians")
    y = _heading(fig, c2, y - 0.008, "W2GN by dimension: L2-UVP %", size=12)
    ax = fig.add_axes([c2, y - 0.06, cw, 0.06])
    draw_table(ax, tables["gaussians"], fontsize=8.5, col0=0.15, scale_y=1.3)
    y = _note(fig, c2, y - 0.074, f"{g['profile']} profile, {_section(g['config'], 'w2gn')['iterations']} steps per D (paper: 5000), "
              "synthetic Gaussians; results/gaussians.json", 62)
    ax = fig.add_axes([c2 + 0.032, 0.04, cw - 0.034, y - 0.06])
    plot_w2gn_dims(ax, inp, legend_size=8)

    # ---- column 3: benchmark, latent OT, domain adaptation
    br = inp.results("benchmark")
    y = _heading(fig, c3, 0.905, "W2 benchmark Mix3toMix10: L2-UVP %")
    ax = fig.add_axes([c3 + 0.032, y - 0.215, cw - 0.034, 0.205])
    plot_benchmark(ax, inp, legend_size=8)
    y -= 0.25
    ax = fig.add_axes([c3, y - 0.075, cw, 0.075])
    draw_table(ax, tables["benchmark"], fontsize=9, col0=0.22, scale_y=1.35)
    it = sorted(set(br["metrics"]["iterations"].values()))
    y = _note(fig, c3, y - 0.08, f"{br['profile']} profile, {'/'.join(map(str, it))} steps (benchmark: 250k), "
              "final weights; public benchmark checkpoints; results/benchmark.json", 62)

    lr = inp.results("latent_ot")
    y = _heading(fig, c3, y - 0.012, "Latent-space OT: decoded samples, FID")
    yi = _image_ax(fig, c3, y, cw * 0.55, inp.notebook_image("latent_samples"))
    ax = fig.add_axes([c3 + cw * 0.57, y - 0.075, cw * 0.43, 0.075])
    draw_table(ax, tables["latent_ot"], fontsize=8.5, col0=0.46, scale_y=1.45, bold_row=2)
    y = _note(fig, c3, yi - 0.004, f"{lr['profile']} profile: MNIST (offline substitute for CelebA), "
              f"n = {lr['metrics']['n_fid_samples']}, {lr['metrics']['iterations']} steps; paper: CelebA MSE-AE, "
              "200k samples. results/latent_ot.json", 62)

    dr = inp.results("domain_adaptation")
    y = _heading(fig, c3, y - 0.012, "Domain adaptation: 1-NN accuracy")
    ax = fig.add_axes([c3, y - 0.09, cw * 0.5, 0.09])
    draw_table(ax, tables["domain_adaptation"], fontsize=8.5, col0=0.52, scale_y=1.45, bold_row=3)
    _note(fig, c3 + cw * 0.53, y - 0.005, f"{dr['profile']} profile: UCI 8×8 digits → MNIST (offline "
          "substitute for USPS → MNIST); paper: USPS → MNIST. results/domain_adaptation.json", 30)
    _image_ax(fig, c3, y - 0.1, cw, inp.notebook_image("da_pca"))

    # ---- column 4: colour transfer, style transfer
    cr = inp.results("color_transfer")
    cm = cr["metrics"]
    y = _heading(fig, c4, 0.905, "Colour transfer, forward and inverse")
    y = _image_ax(fig, c4, y, cw, inp.notebook_image("color_images"))
    y = _image_ax(fig, c4, y - 0.002, cw, inp.notebook_image("color_clouds", 0))
    y = _image_ax(fig, c4, y - 0.002, cw, inp.notebook_image("color_clouds", 1))
    y = _note(fig, c4, y - 0.003, f"sliced W2 to the palette {cm['sliced_w2_before']:.3f} → "
              f"{cm['sliced_w2_after']:.3f}, inverse map to the source {cm['sliced_w2_inverse_after']:.3f}. "
              f"{cr['profile']} profile, real photos (scikit-learn samples); results/color_transfer.json", 62)
    sr = inp.results("style_transfer")
    sm = sr["metrics"]
    y = _heading(fig, c4, y - 0.012, "Style transfer (unpaired)")
    yi = _image_ax(fig, c4, y, cw * 0.6, inp.notebook_image("style_grids", 0))
    _note(fig, c4 + cw * 0.62, y - 0.01, f"FID(B, ·) {sm['fid_before']:.1f} → {sm['fid_after']:.1f}. "
          f"{sr['profile']} profile, OFFLINE SUBSTITUTE domains: everyday vs microscope/fundus photos, "
          f"{sm['image_size']} px, {sm['iterations']} steps; results/style_transfer.json", 27)
    _note(fig, c4, yi - 0.015, "Offline substitutes (MNIST, UCI digits, photo crops) stand in where the paper's "
          "data cannot be had offline: compare the ranking of methods with the paper, not absolute numbers. "
          "Every number on this page is generated from results/*.json by scripts/make_figures.py.", 62)
    return fig


# ------------------------------------------------------------------------------ main
def make_all(out: Path, root: Path = ROOT) -> list[Path]:
    """Write every figure and the poster under ``out`` (``out/pics``, ``out/poster``); returns the paths."""
    inp = Inputs(root)
    written = []
    with matplotlib.rc_context():
        matplotlib.rcdefaults()  # independent of the caller's rc settings
        matplotlib.rcParams.update(RC)
        for name, make in FIGURES.items():
            fig = make(inp)
            try:
                save(fig, out / "pics" / name, quantize=name in QUANTIZED)
            finally:
                plt.close(fig)
            written.append(out / "pics" / name)
        fig = make_poster(inp)
        try:
            for name in POSTER:
                save(fig, out / "poster" / name, dpi=POSTER_DPI, quantize=True)
                written.append(out / "poster" / name)
        finally:
            plt.close(fig)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT, help="folder that receives pics/ and poster/ (default: the "
                                                              "repository)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    try:
        written = make_all(args.out)
    except InputError as err:
        print(f"make_figures: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
    print(f"{len(written)} files in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
