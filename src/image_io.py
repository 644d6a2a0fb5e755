"""Row-block image reading and writing for pixel-wise maps of images of any size.

Used by :mod:`src.color_transfer` (``apply``). Blocks are ``uint8`` arrays ``[rows, W, C]``
with ``C`` = 3 (RGB) or 4 (RGBA, straight alpha); no float copy of a whole image is ever made.

What streams and what does not (the honest memory story):

* **Binary PPM/PGM (P6/P5, 8-bit)** are read row block by row block straight from the file
  (header parsed here, no Pillow), and ``.ppm`` / ``.png`` outputs are written row block by row
  block (``.png`` by the streaming encoder below). PPM → PPM/PNG therefore runs in memory that
  does not depend on the image size — the path for gigapixel images (convert with e.g.
  ``vips copy in.tif out.ppm`` or ``magick in.jpg out.ppm``).
* **Other inputs (PNG, JPEG, TIFF, WebP, …)** are decoded by Pillow, which has no row-streaming
  API: the 8-bit image is held once in Pillow's memory (4 bytes/pixel); blocks are cropped from
  it. Pillow refuses images above ``Image.MAX_IMAGE_PIXELS`` (≈179 Mpx) as a "decompression
  bomb"; :func:`open_image` turns that into a clear error (raise the limit with
  ``max_megapixels`` or convert to PPM).
* **Other outputs (JPEG, TIFF, WebP, …)** are encoded by Pillow from one ``uint8`` buffer of
  the output size (3–4 bytes/pixel), filled block by block.

Grey (L, LA, 1-bit), palette (P/PA), CMYK/YCbCr/LAB images are converted to RGB(A), with a
note. 16-bit (and 32-bit integer/float) images are refused with a clear message: Pillow would
silently drop their low byte and cannot write 16-bit colour.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

__all__ = ["ImageFormatError", "open_image", "create_writer", "RowReader", "RowWriter",
           "read_rgb", "write_ppm_header", "check_output_path"]


class ImageFormatError(ValueError):
    """An image cannot be read or written as asked; the message says why and what to do."""


_CONVERT_NOTES = {
    "L": "grey image converted to RGB (the mapped output is in colour)",
    "1": "1-bit image converted to RGB (the mapped output is in colour)",
    "LA": "grey+alpha image converted to RGBA (alpha kept, the mapped output is in colour)",
    "P": "palette image converted to RGB",
    "PA": "palette+alpha image converted to RGBA (alpha kept)",
    "CMYK": "CMYK image converted to RGB by Pillow (naive conversion, no colour profile)",
    "YCbCr": "YCbCr image converted to RGB",
    "LAB": "LAB image converted to RGB",
    "HSV": "HSV image converted to RGB",
    "RGBX": "RGBX image read as RGB",
    "RGBa": "premultiplied RGBa image converted to straight RGBA",
}
_HIGH_DEPTH = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N", "I;16S", "I;32", "I;32B")


def _too_deep(path, what: str) -> ImageFormatError:
    return ImageFormatError(
        f"{path}: {what} images are not supported (only 8 bits per channel: Pillow would silently "
        "drop the low byte and cannot write 16-bit colour). Convert to 8-bit first, e.g. "
        f"`magick {Path(path).name} -depth 8 out.png`.")


class RowReader:
    """Iterates an image as ``uint8`` row blocks ``[rows, W, C]`` (C = 3 or 4).

    Attributes: ``width``, ``height``, ``channels``, ``note`` (conversion notice or ``""``),
    ``streaming`` (True when the file is read block by block rather than decoded whole).
    """

    width: int
    height: int
    channels: int
    note: str = ""
    streaming: bool = False

    def blocks(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(y0, block)`` for consecutive blocks of at most ``rows`` rows."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _PNMReader(RowReader):
    """Binary PPM (P6) / PGM (P5) with maxval ≤ 255, read block by block from the file."""

    streaming = True

    def __init__(self, path, magic: bytes, width: int, height: int, maxval: int, offset: int):
        self.path, self.width, self.height = path, width, height
        self.grey = magic == b"P5"
        self.channels = 3
        self.note = _CONVERT_NOTES["L"] if self.grey else ""
        self.maxval = maxval
        self.file = open(path, "rb")
        self.file.seek(offset)
        self.offset = offset
        size = os.fstat(self.file.fileno()).st_size
        need = offset + width * height * (1 if self.grey else 3)
        if size < need:
            self.file.close()
            raise ImageFormatError(f"{path}: truncated PNM file ({size} bytes, header promises {need})")

    def blocks(self, rows: int):
        per_px = 1 if self.grey else 3
        self.file.seek(self.offset)
        for y0 in range(0, self.height, rows):
            h = min(rows, self.height - y0)
            buf = np.empty((h, self.width, per_px), dtype=np.uint8)
            n = self.file.readinto(memoryview(buf).cast("B"))
            if n != buf.nbytes:
                raise ImageFormatError(f"{self.path}: truncated PNM data at row {y0}")
            if self.maxval != 255:
                buf = np.round(buf.astype(np.float32) * (255.0 / self.maxval)).astype(np.uint8)
            yield y0, (np.repeat(buf, 3, axis=2) if self.grey else buf)

    def close(self):
        self.file.close()


class _PILReader(RowReader):
    """Any image Pillow can decode (held decoded in Pillow's memory; blocks are cropped)."""

    def __init__(self, path, image):
        self.path, self.image = path, image
        self.width, self.height = image.size
        mode = image.mode
        if mode in _HIGH_DEPTH:
            image.close()
            raise _too_deep(path, f"{mode} ({'16' if '16' in mode else '32'}-bit)")
        rawmode = _rawmode(image)
        if ";16" in rawmode or ";32" in rawmode:
            image.close()
            raise _too_deep(path, "16-bit per channel")
        alpha = mode in ("RGBA", "LA", "PA", "RGBa") or (mode == "P" and "transparency" in image.info)
        self.out_mode = "RGBA" if alpha else "RGB"
        self.channels = 4 if alpha else 3
        if mode == "P" and alpha:
            self.note = "palette image with transparency converted to RGBA (alpha kept)"
        elif mode not in ("RGB", "RGBA"):
            self.note = _CONVERT_NOTES.get(mode, f"{mode} image converted to {self.out_mode} by Pillow")
        if getattr(image, "n_frames", 1) > 1:
            self.note = (self.note + "; " if self.note else "") + f"only the first of {image.n_frames} frames is used"

    def blocks(self, rows: int):
        try:
            self.image.load()
            for y0 in range(0, self.height, rows):
                h = min(rows, self.height - y0)
                crop = self.image.crop((0, y0, self.width, y0 + h))
                if crop.mode != self.out_mode:
                    crop = crop.convert(self.out_mode)
                yield y0, np.asarray(crop, dtype=np.uint8).reshape(h, self.width, self.channels)
        except OSError as e:  # truncated / corrupt data found while decoding
            raise ImageFormatError(f"{self.path}: cannot decode the image data ({e})") from e

    def close(self):
        self.image.close()


def _rawmode(image) -> str:
    try:
        args = image.tile[0].args if hasattr(image.tile[0], "args") else image.tile[0][3]
    except (IndexError, AttributeError, TypeError):
        return ""
    return args if isinstance(args, str) else str(args[0]) if args else ""


def _read_pnm_header(f) -> tuple[bytes, int, int, int, int] | None:
    """``(magic, width, height, maxval, data_offset)`` of a binary P5/P6 file, else None."""
    head = f.read(2)
    if head not in (b"P5", b"P6"):
        return None
    fields, token, in_comment = [], b"", False
    while len(fields) < 3:
        c = f.read(1)
        if not c:
            raise ImageFormatError(f"{f.name}: truncated PNM header")
        if in_comment:
            in_comment = c not in b"\r\n"
            continue
        if c == b"#":
            in_comment = True
        elif c.isspace():
            if token:
                fields.append(int(token))
                token = b""
                if len(fields) == 3:
                    break
        elif c.isdigit():
            token += c
        else:
            raise ImageFormatError(f"{f.name}: malformed PNM header (unexpected byte {c!r})")
    width, height, maxval = fields
    if width < 1 or height < 1 or not 0 < maxval < 65536:
        raise ImageFormatError(f"{f.name}: malformed PNM header (width {width}, height {height}, maxval {maxval})")
    return head, width, height, maxval, f.tell()


def open_image(path, max_megapixels: float | None = None) -> RowReader:
    """A :class:`RowReader` for ``path``.

    Args:
        path: the image file.
        max_megapixels: raise Pillow's decompression-bomb limit to this many megapixels
            (``0`` or negative: no limit). Does not apply to PPM/PGM, which stream.

    Raises:
        FileNotFoundError: no such file.
        ImageFormatError: not an image, corrupt, 16-bit, or too large for Pillow.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    with open(path, "rb") as f:
        header = _read_pnm_header(f)
    if header is not None:
        magic, w, h, maxval, offset = header
        if maxval > 255:
            raise _too_deep(path, "16-bit PNM")
        return _PNMReader(path, magic, w, h, maxval, offset)
    from PIL import Image, UnidentifiedImageError

    old = Image.MAX_IMAGE_PIXELS
    try:
        if max_megapixels is not None:
            Image.MAX_IMAGE_PIXELS = int(max_megapixels * 1e6) if max_megapixels > 0 else None
        image = Image.open(path)
    except UnidentifiedImageError as e:
        raise ImageFormatError(f"{path}: not an image file Pillow can read "
                               "(PNG, JPEG, TIFF, WebP, BMP, PPM, … expected)") from e
    except Image.DecompressionBombError as e:
        raise ImageFormatError(
            f"{path}: {e} Pillow decodes such images whole in memory (4 bytes/pixel); raise the "
            "limit with --max-megapixels, or convert the image to binary PPM (e.g. `vips copy "
            f"{path.name} big.ppm`), which is mapped in row blocks at constant memory.") from e
    except OSError as e:
        raise ImageFormatError(f"{path}: cannot read the image ({e})") from e
    finally:
        Image.MAX_IMAGE_PIXELS = old
    return _PILReader(path, image)


def read_rgb(path, max_megapixels: float | None = None) -> tuple[np.ndarray, str]:
    """A whole (small) image as ``uint8 [H, W, C]`` (C = 3 or 4) and its conversion note."""
    with open_image(path, max_megapixels) as reader:
        out = np.empty((reader.height, reader.width, reader.channels), dtype=np.uint8)
        for y0, block in reader.blocks(max(1, (1 << 22) // max(reader.width, 1))):
            out[y0:y0 + block.shape[0]] = block
        return out, reader.note


# ---------------------------------------------------------------------------------- writers
class RowWriter:
    """Writes ``uint8`` row blocks ``[rows, W, C]`` in order; ``close()`` finishes the file.

    The file is written atomically: into a temporary file beside ``path``, renamed onto
    ``path`` by ``close()``. Used as a context manager: on an exception (or a kill) the
    temporary file is dropped and an existing file at ``path`` is left as it was.
    """

    streaming: bool = False

    def __init__(self, path, width: int, height: int, channels: int):
        from .utils import atomic_open

        self.path, self.width, self.height, self.channels = Path(path), width, height, channels
        self.rows_written = 0
        self._atomic = atomic_open(self.path, "wb")
        self.file = self._atomic.__enter__()
        self._open = True

    def write(self, block: np.ndarray) -> None:
        if block.dtype != np.uint8 or block.shape[1:] != (self.width, self.channels):
            raise ValueError(f"expected a uint8 block [rows, {self.width}, {self.channels}], "
                             f"got {block.dtype} {list(block.shape)}")
        if self.rows_written + block.shape[0] > self.height:
            raise ValueError(f"more rows than the image height {self.height}")
        self._write(np.ascontiguousarray(block))
        self.rows_written += block.shape[0]

    def _write(self, block: np.ndarray) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the image and put it in place (atomically)."""
        if self.rows_written != self.height:
            raise ValueError(f"{self.path}: {self.rows_written} rows written, the image has {self.height}")
        self._finish()
        self._open = False
        self._atomic.__exit__(None, None, None)

    def _finish(self) -> None:
        pass

    def abort(self) -> None:
        """Drop the partial output (an existing file at ``path`` is kept)."""
        if self._open:
            self._open = False
            err = RuntimeError("image writing aborted")
            self._atomic.__exit__(type(err), err, None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()


def check_output_path(output, *inputs) -> Path:
    """Refuse an output file that would overwrite one of ``inputs`` (the same path, a symbolic
    link or a hard link to it: same device and inode) or cannot be written (missing folder, no
    write permission, a folder in its place) — before any work starts.

    Raises:
        FileNotFoundError: the output folder does not exist.
        ValueError: the output is an input, a folder, or not writable.
    """
    output = Path(output)
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"output folder does not exist: {folder}")
    if output.is_dir():
        raise ValueError(f"output {output} is a folder; give a file name")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write into the output folder {folder} (no permission)")
    if output.exists():
        out = os.stat(output)
        for inp in inputs:
            try:
                st = os.stat(inp)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
                raise ValueError(f"output {output} is the input {inp} (the same file, or a link to it): it would "
                                 "overwrite the input; choose another output file")
    return output


def write_ppm_header(f, width: int, height: int) -> None:
    f.write(b"P6\n%d %d\n255\n" % (width, height))


class _PPMWriter(RowWriter):
    streaming = True

    def __init__(self, path, width, height, channels):
        if channels != 3:
            raise ImageFormatError(f"{path}: PPM cannot store an alpha channel; write .png instead")
        super().__init__(path, width, height, channels)
        write_ppm_header(self.file, width, height)

    def _write(self, block):
        self.file.write(memoryview(block).cast("B"))


class _PNGWriter(RowWriter):
    """Streaming 8-bit PNG encoder (RGB or RGBA, "Sub" row filter, zlib), constant memory."""

    streaming = True

    def __init__(self, path, width, height, channels, level: int = 6):
        super().__init__(path, width, height, channels)
        self.file.write(b"\x89PNG\r\n\x1a\n")
        colour_type = 6 if channels == 4 else 2
        ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, colour_type, 0, 0, 0])
        self._chunk(b"IHDR", ihdr)
        self.z = zlib.compressobj(level)

    def _chunk(self, kind: bytes, data) -> None:
        self.file.write(len(data).to_bytes(4, "big"))
        self.file.write(kind)
        self.file.write(data)
        self.file.write((zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF).to_bytes(4, "big"))

    def _write(self, block):
        h, c = block.shape[0], self.channels
        rows = block.reshape(h, -1)
        filtered = np.empty((h, rows.shape[1] + 1), dtype=np.uint8)
        filtered[:, 0] = 1                                   # filter type 1 (Sub)
        filtered[:, 1:1 + c] = rows[:, :c]
        np.subtract(rows[:, c:], rows[:, :-c], out=filtered[:, 1 + c:])   # wraps mod 256
        data = self.z.compress(memoryview(filtered).cast("B"))
        if data:
            self._chunk(b"IDAT", data)

    def _finish(self):
        tail = self.z.flush()
        if tail:
            self._chunk(b"IDAT", tail)
        self._chunk(b"IEND", b"")


class _PILWriter(RowWriter):
    """Other formats: one ``uint8`` output buffer, encoded by Pillow at the end."""

    def __init__(self, path, width, height, channels, fmt: str):
        if channels == 4 and fmt in ("JPEG", "PPM", "BMP"):
            raise ImageFormatError(f"{path}: {fmt} cannot store an alpha channel; write .png (or .tif/.webp) instead")
        super().__init__(path, width, height, channels)
        self.fmt = fmt
        self.buffer = np.empty((height, width, channels), dtype=np.uint8)

    def _write(self, block):
        self.buffer[self.rows_written:self.rows_written + block.shape[0]] = block

    def _finish(self):
        from PIL import Image

        kwargs = {"quality": 95} if self.fmt in ("JPEG", "WEBP") else {}
        Image.fromarray(self.buffer, "RGBA" if self.channels == 4 else "RGB").save(self.file, self.fmt, **kwargs)
        self.buffer = None


def create_writer(path, width: int, height: int, channels: int, png_level: int = 6) -> RowWriter:
    """A :class:`RowWriter` chosen by the extension of ``path``: ``.png``/``.ppm`` stream,
    anything else Pillow can write (``.jpg``, ``.tif``, ``.webp``, …) is buffered."""
    path = Path(path)
    ext = path.suffix.lower()
    if not path.parent.exists():
        raise FileNotFoundError(f"output folder does not exist: {path.parent}")
    if ext == ".png":
        return _PNGWriter(path, width, height, channels, png_level)
    if ext in (".ppm", ".pnm"):
        return _PPMWriter(path, width, height, channels)
    from PIL import Image

    fmt = Image.registered_extensions().get(ext)
    if fmt is None or fmt not in Image.SAVE:
        raise ImageFormatError(f"{path}: unknown or unwritable image extension {ext!r} (use .png, .ppm, .jpg, .tif, .webp)")
    return _PILWriter(path, width, height, channels, fmt)
