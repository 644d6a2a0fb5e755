"""8-bit colour tables and 3-D LUTs: :class:`ColorTable` (the mapped colour of every 8-bit
colour, from a LUT or from the network on the distinct colours), trilinear interpolation and the
fit-time check of a LUT's error against exact evaluation."""
from __future__ import annotations

from typing import Protocol

import numpy as np
import torch
from tqdm.auto import tqdm


class ColourMapping(Protocol):
    """What this module needs of a colour map (:class:`src.color_transfer.ColorMap` is one; this
    module sits below it and does not import it)."""

    def map_float(self, x: torch.Tensor, inverse: bool = False) -> torch.Tensor:
        """Mapped colours ``[N, 3]`` of the colours ``x`` ``[N, 3]`` in [0, 1] (not clipped)."""

    def lut(self, size: int, inverse: bool = False) -> torch.Tensor:
        """The map on a ``size``³ grid of [0, 1]³, ``[size, size, size, 3]``."""


def _interp_matrix(n: int) -> torch.Tensor:
    """``[256, n]``: linear interpolation weights of the 8-bit values v/255 on an n-point grid."""
    x = torch.arange(256, dtype=torch.float64) * ((n - 1) / 255.0)
    i = x.floor().clamp(max=n - 2).long()
    f = x - i
    m = torch.zeros(256, n, dtype=torch.float64)
    rows = torch.arange(256)
    m[rows, i] = 1 - f
    m[rows, i + 1] += f
    return m.float()


def colour_codes(rgb: np.ndarray) -> np.ndarray:
    """24-bit codes ``r | g<<8 | b<<16`` (uint32, flat) of a ``uint8 [..., 3|4]`` array."""
    if rgb.dtype != np.uint8 or rgb.shape[-1] not in (3, 4):
        raise ValueError(f"expected uint8 [..., 3 or 4], got {rgb.dtype} {list(rgb.shape)}")
    flat = rgb.reshape(-1, rgb.shape[-1])
    code = flat[:, 0].astype(np.uint32)
    code |= flat[:, 1].astype(np.uint32) << 8
    code |= flat[:, 2].astype(np.uint32) << 16
    return code


class ColorTable:
    """The mapped 8-bit colour of every 8-bit colour: ``table32[r | g<<8 | b<<16]`` holds the
    bytes (r', g', b', 0). 64 MB whatever the image size; mapping a pixel is one look-up.

    Build it with :meth:`from_lut` (trilinear interpolation of a LUT, for smooth maps) or
    :meth:`exact` (the network evaluated once on each colour that occurs — no interpolation
    error at all). ``method``, ``lut_size`` and ``evaluations`` (network evaluations spent)
    record how it was made.
    """

    def __init__(self, table32: np.ndarray, method: str, lut_size: int | None = None, evaluations: int = 0):
        if table32.dtype != np.uint32 or table32.shape != (1 << 24,):
            raise ValueError("table32 must be uint32 [2**24]")
        self.table32, self.method, self.lut_size, self.evaluations = table32, method, lut_size, evaluations

    @classmethod
    def from_lut(cls, lut: torch.Tensor, chunk: int = 16) -> "ColorTable":
        """From ``lut`` ``[N, N, N, 3]`` (axes r, g, b) by three separable 1-D linear
        interpolations (exactly trilinear interpolation, done as small matrix products), clipped
        to [0, 1] and rounded to 8 bits."""
        lut = torch.as_tensor(lut, dtype=torch.float32).cpu()
        n = lut.shape[0]
        if lut.shape != (n, n, n, 3) or n < 2:
            raise ValueError(f"LUT must be [N, N, N, 3] with N ≥ 2, got {list(lut.shape)}")
        m = _interp_matrix(n)
        a = torch.einsum("bk,rgkc->brgc", m, lut)            # [256(b), N(r), N(g), 3]
        table = np.zeros((256, 256, 256, 4), dtype=np.uint8)  # [b, g, r, rgb0]
        for b0 in range(0, 256, chunk):
            t = torch.einsum("gj,brjc->bgrc", m, a[b0:b0 + chunk])
            t = torch.einsum("ri,bgic->bgrc", m, t)
            table[b0:b0 + chunk, :, :, :3] = t.clamp_(0, 1).mul_(255).round_().to(torch.uint8).numpy()
        return cls(table.reshape(-1).view(np.uint32), "lut", lut_size=n, evaluations=n ** 3)

    @classmethod
    def exact(cls, cmap: ColourMapping, present: np.ndarray | None = None, inverse: bool = False,
              batch_size: int = 1 << 15, progress: bool = False) -> "ColorTable":
        """Evaluate the network once on each colour with ``present[code]`` True (``bool
        [2**24]``; ``None``: all 2²⁴ colours); other entries stay 0."""
        codes = np.flatnonzero(present).astype(np.uint32) if present is not None else np.arange(1 << 24, dtype=np.uint32)
        table32 = np.zeros(1 << 24, dtype=np.uint32)
        bar = tqdm(total=len(codes), unit="colour", unit_scale=True, desc="network on distinct colours",
                   disable=not progress, leave=False)
        for i in range(0, len(codes), batch_size):
            c = codes[i:i + batch_size]
            rgb = np.stack([c & 255, (c >> 8) & 255, c >> 16], axis=1).astype(np.float32) / 255.0
            y = cmap.map_float(torch.from_numpy(rgb), inverse).clamp_(0, 1).mul_(255).round_().to(torch.int64).numpy()
            table32[c] = (y[:, 0] | (y[:, 1] << 8) | (y[:, 2] << 16)).astype(np.uint32)
            bar.update(len(c))
        bar.close()
        return cls(table32, "distinct", evaluations=len(codes))

    def map(self, rgb: np.ndarray) -> np.ndarray:
        """Map a ``uint8 [..., 3|4]`` array (alpha kept); returns a new array of the same shape."""
        out = np.take(self.table32, colour_codes(rgb)).view(np.uint8).reshape(-1, 4)
        if rgb.shape[-1] == 4:
            out[:, 3] = rgb.reshape(-1, 4)[:, 3]
            return out.reshape(rgb.shape)
        return np.ascontiguousarray(out[:, :3]).reshape(rgb.shape)


def interpolate_lut(lut: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
    """Trilinear interpolation of ``lut`` ``[N, N, N, 3]`` (axes r, g, b) at colours ``rgb``
    ``[M, 3]`` in [0, 1] → ``[M, 3]`` (not clipped). The value :class:`ColorTable` rounds."""
    import torch.nn.functional as F

    vol = lut.permute(3, 0, 1, 2).unsqueeze(0).float()          # [1, 3, D=r, H=g, W=b]
    grid = (rgb.float() * 2 - 1).flip(-1).view(1, -1, 1, 1, 3)   # grid order (x=b, y=g, z=r)
    out = F.grid_sample(vol, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out.view(3, -1).t()


def check_colours(n: int, lut_size: int, seed: int = 0) -> torch.Tensor:
    """8-bit colours ``uint8 [M, 3]`` for checking a LUT: ``n`` uniformly random ones and ``n``
    nearest to the centres of random LUT cells (where trilinear interpolation errs most)."""
    g = torch.Generator().manual_seed(seed)
    uniform = torch.randint(0, 256, (n, 3), generator=g)
    cells = torch.randint(0, lut_size - 1, (n, 3), generator=g).double()
    centres = ((cells + 0.5) * (255.0 / (lut_size - 1))).round().clamp(0, 255).long()
    return torch.cat([uniform, centres]).to(torch.uint8)


def lut_error(cmap: ColourMapping, lut: torch.Tensor, colours: torch.Tensor, inverse: bool = False) -> float:
    """Max abs difference (in [0, 1] units, both clipped to [0, 1]) between trilinear
    interpolation of ``lut`` and exact evaluation of the network at 8-bit ``colours`` ``[M, 3]``."""
    x = torch.as_tensor(colours).float() / 255.0
    exact = cmap.map_float(x, inverse).cpu().clamp(0, 1)
    approx = interpolate_lut(lut, x).clamp(0, 1)
    return float((exact - approx).abs().max())


def choose_lut_size(cmap: ColourMapping, inverse: bool, sizes=(33, 65, 129), tolerance: float = 0.5 / 255,
                    n_check: int = 20000, seed: int = 0) -> dict:
    """The smallest LUT size in ``sizes`` whose :func:`lut_error` (on :func:`check_colours`) is
    ≤ ``tolerance``.

    Returns ``{"size", "usable", "max_error", "max_error_255", "tolerance", "n_checked",
    "tried": {size: error}}``; ``usable`` is False (and ``size`` None) when no size passes —
    then ``apply`` evaluates the network on the distinct colours instead. Stops early when
    even second-order convergence could not reach the tolerance at the largest size.
    """
    sizes = sorted(int(s) for s in sizes)
    tried, size = {}, None
    for s in sizes:
        err = lut_error(cmap, cmap.lut(s, inverse), check_colours(n_check, s, seed), inverse)
        tried[s] = err
        if err <= tolerance:
            size = s
            break
        if err * ((s - 1) / (sizes[-1] - 1)) ** 2 > tolerance:
            break
    best = size if size is not None else min(tried, key=tried.get)
    return {"size": size, "usable": size is not None, "max_error": tried[best], "max_error_255": tried[best] * 255,
            "tolerance": tolerance, "n_checked": 2 * n_check, "tried": tried}
