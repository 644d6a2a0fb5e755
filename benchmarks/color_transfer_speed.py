"""Speed and peak memory of applying a W2GN colour-transfer map to a large image.

A synthetic photo-like image (default 36 Mpx, 7200×5000) is generated block by block straight
into a binary PPM file (never whole in memory), then mapped by ``src.color_transfer.apply_file``
in separate child processes, so each peak resident memory (``VmHWM``) is measured alone:

* PPM → PPM (default method "auto": colour scan, network once per distinct colour, look-up
  pass) and PPM → PNG: both sides stream (row blocks), constant memory;
* PPM → PPM with the trilinear LUT forced (one pass; its error is the map's fit-time check);
* PNG → PPM: the input is decoded whole by Pillow (8-bit), shown for contrast;
* a 1-Mpx PPM → PPM run gives the baseline (Python + torch + the 64 MB colour table).

The per-pixel network evaluation (what the table replaces) is timed on a subset of the image's
rows and extrapolated to the whole image — it is not run on all 36 Mpx.

Usage::

    python benchmarks/color_transfer_speed.py [--map MAP.pt] [--megapixels 36] [--threads 1]

Without ``--map`` a map with the ``cpu`` profile's architecture is fitted briefly on the shipped
photos (the network's speed depends on its architecture only; whether the LUT passes its
accuracy check depends on the trained map — pass the notebook's map, ``models/color_transfer.pt``). Writes
``results/color_transfer_speed.json`` (``--out``).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _vm(key: str) -> float:
    """``VmHWM``/``VmRSS`` of this process in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(args) -> None:
    """Runs in a fresh process: apply the map, print stats + peak memory as JSON."""
    import torch

    torch.set_num_threads(args.threads)
    from src.color_transfer import ColorMap, apply_file

    cmap = ColorMap.load(args.map)
    before = _vm("VmHWM")
    stats = apply_file(cmap, args.child[0], args.child[1], method=args.method, progress=False, max_megapixels=0)
    stats.update(peak_rss_mib=_vm("VmHWM"), peak_rss_after_loading_mib=before)
    print("RESULT " + json.dumps(stats))


def _run_child(args, src: Path, dst: Path, method: str = "auto") -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--map", str(args.map), "--threads", str(args.threads),
                           "--method", method, "--child", str(src), str(dst)], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed:\n{proc.stderr[-3000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    stats = json.loads(line[len("RESULT "):])
    stats["process_seconds"] = time.perf_counter() - start
    stats["file_mib"] = {"input": src.stat().st_size / 2**20, "output": dst.stat().st_size / 2**20}
    return stats


def _quick_map(path: Path, iterations: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    from src.color_transfer import load_photo
    from src.experiments.color_transfer import ColorTransferConfig, fit_color_map

    cfg = ColorTransferConfig.cpu().replace(iterations=iterations, pretrain_iterations=300)
    cmap = fit_color_map(load_photo(cfg.source), load_photo(cfg.palette), cfg, progress=False)
    cmap.save(path)


def _exact_speed(args, ppm: Path, width: int, height: int) -> dict:
    """Per-pixel network evaluation on the first rows of the image, extrapolated."""
    import torch

    torch.set_num_threads(args.threads)
    from src.color_transfer import ColorMap, synthetic_image_block

    cmap = ColorMap.load(args.map)
    rows = max(1, args.exact_pixels // width)
    block = synthetic_image_block(0, rows, width, height)
    cmap.map_exact_uint8(block[:4])                     # warm-up
    start = time.perf_counter()
    cmap.map_exact_uint8(block)
    seconds = time.perf_counter() - start
    mpx = rows * width / 1e6
    return {"timed_megapixels": mpx, "timed_seconds": seconds, "megapixels_per_second": mpx / seconds,
            "extrapolated_seconds_for_image": width * height / 1e6 / (mpx / seconds),
            "note": f"timed on the first {rows} rows ({mpx:.2f} Mpx) and extrapolated; not run on the whole image"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--map", type=Path, help="map file (default: fit one briefly)")
    p.add_argument("--megapixels", type=float, default=36.0)
    p.add_argument("--aspect", type=float, default=1.44, help="width/height (36 Mpx → 7200×5000)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--exact-pixels", type=int, default=300_000, help="pixels timed for per-pixel evaluation")
    p.add_argument("--fit-iterations", type=int, default=100)
    p.add_argument("--no-png-input", action="store_true", help="skip the Pillow-decoded PNG input run")
    p.add_argument("--workdir", type=Path, help="where the big temporary images go (deleted afterwards)")
    p.add_argument("--out", type=Path, default=ROOT / "results" / "color_transfer_speed.json")
    p.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--method", default="auto", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return _child(args)

    import torch

    from src.color_transfer import write_synthetic_ppm
    from src.utils import describe_device

    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="ct_speed_", dir=args.workdir))
    try:
        if args.map is None:
            args.map = work / "map.pt"
            print(f"fitting a map briefly ({args.fit_iterations} iterations, cpu-profile architecture) …", flush=True)
            _quick_map(args.map, args.fit_iterations, args.threads)
        height = int(round(math.sqrt(args.megapixels * 1e6 / args.aspect)))
        width = int(round(args.megapixels * 1e6 / height))
        big, small = work / "big.ppm", work / "small.ppm"
        t = time.perf_counter()
        write_synthetic_ppm(big, width, height)
        print(f"synthetic {width}x{height} ({width * height / 1e6:.1f} Mpx) PPM written in {time.perf_counter() - t:.1f} s", flush=True)
        write_synthetic_ppm(small, 1200, 834)
        runs = {}
        plan = [("baseline_1mpx_ppm_to_ppm", small, work / "small_out.ppm", "auto"),
                ("ppm_to_ppm", big, work / "out.ppm", "auto"),
                ("ppm_to_ppm_lut", big, work / "out.ppm", "lut"),
                ("ppm_to_png", big, work / "out.png", "auto")]
        if not args.no_png_input:
            plan.append(("png_to_ppm_pillow_decoded", work / "out.png", work / "out2.ppm", "auto"))
        for name, src, dst, method in plan:
            runs[name] = _run_child(args, src, dst, method)
            print(name, {k: round(v, 2) if isinstance(v, float) else v for k, v in runs[name].items()}, flush=True)
            if dst.suffix == ".ppm":
                dst.unlink()
        exact = _exact_speed(args, big, width, height)
        print("per-pixel network evaluation:", exact, flush=True)
        from src.color_transfer import ColorMap

        lut_rec = ColorMap.load(args.map).lut_record()  # before a map fitted into `work` is deleted
    finally:
        shutil.rmtree(work, ignore_errors=True)
    main_run, lut_run = runs["ppm_to_ppm"], runs["ppm_to_ppm_lut"]
    record = {
        "benchmark": "color_transfer_speed", "device": describe_device("cpu"), "threads": args.threads,
        "torch": str(torch.__version__), "map": str(args.map),
        "image": {"width": width, "height": height, "megapixels": width * height / 1e6,
                  "kind": "synthetic (src.color_transfer.synthetic_image_block), written block by block into a binary PPM"},
        "table": {"method": main_run["method"], "megapixels_per_second": main_run["megapixels_per_second"],
                  "megapixels_per_second_second_pass": main_run["megapixels"] / main_run["map_seconds"],
                  "scan_and_table_seconds": main_run["table_seconds"], "distinct_colours": main_run["distinct_colours"],
                  "peak_rss_mib": main_run["peak_rss_mib"],
                  "baseline_peak_rss_mib_1mpx": runs["baseline_1mpx_ppm_to_ppm"]["peak_rss_mib"],
                  "error_vs_per_pixel": "0 (the network is evaluated exactly once per distinct colour)"
                  if main_run["method"] == "distinct" else f"LUT, max {lut_rec.get('max_error_255', float('nan')):.2f}/255 (fit-time check)"},
        "lut_forced": {"megapixels_per_second": lut_run["megapixels_per_second"], "lut_size": lut_run["lut_size"],
                       "peak_rss_mib": lut_run["peak_rss_mib"],
                       "fit_time_check": lut_rec},
        "per_pixel_network": exact,
        "speedup": main_run["megapixels_per_second"] / exact["megapixels_per_second"],
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from src.utils import atomic_write_text

    atomic_write_text(args.out, json.dumps(record, indent=2) + "\n")
    t = record["table"]
    print(f"{t['method']} table: {t['megapixels_per_second']:.2f} Mpx/s end to end ({t['distinct_colours']} distinct colours, "
          f"scan+table {t['scan_and_table_seconds']:.1f} s, second pass {t['megapixels_per_second_second_pass']:.1f} Mpx/s), "
          f"peak RSS {t['peak_rss_mib']:.0f} MiB (1-Mpx image: {t['baseline_peak_rss_mib_1mpx']:.0f} MiB); "
          f"forced LUT {record['lut_forced']['megapixels_per_second']:.2f} Mpx/s; per-pixel network "
          f"{exact['megapixels_per_second']:.3f} Mpx/s (extrapolated {exact['extrapolated_seconds_for_image']:.0f} s); "
          f"speed-up x{record['speedup']:.0f}. Wrote {args.out}")


if __name__ == "__main__":
    main()
