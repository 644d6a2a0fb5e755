"""``python -m src.color_transfer fit | apply | export-cube`` (see :mod:`src.color_transfer`)."""
from __future__ import annotations

import argparse
import errno
import math
import os
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
    a.add_argument("--png-level", type=int, default=6, help="zlib level of .png output (0 none, 1 fast … 9 small)")
    a.add_argument("--device", help="torch device for the network evaluations (default: cuda if available, else cpu)")
    a.add_argument("--quiet", action="store_true")
    c = sub.add_parser("export-cube", help="write the map as a .cube 3-D LUT")
    c.add_argument("map")
    c.add_argument("out")
    c.add_argument("--size", type=int, default=33, help="LUT_3D_SIZE (2..256, default 33)")
    c.add_argument("--inverse", action="store_true")
    return p


class CLIError(Exception):
    """A refused command line or environment; the message names the option and what to do."""


def _device(name: str | None) -> torch.device:
    """``--device`` (or env ``W2GN_DEVICE``, else cuda when available, else cpu), checked to exist."""
    from ..utils import get_device

    where = f"--device {name}" if name else (f"W2GN_DEVICE={os.environ['W2GN_DEVICE']}"
                                            if os.environ.get("W2GN_DEVICE") else None)
    try:
        device = get_device(name)
    except (RuntimeError, ValueError) as e:
        raise CLIError(f"{where}: not a torch device ({str(e).splitlines()[0]}); use cpu or cuda") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise CLIError(f"{where}: CUDA is not available (this torch build or machine has no usable GPU); "
                           "use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise CLIError(f"{where}: only {torch.cuda.device_count()} CUDA device(s) are visible; "
                           "use another index or --device cpu")
    elif device.type not in ("cpu", "cuda"):
        try:
            torch.zeros(1, device=device)
        except Exception as e:  # noqa: BLE001 - any backend's failure
            raise CLIError(f"{where}: the device cannot be used here ({type(e).__name__}); use --device cpu") from None
    return device


def _check_output(path, option: str, *inputs) -> None:
    """:func:`src.image_io.check_output_path`, its refusal naming the option."""
    try:
        check_output_path(path, *inputs)
    except (OSError, ValueError) as e:
        raise CLIError(f"{option} {path}: {e}") from None


def _need_file(path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise CLIError(f"{what} {path}: {'a folder, not a file' if path.is_dir() else 'not found'}; "
                       "give the path of an existing file")
    return path


def _in_range(value, option: str, low, high=None, what: str = "an integer") -> None:
    if value is None:
        return
    bad = not math.isfinite(value) or value < low or (high is not None and value > high)
    if bad:
        rng = f"in [{low}, {high}]" if high is not None else f"≥ {low}"
        raise CLIError(f"{option} must be {what} {rng}, got {value}")


def _cmd_fit(args) -> None:
    from ..configs import get_config
    from ..datasets import color_transfer_image
    from ..experiments.color_transfer import ColorTransferConfig, fit_color_map

    _in_range(args.iterations, "--iterations", 1)
    _in_range(args.seed, "--seed", 0)
    overrides = {k: v for k, v in (("iterations", args.iterations), ("seed", args.seed)) if v is not None}
    cfg = get_config(ColorTransferConfig, args.profile, **overrides)
    # every input resolved to the file it reads (a bare name: data/color_transfer/NAME) before the
    # output check, so that --out can never be one of them
    source_path = color_transfer_image(args.source)
    palette_path = color_transfer_image(args.palette)
    _check_output(args.out, "--out", source_path, palette_path)  # before the fit, not after it
    device = _device(args.device)
    source = load_photo(str(source_path), cfg.image_max_side)
    palette = load_photo(str(palette_path), cfg.image_max_side)
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
    _in_range(args.lut_size, "--lut-size", 2, 256)
    _in_range(args.block_rows, "--block-rows", 1)
    _in_range(args.png_level, "--png-level", 0, 9)
    _in_range(args.max_megapixels, "--max-megapixels", 0, what="a number (0: no limit)")
    _check_output(args.output, "OUTPUT", args.input, args.map)
    device = _device(args.device)
    cmap = ColorMap.load(args.map).to(device)
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
    _in_range(args.size, "--size", 2, 256)
    _check_output(args.out, "OUT", args.map)
    cmap = ColorMap.load(args.map)
    export_cube(cmap, args.out, args.size, args.inverse)
    lut, _ = read_cube(args.out)
    err = lut_error(cmap, torch.from_numpy(lut).float(), check_colours(20000, args.size), args.inverse)
    print(f"wrote {args.out} (LUT_3D_SIZE {args.size}); trilinear interpolation of it differs from the "
          f"network by up to {err * 255:.2f}/255 on 40000 test colours (raise --size to reduce)")


_OUTPUT = {"fit": ("out", "--out"), "apply": ("output", "OUTPUT"), "export-cube": ("out", "OUT")}


def _file_id(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _is_out_of_memory(e: BaseException) -> bool:
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError":
        return True
    text = str(e).lower()
    return isinstance(e, RuntimeError) and any(s in text for s in ("out of memory", "can't allocate memory",
                                                                   "cannot allocate memory", "defaultcpuallocator"))


def _output_state(out, before) -> str:
    """What became of the output after a failure, checked (not assumed)."""
    after = _file_id(out)
    if before is None:
        return f"no file was written at {out}" if after is None else f"{out} may be incomplete: delete it"
    return (f"{out} was left as it was (the previous file is intact)" if after == before
            else f"{out} was changed: check it")


def _os_error_message(e: OSError, command: str, out, option: str, before) -> str:
    name = e.filename or out
    state = _output_state(out, before)
    if e.errno == errno.ENOSPC or e.errno == getattr(errno, "EDQUOT", -1):
        return (f"no space left on the device while writing {name} ({command}); {state}; free some space "
                f"or write elsewhere ({option}) and run it again")
    if e.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: {name} ({command}); {state}; choose a folder you can write to ({option})"
    if e.errno == errno.EROFS:
        return f"read-only file system: {name} ({command}); {state}; write elsewhere ({option})"
    return f"{e.strerror or e} ({name}, {command}); {state}"


def main(argv=None) -> int:
    """Command-line entry point; returns the exit status. Every failure is one line on stderr,
    ``error: <what, which option, what to do>``, and status 2 (never a traceback; set env
    ``W2GN_DEBUG=1`` to see one for an unexpected error)."""
    from ..checkpoint import CheckpointError

    args = _parser().parse_args(argv)
    attr, option = _OUTPUT[args.command]
    out = getattr(args, attr)
    before = _file_id(out)
    try:
        {"fit": _cmd_fit, "apply": _cmd_apply, "export-cube": _cmd_cube}[args.command](args)
    except KeyboardInterrupt:
        print(f"error: interrupted; {_output_state(out, before)}", file=sys.stderr)
        return 130
    except CLIError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ImageFormatError, MapFileError, CheckpointError, NonFiniteLossError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the CLI reports, it does not crash
        if _is_out_of_memory(e):
            print(f"error: out of memory in {args.command} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); "
                  f"{_output_state(out, before)}; "
                  + ("use a smaller --block-rows, another --method or a machine with more memory"
                     if args.command == "apply" else "use a smaller profile (--profile cpu/smoke) or a machine "
                     "with more memory"), file=sys.stderr)
            return 2
        if isinstance(e, OSError):
            print(f"error: {_os_error_message(e, args.command, out, option, before)}", file=sys.stderr)
            return 2
        if isinstance(e, (ValueError, TypeError)) and not os.environ.get("W2GN_DEBUG"):
            print(f"error: {e}", file=sys.stderr)
            return 2
        if os.environ.get("W2GN_DEBUG"):
            raise
        print(f"error: unexpected {type(e).__name__} in {args.command}: {str(e).splitlines()[0] if str(e) else ''}; "
              f"{_output_state(out, before)}; please report it (env W2GN_DEBUG=1 shows the traceback)",
              file=sys.stderr)
        return 2
    return 0
