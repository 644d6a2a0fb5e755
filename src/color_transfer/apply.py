"""Mapping images: choose the table (:func:`build_table`), map in-memory images
(:func:`map_image`, :func:`apply_array`) and stream image files row block by row block
(:func:`apply_file`); synthetic test images of any size for speed tests."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..image_io import check_output_path, create_writer, open_image
from ..utils import atomic_open
from .colormap import ColorMap
from .table import ColorTable, colour_codes

BLOCK_PIXELS = 1 << 20          # pixels per streamed row block
METHODS = ("auto", "distinct", "lut", "exact")


def _check_options(lut_size=None, block_rows=None, png_level=6, max_megapixels=None) -> None:
    """Refuse out-of-range options by name (never a silent default in their place)."""
    def integer(v):
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if lut_size is not None and not (integer(lut_size) and 2 <= lut_size <= 256):
        raise ValueError(f"lut_size must be an integer in [2, 256] (or None: the fit-time choice), got {lut_size!r}")
    if block_rows is not None and not (integer(block_rows) and block_rows >= 1):
        raise ValueError(f"block_rows must be a positive integer (or None: ≈1 Mpx per block), got {block_rows!r}")
    if not (integer(png_level) and 0 <= png_level <= 9):
        raise ValueError(f"png_level must be an integer in [0, 9] (zlib level), got {png_level!r}")
    if max_megapixels is not None and (isinstance(max_megapixels, bool) or not isinstance(max_megapixels, (int, float))
                                       or not math.isfinite(max_megapixels) or max_megapixels < 0):
        raise ValueError(f"max_megapixels must be a finite number ≥ 0 (0: no limit), got {max_megapixels!r}")


def build_table(cmap: ColorMap, blocks, inverse: bool = False, method: str = "auto", lut_size: int | None = None,
                progress: bool = False, total_rows: int | None = None, name: str = "image") -> tuple[ColorTable, int | None]:
    """The :class:`ColorTable` that ``method`` (see :func:`apply_file`) uses for an image.

    Args:
        blocks: a callable returning an iterator of ``(y0, uint8 block)`` (called once, for the
            colour scan of ``"auto"``/``"distinct"``).

    Returns:
        ``(table, number of distinct colours or None)``.
    """
    if method not in ("auto", "distinct", "lut"):
        raise ValueError(f"build_table: method must be 'auto', 'distinct' or 'lut', got {method!r}")
    _check_options(lut_size=lut_size)
    present, distinct = None, None
    if method in ("auto", "distinct"):
        present = np.zeros(1 << 24, dtype=bool)
        bar = tqdm(total=total_rows, unit="row", desc=f"colours of {name}", disable=not progress, leave=False)
        for _, block in blocks():
            present[colour_codes(block)] = True
            bar.update(block.shape[0])
        bar.close()
        distinct = int(np.count_nonzero(present))
    rec = cmap.lut_record(inverse)
    lut_ok = rec.get("usable", False) and (lut_size is None or lut_size == rec.get("size"))
    use_lut = method == "lut" or (method == "auto" and lut_ok and (lut_size or rec["size"]) ** 3 < distinct)
    if use_lut:
        return cmap.table(inverse, lut_size), distinct
    return ColorTable.exact(cmap, present, inverse, progress=progress), distinct


def map_image(cmap: ColorMap, rgb: np.ndarray, inverse: bool = False, method: str = "auto",
              lut_size: int | None = None, block_pixels: int = BLOCK_PIXELS) -> tuple[np.ndarray, dict]:
    """Map an in-memory ``uint8 [H, W, 3|4]`` image (alpha kept) in row blocks, choosing the
    table as :func:`apply_file` does. Returns ``(mapped image, info)`` with ``info`` =
    ``{"method", "distinct_colours", "network_evaluations", "lut_size"}``."""
    if method == "exact":
        return cmap.map_exact_uint8(rgb, inverse), {"method": "exact", "distinct_colours": None,
                                                    "network_evaluations": rgb.shape[0] * rgb.shape[1], "lut_size": None}
    if isinstance(block_pixels, bool) or not isinstance(block_pixels, (int, np.integer)) or block_pixels < 1:
        raise ValueError(f"block_pixels must be a positive integer, got {block_pixels!r}")
    rows = max(1, block_pixels // max(rgb.shape[1], 1))
    table, distinct = build_table(cmap, lambda: ((y, rgb[y:y + rows]) for y in range(0, rgb.shape[0], rows)),
                                  inverse, method, lut_size)
    return apply_array(table, rgb, block_pixels), {"method": table.method, "distinct_colours": distinct,
                                                   "network_evaluations": table.evaluations, "lut_size": table.lut_size}


def apply_file(cmap: ColorMap, input_path, output_path, inverse: bool = False, method: str = "auto",
               lut_size: int | None = None, block_rows: int | None = None, max_megapixels: float | None = None,
               progress: bool = True, png_level: int = 6, table: ColorTable | None = None) -> dict:
    """Map an image file to another, streaming row blocks (see :mod:`src.image_io`).

    Methods (all give 8-bit output; "error" is against per-pixel network evaluation):

    * ``"distinct"``: a first pass marks the 8-bit colours that occur (a 2²⁴-bit map), the
      network is evaluated once on each of them, a second pass looks every pixel up — exact.
    * ``"lut"``: one pass; the table is interpolated from a ``lut_size``³ LUT (error as measured
      at fit time, see :func:`choose_lut_size`).
    * ``"auto"`` (default): after the first pass, ``"lut"`` if the fit-time check found a LUT
      size with error ≤ tolerance *and* that LUT needs fewer network evaluations than the
      distinct colours, else ``"distinct"``.
    * ``"exact"``: the network on every pixel, block by block (slow; the reference).

    Args:
        cmap: the fitted map; ``inverse``: use the inverse map (palette → source colours).
        input_path, output_path: image files (output format by extension; must differ).
        lut_size: LUT size for ``"lut"`` (default: the fit-time choice, else 65).
        block_rows: rows per block (default ≈ 1 Mpx per block).
        max_megapixels: Pillow's decompression-bomb limit (see :func:`src.image_io.open_image`).
        table: a prebuilt :class:`ColorTable` (skips the first pass and the table).

    Returns:
        dict with ``method`` (used), ``megapixels``, ``seconds``, ``table_seconds`` (first pass
        + table), ``map_seconds``, ``megapixels_per_second`` (whole call), ``distinct_colours``,
        ``network_evaluations``, ``note``, ``streaming_input``, ``streaming_output``, …
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    _check_options(lut_size, block_rows, png_level, max_megapixels)
    input_path, output_path = Path(input_path), Path(output_path)
    check_output_path(output_path, input_path)
    start = time.perf_counter()
    distinct = None
    with open_image(input_path, max_megapixels) as reader:
        w, h, c = reader.width, reader.height, reader.channels
        rows = block_rows or max(1, BLOCK_PIXELS // w)
        if table is None and method != "exact":
            table, distinct = build_table(cmap, lambda: reader.blocks(rows), inverse, method, lut_size,
                                          progress, total_rows=h, name=input_path.name)
        t_table = time.perf_counter() - start
        with create_writer(output_path, w, h, c, png_level=png_level) as writer:
            used = "exact" if method == "exact" else table.method
            bar = tqdm(total=h, unit="row", desc=f"mapping {input_path.name} ({used})", disable=not progress, leave=False)
            for _, block in reader.blocks(rows):
                writer.write(cmap.map_exact_uint8(block, inverse) if method == "exact" else table.map(block))
                bar.update(block.shape[0])
            bar.close()
        note, streaming_in, streaming_out = reader.note, reader.streaming, writer.streaming
    total = time.perf_counter() - start
    mpx = w * h / 1e6
    return {"method": used, "megapixels": mpx, "seconds": total, "table_seconds": t_table,
            "map_seconds": total - t_table, "megapixels_per_second": mpx / total,
            "distinct_colours": distinct,
            "network_evaluations": w * h if method == "exact" else table.evaluations,
            "lut_size": table.lut_size if table is not None else None, "note": note,
            "streaming_input": streaming_in, "streaming_output": streaming_out,
            "width": w, "height": h, "channels": c}


def apply_array(table: ColorTable, rgb: np.ndarray, block_pixels: int = BLOCK_PIXELS) -> np.ndarray:
    """Map an in-memory ``uint8 [H, W, 3|4]`` image with ``table`` in row blocks."""
    out = np.empty_like(rgb)
    rows = max(1, block_pixels // max(rgb.shape[1], 1))
    for y0 in range(0, rgb.shape[0], rows):
        out[y0:y0 + rows] = table.map(rgb[y0:y0 + rows])
    return out


def synthetic_image_block(y0: int, rows: int, width: int, height: int, seed: int = 0) -> np.ndarray:
    """Rows ``y0 … y0+rows`` of a smooth, textured, colourful synthetic photo, ``uint8
    [rows, width, 3]`` (with 3 % Gaussian noise, so it has millions of distinct colours when
    large) — for speed tests on images of any size, generated block by block."""
    y = (np.arange(y0, y0 + rows, dtype=np.float32) / height)[:, None]
    x = (np.arange(width, dtype=np.float32) / width)[None, :]
    r = 0.5 + 0.35 * np.sin(6.0 * x + 2.0 * y) + 0.1 * np.sin(83.0 * x * y)
    g = 0.45 + 0.3 * np.cos(4.0 * y - 3.0 * x) + 0.1 * np.sin(57.0 * (x + y))
    b = 0.4 + 0.35 * np.sin(5.0 * (x - y) + 1.0) * np.cos(3.0 * y)
    img = np.stack([r, g, b], axis=-1)
    img += np.random.default_rng([seed, y0]).normal(0.0, 0.03, img.shape).astype(np.float32)
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_synthetic_ppm(path, width: int, height: int, rows: int = 256, seed: int = 0) -> None:
    """Write a :func:`synthetic_image_block` image of any size as binary PPM, block by block."""
    from ..image_io import write_ppm_header

    with atomic_open(path, "wb") as f:
        write_ppm_header(f, width, height)
        for y0 in range(0, height, rows):
            f.write(synthetic_image_block(y0, min(rows, height - y0), width, height, seed).tobytes())
