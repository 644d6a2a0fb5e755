"""``python -m src.color_transfer fit | apply | export-cube`` (see :mod:`src.color_transfer`)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from ..image_io import ImageFormatError, check_output_path
from ..w2gn import NonFiniteLossError
from .apply import METHODS, apply_file
from .colormap import ColorMap, MapFileError, evaluate_color_map, load_photo
from .cube import export_cube, read_cube
from .table import check_colours, lut_error


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m src.color_transfer",
                                description="W2GN colour transfer: fit a map between two images' colours, apply it, export a .cube LUT.")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit a map from SOURCE's colours to PALETTE's colours")
    f.add_argument("source")
    f.add_argument("palette")
    f.add_argument("--out", required=True, help="map file to write (.pt)")
    f.add_argument("--iterations", type=int, help="W2GN iterations (default: the profile's)")
    f.add_argument("--seed", type=int, help="training seed (default 0)")
    f.add_argument("--profile", choices=("paper", "cpu", "smoke"), help="settings preset (default: env W2GN_PROFILE, else cpu/paper)")
    f.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    f.add_argument("--quiet", action="store_true", help="no progress bars")
    a = sub.add_parser("apply", help="map INPUT's colours and write OUTPUT (streams row blocks)")
    a.add_argument("map")
    a.add_argument("input")
    a.add_argument("output", help="output image; .png/.ppm are written streaming, other formats via Pillow")
    a.add_argument("--inverse", action="store_true", help="use the inverse map (palette → source colours)")
    a.add_argument("--method", choices=METHODS, default="auto",
                   help="distinct: network once per distinct colour (exact); lut: interpolated LUT "
                        "(error measured at fit time); exact: network per pixel (slow); auto (default): "
                        "lut when verified and cheaper, else distinct")
    a.add_argument("--lut-size", type=int, help="LUT size for --method lut (default: chosen at fit time)")
    a.add_argument("--block-rows", type=int, help="rows per block (default ≈ 1 Mpx per block)")
    a.add_argument("--max-megapixels", type=float, help="Pillow's decompression-bomb limit (0: none)")
    a.add_argument("--png-level", type=int, default=6, help="zlib level of .png output (1 fast … 9 small)")
    a.add_argument("--device", help="torch device for the network evaluations (default: cuda if available, else cpu)")
    a.add_argument("--quiet", action="store_true")
    c = sub.add_parser("export-cube", help="write the map as a .cube 3-D LUT")
    c.add_argument("map")
    c.add_argument("out")
    c.add_argument("--size", type=int, default=33, help="LUT_3D_SIZE (2..256, default 33)")
    c.add_argument("--inverse", action="store_true")
    return p


def _cmd_fit(args) -> None:
    from ..configs import get_config
    from ..experiments.color_transfer import ColorTransferConfig, fit_color_map
    from ..utils import get_device

    overrides = {k: v for k, v in (("iterations", args.iterations), ("seed", args.seed)) if v is not None}
    cfg = get_config(ColorTransferConfig, args.profile, **overrides)
    check_output_path(args.out, args.source, args.palette)  # before the fit, not after it
    device = get_device(args.device)
    source = load_photo(args.source, cfg.image_max_side)
    palette = load_photo(args.palette, cfg.image_max_side)
    print(f"fit: {args.source} {source.shape[1]}x{source.shape[0]} -> {args.palette} "
          f"{palette.shape[1]}x{palette.shape[0]}; profile {cfg.profile}, {cfg.iterations} iterations, "
          f"seed {cfg.seed}, device {device}")
    cmap = fit_color_map(source, palette, cfg, device=device, progress=False if args.quiet else None,
                         names=(Path(args.source).name, Path(args.palette).name))
    ev = evaluate_color_map(cmap, source, palette, min(cfg.eval_points, 20000), cfg.sw_projections, cfg.seed)
    cmap.metadata["evaluation"] = ev
    cmap.to("cpu").save(args.out)
    lut = cmap.metadata["lut"]
    print(f"fit time {cmap.metadata['fit_time_s']:.1f} s; sliced W2 to the palette {ev['sliced_w2_before']:.4f} -> "
          f"{ev['sliced_w2_after']:.4f}; cycle error (RMS) {ev['cycle_error']:.4f} "
          f"({ev['cycle_error'] * 255:.2f}/255)")
    for k, v in lut.items():
        verdict = (f"usable at {v['size']}^3" if v["usable"] else "not used (apply evaluates the network on the distinct colours)")
        tried = ", ".join(f"{n}^3: {e * 255:.2f}" for n, e in v["tried"].items())
        print(f"{k} LUT error vs exact (/255, {v['n_checked']} colours): {tried} -> {verdict}")
    print(f"wrote {args.out}")


def _cmd_apply(args) -> None:
    from ..utils import get_device

    check_output_path(args.output, args.input, args.map)
    cmap = ColorMap.load(args.map).to(get_device(args.device))
    stats = apply_file(cmap, args.input, args.output, inverse=args.inverse, method=args.method,
                       lut_size=args.lut_size, block_rows=args.block_rows, max_megapixels=args.max_megapixels,
                       progress=not args.quiet, png_level=args.png_level)
    if stats["note"]:
        print(f"note: {args.input}: {stats['note']}", file=sys.stderr)
    how = {"exact": "network on every pixel", "lut": f"LUT {stats['lut_size']}^3 interpolated",
           "distinct": f"network once on each of {stats['network_evaluations']} distinct colours"}[stats["method"]]
    print(f"wrote {args.output}: {stats['width']}x{stats['height']} ({stats['megapixels']:.2f} Mpx) in "
          f"{stats['seconds']:.2f} s ({how}; colour scan + table {stats['table_seconds']:.2f} s), "
          f"{stats['megapixels_per_second']:.2f} Mpx/s")


def _cmd_cube(args) -> None:
    check_output_path(args.out, args.map)
    cmap = ColorMap.load(args.map)
    if not 2 <= args.size <= 256:
        raise ValueError(f"--size must be in [2, 256], got {args.size}")
    export_cube(cmap, args.out, args.size, args.inverse)
    lut, _ = read_cube(args.out)
    err = lut_error(cmap, torch.from_numpy(lut).float(), check_colours(20000, args.size), args.inverse)
    print(f"wrote {args.out} (LUT_3D_SIZE {args.size}); trilinear interpolation of it differs from the "
          f"network by up to {err * 255:.2f}/255 on 40000 test colours (raise --size to reduce)")


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status (errors: a message on stderr, status 2)."""
    args = _parser().parse_args(argv)
    try:
        {"fit": _cmd_fit, "apply": _cmd_apply, "export-cube": _cmd_cube}[args.command](args)
    except (FileNotFoundError, ImageFormatError, MapFileError, ValueError, NonFiniteLossError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
