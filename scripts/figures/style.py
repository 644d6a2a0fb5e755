"""The look every figure shares (matplotlib rc, colours, labels, number formats) and the
deterministic, atomic writing of a figure to PNG or SVG."""
from __future__ import annotations

import io
import textwrap
from pathlib import Path

from PIL import Image  # matplotlib's own image dependency

from src.utils import atomic_open  # temporary file, fsync, rename

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
