"""Colour transfer with W2GN: fit a cycle-monotone map between the RGB colour distributions of
two images, apply it to images of any size, export it as a ``.cube`` 3-D LUT.

The map acts on each pixel's colour alone (``[0, 1]³ → R³``, clipped to ``[0, 1]³``), so an
image's size only costs mapping time. ``ψ_θ`` (``D``) gives the forward map source → palette
colours, ``ψ_ω`` (``D_conj``) the inverse map.

Applying a map (:func:`apply_file`, CLI ``apply``) never evaluates the network per pixel.
An 8-bit image has at most 2²⁴ colours, so the image is streamed in row blocks (≈1 Mpx each)
twice: the first pass marks which colours occur (a 16 MB presence map), the network is evaluated once
on each distinct colour into a 2²⁴-entry table (64 MB), and the second pass maps every pixel by
one table look-up. This is exact (the same float32 network and rounding as per-pixel
evaluation, up to float round-off of different batch sizes) and costs
network time proportional to the number of distinct colours (≈10⁵ for a photo of 0.3 Mpx, a few
million for a large one), not to the number of pixels.

A trilinear 3-D LUT (the network on an N³ grid, N = 33/65/129, expanded to the 2²⁴ table by
separable interpolation) is the alternative: its error against exact evaluation is measured at
fit time on 40k 8-bit colours (uniform ones and ones near LUT-cell centres, where trilinear
interpolation errs most) and it is used (``method="auto"``) only when that error is
≤ ``lut_tolerance`` (0.5/255) and the LUT needs fewer network evaluations than the image has
distinct colours. W2GN maps with CELU activations have kinks in their derivative, so the LUT
error only halves when N doubles; for such maps (e.g. the notebook's) "auto" picks the exact
distinct-colour table. See :mod:`src.image_io` for which formats stream (PPM in, PPM/PNG out)
and which are decoded whole by Pillow (8-bit, never a float copy of the image).

Modules, each importing only those listed before it: :mod:`.table` (:class:`ColorTable`, LUT
interpolation and its fit-time check), :mod:`.colormap` (:class:`ColorMap`, map files, pixels of
a photo, evaluation), :mod:`.apply` (mapping images and streamed files), :mod:`.cube` (``.cube``
files). The fit with the experiment's settings is
:func:`src.experiments.color_transfer.fit_color_map` (which imports this package), and the
command line :mod:`src.color_transfer.cli` sits on top of both (``python -m src.color_transfer``;
``from src.color_transfer.cli import main``): importing this package does not load it.

Map files (:meth:`ColorMap.save`) and exported ``.cube`` files carry a SHA-256 checksum that
loading verifies (a damaged file is refused, never mapped to a black image). The CLI checks every
option and resolves every input to the file it reads before it writes anything, and reports each
failure (a bad option, no CUDA, a full disk, no memory, …) as one line ``error: …`` on stderr with
exit status 2.

CLI::

    python -m src.color_transfer fit SOURCE PALETTE --out MAP.pt [--iterations N] [--seed S]
    python -m src.color_transfer apply MAP.pt INPUT OUTPUT [--inverse]
    python -m src.color_transfer export-cube MAP.pt OUT.cube [--size N] [--inverse]
"""
from __future__ import annotations

from ..image_io import ImageFormatError
from .apply import (BLOCK_PIXELS, METHODS, apply_array, apply_file, build_table, map_image, synthetic_image_block,
                    write_synthetic_ppm)
from .colormap import ColorMap, MapFileError, evaluate_color_map, image_to_pixels, load_photo
from .cube import export_cube, read_cube
from .table import ColorTable, check_colours, choose_lut_size, colour_codes, interpolate_lut, lut_error

__all__ = ["ColorMap", "ColorTable", "MapFileError", "ImageFormatError",
           "apply_file", "export_cube", "read_cube", "load_photo", "image_to_pixels",
           "evaluate_color_map", "lut_error", "check_colours", "interpolate_lut", "map_image",
           "build_table", "apply_array", "colour_codes", "synthetic_image_block", "write_synthetic_ppm",
           "choose_lut_size", "METHODS", "BLOCK_PIXELS"]
