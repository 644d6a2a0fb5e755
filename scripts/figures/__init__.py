"""pics/ and poster/ from the committed results (``make figures``, ``python scripts/make_figures.py``).

Inputs, and nothing else: ``results/<experiment>.json`` (numbers, profiles, data sources, the
paper's published values the notebooks store there) and the preserved outputs of
``notebooks/*.ipynb`` (PNG images in their output cells). A figure that needs a notebook image
finds its cell by a piece of the cell's source (:data:`.inputs.NOTEBOOK_IMAGES`), never by cell
number, so notebooks can gain or lose cells. A missing file, key, cell or image stops the script
with a message naming it (:class:`InputError`); nothing is skipped.

The repository's pics/ and poster/ are drawn from full runs only: a results file of another
profile than ``cpu`` or ``paper`` (a ``smoke`` run, say) is refused, naming the file and its
profile, before anything is drawn. Any profile may be drawn into a scratch folder: ``--out DIR``,
or results read from elsewhere (``--results DIR`` / env ``W2GN_RESULTS_DIR``), whose figures then
go under that folder; a scratch run never writes the repository's pics/ or poster/.

Deterministic: the same inputs give the same bytes (Agg backend, matplotlib's default rc with
DejaVu Sans, no software/date metadata, fixed SVG hash salt). tests/test_figures.py checks it.

Modules: :mod:`.inputs` (reading and checking), :mod:`.style` (shared look, saving),
:mod:`.diagram` (the ICNN diagram), :mod:`.toy`, :mod:`.uvp` (Gaussians, benchmark),
:mod:`.applications` (latent OT, colour, domain adaptation, style), :mod:`.poster`.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .applications import fig_color, fig_domain, fig_latent, fig_style  # noqa: E402
from .diagram import fig_icnn  # noqa: E402
from .inputs import FULL_PROFILES, ROOT, InputError, Inputs, paper_value  # noqa: E402
from .poster import make_poster  # noqa: E402
from .style import RC, save  # noqa: E402
from .toy import fig_mapping, fig_toy  # noqa: E402
from .uvp import fig_benchmark, fig_gaussians  # noqa: E402

__all__ = ["PICS", "POSTER", "FIGURES", "InputError", "Inputs", "make_all", "main", "paper_value", "plan"]

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

FIGURES = {
    "w2gn_mapping.png": fig_mapping, "icnn_diagram.png": fig_icnn, "toy_100_gaussians.png": fig_toy,
    "gaussians_l2_uvp.png": fig_gaussians, "benchmark_l2_uvp.png": fig_benchmark, "latent_ot.png": fig_latent,
    "color_transfer.png": fig_color, "domain_adaptation.png": fig_domain, "style_transfer.png": fig_style,
}
assert set(FIGURES) == set(PICS)
QUANTIZED = {"color_transfer.png"}  # photographs: 256 colours keep them under ~300 KB


def _same(a: Path, b: Path) -> bool:
    return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def plan(out: Path | None = None, root: Path = ROOT, results_dir: Path | None = None) -> tuple[Path, Path, bool]:
    """``(out, results_dir, full_only)``: where pics/ and poster/ go, where the results are read,
    and whether only full-run profiles (:data:`FULL_PROFILES`) are accepted.

    Results come from ``results_dir``, else env ``W2GN_RESULTS_DIR``, else ``root/results``. The
    figures go to ``out``; without it to ``root`` when the results are the repository's, else
    under the results folder. Only where they go to ``root`` (the repository's pics/ and poster/)
    must every results file be of a full run."""
    results = Path(results_dir or os.environ.get("W2GN_RESULTS_DIR") or Path(root) / "results")
    if out is None:
        out = Path(root) if _same(results, Path(root) / "results") else results
    return Path(out), results, _same(out, root)


def make_all(out: Path | None = None, root: Path = ROOT, results_dir: Path | None = None,
             notebooks_dir: Path | None = None) -> list[Path]:
    """Write every figure and the poster under ``out`` (``out/pics``, ``out/poster``; see
    :func:`plan` for the defaults and which profiles are accepted); returns the paths.

    Raises:
        InputError: a missing input, or (drawing into ``root``) a results file of a profile
            other than ``cpu``/``paper`` — checked for every results file before anything is drawn.
    """
    out, results, full_only = plan(out, root, results_dir)
    inp = Inputs(root, results, notebooks_dir, profiles=FULL_PROFILES if full_only else None)
    inp.check_results()
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


USAGE = """
    python scripts/make_figures.py                  # pics/*.png, poster/W2GN_poster.{svg,png} (cpu/paper results only)
    python scripts/make_figures.py --out DIR        # the same files under DIR/pics, DIR/poster (any profile)
    W2GN_RESULTS_DIR=SCRATCH python scripts/make_figures.py   # a scratch run's results -> SCRATCH/pics, SCRATCH/poster
"""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="make_figures.py", description=__doc__.split("\n\n")[0] + "\n" + USAGE,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None,
                    help="folder that receives pics/ and poster/ (default: the repository for its own results/, "
                         "else the results folder)")
    ap.add_argument("--results", type=Path, default=None,
                    help="folder of the <experiment>.json files (default: env W2GN_RESULTS_DIR, else results/)")
    ap.add_argument("--notebooks", type=Path, default=None,
                    help="folder of the executed notebooks whose images are used (default: notebooks/)")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    out, results, full_only = plan(args.out, ROOT, args.results)
    print(f"make_figures: results from {results} -> {out}/pics, {out}/poster"
          + (" (the repository's: cpu/paper results only)" if full_only else " (scratch: any profile)"))
    try:
        written = make_all(out, ROOT, results, args.notebooks)
    except InputError as err:
        print(f"make_figures: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"{path} ({path.stat().st_size / 1024:.0f} KiB)")
    print(f"{len(written)} files in {time.perf_counter() - start:.1f} s")
    return 0
