"""``.cube`` 3-D LUT files (Adobe/Resolve format): export a map, parse a file."""
from __future__ import annotations

import hashlib
import io
import math

import numpy as np

from ..utils import atomic_open
from .colormap import ColorMap


def export_cube(cmap: ColorMap, path, size: int = 33, inverse: bool = False, title: str | None = None) -> None:
    """Write the map as a ``.cube`` 3-D LUT (Adobe/Resolve format; ffmpeg ``lut3d``, image
    editors): ``size³`` exact network values at the grid points, clipped to [0, 1], red varying
    fastest. A comment line ``# sha256 <hex>`` holds the checksum of the data rows, which
    :func:`read_cube` verifies (other programs ignore comments)."""
    lut = cmap.lut(size, inverse).clamp(0, 1)                         # [r, g, b, 3]
    rows = lut.permute(2, 1, 0, 3).reshape(-1, 3).numpy()            # b slowest, r fastest
    md = cmap.metadata
    direction = "inverse" if inverse else "forward"
    title = title or f"W2GN {direction} colour transfer {md.get('source', '?')} -> {md.get('palette', '?')}"
    buf = io.StringIO()
    np.savetxt(buf, rows, fmt="%.6f")
    data = buf.getvalue()
    with atomic_open(path, "w") as f:
        f.write(f"# written by src.color_transfer ({direction} map)\n")
        f.write(f"{_CHECKSUM} {_rows_digest(data.splitlines())}\n")
        f.write(f'TITLE "{title.replace(chr(34), chr(39))}"\n')
        f.write(f"LUT_3D_SIZE {size}\nDOMAIN_MIN 0.0 0.0 0.0\nDOMAIN_MAX 1.0 1.0 1.0\n")
        f.write(data)


_CHECKSUM = "# sha256"


def _rows_digest(lines) -> str:
    """SHA-256 of the data rows of a ``.cube`` file (each stripped, joined by newlines)."""
    h = hashlib.sha256()
    for line in lines:
        h.update(line.strip().encode())
        h.update(b"\n")
    return h.hexdigest()


def read_cube(path) -> tuple[np.ndarray, dict]:
    """Parse a ``.cube`` 3-D LUT → ``(lut [N(r), N(g), N(b), 3] float64, header dict)``.

    A file written by :func:`export_cube` carries the checksum of its data rows, verified here;
    files of other programs (no checksum line) are read as they are.

    Raises:
        ValueError: not a valid 3-D ``.cube`` file (the message says which line), or one whose
            data rows do not match its checksum.
    """
    header, data, size, saved, rows = {}, [], None, None, []
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if line.startswith(_CHECKSUM + " "):
                saved = line[len(_CHECKSUM):].strip()
                continue
            if not line or line.startswith("#"):
                continue
            key = line.split()[0]
            if key in ("TITLE",):
                header["TITLE"] = line[len(key):].strip().strip('"')
            elif key == "LUT_3D_SIZE":
                try:
                    size = int(line.split()[1])
                except (IndexError, ValueError):
                    raise ValueError(f"{path}:{lineno}: LUT_3D_SIZE needs an integer, got {line[:60]!r}") from None
                if not 2 <= size <= 256:
                    raise ValueError(f"{path}:{lineno}: LUT_3D_SIZE must be in [2, 256], got {size}")
                header[key] = size
            elif key in ("DOMAIN_MIN", "DOMAIN_MAX"):
                try:
                    header[key] = [float(v) for v in line.split()[1:4]]
                except ValueError:
                    raise ValueError(f"{path}:{lineno}: {key} needs three numbers, got {line[:60]!r}") from None
            elif key == "LUT_1D_SIZE":
                raise ValueError(f"{path}:{lineno}: a 1-D LUT, expected a 3-D one")
            else:
                try:
                    values = [float(v) for v in line.split()]
                except ValueError:
                    raise ValueError(f"{path}:{lineno}: unexpected line {line[:60]!r}") from None
                if len(values) != 3 or not all(math.isfinite(v) for v in values):
                    raise ValueError(f"{path}:{lineno}: expected three finite numbers, got {line[:60]!r}")
                data.append(values)
                rows.append(line)
    if saved is not None and _rows_digest(rows) != saved:
        raise ValueError(f"{path} is damaged: its data rows do not match its checksum (the file was modified or "
                         "corrupted after it was written); export it again")
    if size is None:
        raise ValueError(f"{path}: no LUT_3D_SIZE line")
    if len(data) != size ** 3:
        raise ValueError(f"{path}: {len(data)} data rows, LUT_3D_SIZE {size} needs {size ** 3}")
    lut = np.asarray(data).reshape(size, size, size, 3).transpose(2, 1, 0, 3)
    return lut, header
