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

CLI::

    python -m src.color_transfer fit SOURCE PALETTE --out MAP.pt [--iterations N] [--seed S]
    python -m src.color_transfer apply MAP.pt INPUT OUTPUT [--inverse]
    python -m src.color_transfer export-cube MAP.pt OUT.cube [--size N] [--inverse]
"""
from __future__ import annotations

import argparse
import hashlib
import math
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .distributions import TensorDatasetSampler, UniformSampler
from .icnn import DenseICNN, init_normal_
from .image_io import ImageFormatError, check_output_path, create_writer, open_image, read_rgb
from .utils import atomic_open, atomic_torch_save
from .w2gn import NonFiniteLossError, W2GNConfig, pretrain_identity, train

__all__ = ["ColorMap", "ColorTable", "MapFileError", "ImageFormatError", "fit_color_map",
           "apply_file", "export_cube", "read_cube", "load_photo", "image_to_pixels",
           "evaluate_color_map", "lut_error", "check_colours", "interpolate_lut", "main", "map_image",
           "build_table", "apply_array", "colour_codes", "synthetic_image_block", "write_synthetic_ppm",
           "choose_lut_size", "METHODS"]

MAP_FORMAT = "w2gn-color-transfer"
MAP_VERSION = 1
BLOCK_PIXELS = 1 << 20          # pixels per streamed row block


class MapFileError(ValueError):
    """A file is not a colour-transfer map (or a broken one); the message says what to do."""


# --------------------------------------------------------------------------------- pixels
def load_photo(name: str, max_side: int | None = None) -> np.ndarray:
    """A photo as ``uint8 [H, W, 3|4]``: ``name`` is a path or a file in ``data/color_transfer``;
    downscaled (Lanczos) so that its longer side is at most ``max_side`` when given."""
    from .datasets import color_transfer_image

    rgb, note = read_rgb(color_transfer_image(name))
    if note:
        print(f"note: {name}: {note}", file=sys.stderr)
    if max_side and max(rgb.shape[:2]) > max_side:
        from PIL import Image

        h, w = rgb.shape[:2]
        s = max_side / max(h, w)
        img = Image.fromarray(rgb).resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
        rgb = np.asarray(img)
    return rgb


def image_to_pixels(rgb: np.ndarray, max_pixels: int | None = None, seed: int = 0) -> torch.Tensor:
    """``uint8 [H, W, 3|4]`` → float pixel colours ``[N, 3]`` in [0, 1] (fully transparent pixels
    of an RGBA image are left out); at most ``max_pixels`` random ones (chosen before the float
    conversion, so a large image is never copied as floats)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
        raise ValueError(f"expected a uint8 image [H, W, 3 or 4], got {rgb.dtype} {list(rgb.shape)}")
    flat = rgb.reshape(-1, rgb.shape[2])
    if rgb.shape[2] == 4:
        flat = flat[flat[:, 3] > 0]
        if flat.shape[0] == 0:
            raise ValueError("the image is fully transparent: no colours to fit")
    if max_pixels is not None and flat.shape[0] > max_pixels:
        idx = np.random.default_rng(seed).choice(flat.shape[0], max_pixels, replace=False)
        flat = flat[idx]
    return torch.from_numpy(np.array(flat[:, :3], dtype=np.uint8, copy=True)).float().div_(255.0)


# ------------------------------------------------------------------------------- the map
class ColorMap:
    """A fitted colour map: ψ_θ (``D``, forward ∇ψ_θ: source → palette colours) and ψ_ω
    (``D_conj``, inverse) plus metadata (file names, settings, LUT sizes and errors).

    Save/load with :meth:`save` / :meth:`load` (``torch.load(weights_only=True)``-compatible).
    """

    def __init__(self, D: DenseICNN, D_conj: DenseICNN, metadata: dict | None = None):
        for name, net in (("D", D), ("D_conj", D_conj)):
            if not isinstance(net, DenseICNN) or net.in_dim != 3:
                raise ValueError(f"ColorMap needs two DenseICNN(3, …) nets; {name} is {net!r}")
        self.D, self.D_conj = D.eval(), D_conj.eval()
        self.metadata = dict(metadata or {})

    def net(self, inverse: bool = False) -> DenseICNN:
        return self.D_conj if inverse else self.D

    @property
    def device(self) -> torch.device:
        return next(self.D.parameters()).device

    def to(self, device) -> "ColorMap":
        self.D.to(device)
        self.D_conj.to(device)
        return self

    @torch.no_grad()
    def map_float(self, x: torch.Tensor, inverse: bool = False, batch_size: int = 4096) -> torch.Tensor:
        """Exact map of colours ``x`` ``[N, 3]`` (in [0, 1]; result not clipped), on ``x``'s device."""
        net = self.net(inverse).eval()
        return net.push_nograd(x.to(self.device, torch.float32), batch_size).to(x.device)

    def map_exact_uint8(self, rgb: np.ndarray, inverse: bool = False) -> np.ndarray:
        """Exact per-pixel evaluation of the network on a ``uint8 [..., 3|4]`` array (alpha kept).
        Slow; the reference the look-up table is checked against."""
        flat = rgb.reshape(-1, rgb.shape[-1])
        x = torch.from_numpy(np.array(flat[:, :3], dtype=np.uint8, copy=True)).float().div_(255.0)
        y = self.map_float(x, inverse).clamp_(0, 1).mul_(255).round_().to(torch.uint8).numpy()
        out = flat.copy()
        out[:, :3] = y
        return out.reshape(rgb.shape)

    def lut(self, size: int, inverse: bool = False) -> torch.Tensor:
        """Exact map on the ``size³`` grid of [0, 1]³: ``[size(r), size(g), size(b), 3]`` float32
        (not clipped)."""
        if not 2 <= size <= 256:
            raise ValueError(f"LUT size must be in [2, 256], got {size}")
        axis = torch.linspace(0, 1, size)
        grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
        return self.map_float(grid, inverse).reshape(size, size, size, 3).cpu()

    def lut_record(self, inverse: bool = False) -> dict:
        """The fit-time LUT check of one direction (see :func:`choose_lut_size`), or ``{}``."""
        return dict(self.metadata.get("lut", {}).get("inverse" if inverse else "forward", {}))

    def table(self, inverse: bool = False, lut_size: int | None = None) -> "ColorTable":
        """The 8-bit table of all 2²⁴ colours from a ``lut_size``³ LUT (default: the size chosen
        at fit time, else 65) — see :class:`ColorTable`."""
        size = lut_size or self.lut_record(inverse).get("size") or 65
        return ColorTable.from_lut(self.lut(size, inverse))

    # ------------------------------------------------------------------ files
    def state(self) -> dict:
        return {
            "format": MAP_FORMAT, "version": MAP_VERSION,
            "D_config": self.D.config(), "D_conj_config": self.D_conj.config(),
            "D": {k: v.detach().cpu() for k, v in self.D.state_dict().items()},
            "D_conj": {k: v.detach().cpu() for k, v in self.D_conj.state_dict().items()},
            "metadata": self.metadata,
        }

    def save(self, path) -> None:
        """Write the map (atomically: a failed or killed save keeps an existing file)."""
        atomic_torch_save(self.state(), path)

    @classmethod
    def load(cls, path, map_location="cpu") -> "ColorMap":
        """Load a map written by :meth:`save` / ``fit``.

        Raises:
            FileNotFoundError: no such file.
            MapFileError: the file is not a colour-transfer map (another torch file, an image, …).
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"map file not found: {path}")
        hint = "create one with `python -m src.color_transfer fit SOURCE PALETTE --out MAP.pt`"
        if not zipfile.is_zipfile(path):
            raise MapFileError(f"{path} is not a colour-transfer map file (not a PyTorch .pt file); {hint}")
        try:
            state = torch.load(path, map_location=map_location, weights_only=True)
        except Exception as e:  # pickle errors of many kinds
            raise MapFileError(f"{path} is a PyTorch file but not a colour-transfer map (it does not load "
                               f"with weights_only=True: {type(e).__name__}); {hint}") from e
        if not isinstance(state, dict) or state.get("format") != MAP_FORMAT:
            keys = sorted(state)[:8] if isinstance(state, dict) else type(state).__name__
            raise MapFileError(f"{path} is a torch file but not a colour-transfer map "
                               f"(no format={MAP_FORMAT!r}; it holds {keys}); {hint}")
        if state.get("version") != MAP_VERSION:
            raise MapFileError(f"{path}: map file version {state.get('version')} is not supported "
                               f"(this code reads version {MAP_VERSION}); refit the map")
        try:
            D = DenseICNN(**state["D_config"])
            D_conj = DenseICNN(**state["D_conj_config"])
            D.load_state_dict(state["D"])
            D_conj.load_state_dict(state["D_conj"])
        except (KeyError, TypeError, ValueError) as e:
            raise MapFileError(f"{path}: broken colour-transfer map ({e}); refit the map") from e
        return cls(D.to(map_location), D_conj.to(map_location), state.get("metadata", {}))


# ------------------------------------------------------------------------- look-up tables
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
    def exact(cls, cmap: "ColorMap", present: np.ndarray | None = None, inverse: bool = False,
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


def lut_error(cmap: ColorMap, lut: torch.Tensor, colours: torch.Tensor, inverse: bool = False) -> float:
    """Max abs difference (in [0, 1] units, both clipped to [0, 1]) between trilinear
    interpolation of ``lut`` and exact evaluation of the network at 8-bit ``colours`` ``[M, 3]``."""
    x = torch.as_tensor(colours).float() / 255.0
    exact = cmap.map_float(x, inverse).cpu().clamp(0, 1)
    approx = interpolate_lut(lut, x).clamp(0, 1)
    return float((exact - approx).abs().max())


def choose_lut_size(cmap: ColorMap, inverse: bool, sizes=(33, 65, 129), tolerance: float = 0.5 / 255,
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


# ---------------------------------------------------------------------------------- fitting
def fit_color_map(source: np.ndarray, palette: np.ndarray, cfg, device=None, progress: bool = True,
                  callback=None, names: tuple[str, str] = ("source", "palette")) -> ColorMap:
    """Fit W2GN between the pixel colours of ``source`` and ``palette`` (``uint8 [H, W, 3|4]``).

    ``cfg`` is a :class:`src.configs.ColorTransferConfig`. D is initialised N(0,1)·init_scale,
    pretrained to the identity on Uniform([low, high]³), copied into D_conj, then trained with
    :func:`src.w2gn.train` (``callback`` is passed on). Afterwards the LUT size of each direction
    is chosen by :func:`choose_lut_size` and recorded in the metadata with the fit time.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    X = image_to_pixels(source, cfg.max_fit_pixels, seed=cfg.seed)
    Y = image_to_pixels(palette, cfg.max_fit_pixels, seed=cfg.seed + 1)
    g = torch.Generator().manual_seed(cfg.seed)

    def make() -> DenseICNN:
        return DenseICNN(3, cfg.hidden_layer_sizes, rank=cfg.rank, activation=cfg.activation,
                         dropout=cfg.dropout, strong_convexity=cfg.strong_convexity)

    start = time.perf_counter()
    D = make()
    init_normal_(D, cfg.init_scale, generator=g)
    D.to(device)
    torch.manual_seed(cfg.seed)
    pretrain_loss = pretrain_identity(
        D, UniformSampler(3, cfg.pretrain_low, cfg.pretrain_high, device=device, seed=cfg.seed + 1),
        iterations=cfg.pretrain_iterations, lr=cfg.pretrain_lr, blow=1.0, tol=cfg.pretrain_tol,
        batch_size=cfg.pretrain_batch_size, progress=progress, checkpoint_path=cfg.checkpoint("pretrain"))
    D_conj = make().to(device)
    D_conj.load_state_dict(D.state_dict())
    w2cfg = W2GNConfig(batch_size=cfg.batch_size, lr=cfg.lr, lambda_cycle=cfg.lambda_cycle, cycle=cfg.cycle,
                       iterations=cfg.iterations, log_every=cfg.log_every, seed=cfg.seed, progress=progress,
                       checkpoint_path=cfg.checkpoint("fit_" + hashlib.sha256(X.numpy().tobytes() + Y.numpy().tobytes()).hexdigest()[:16]))
    history = train(D, D_conj, TensorDatasetSampler(X, device, seed=cfg.seed + 2),
                    TensorDatasetSampler(Y, device, seed=cfg.seed + 3), w2cfg, callback=callback)
    fit_time = time.perf_counter() - start
    cmap = ColorMap(D, D_conj, {
        "source": names[0], "palette": names[1],
        "source_shape": list(source.shape), "palette_shape": list(palette.shape),
        "config": cfg.to_dict(), "w2gn_config": w2cfg.to_dict(), "pretrain_loss": pretrain_loss,
        "iterations": history["iteration"][-1] if history.get("iteration") else 0,
        "seed": cfg.seed, "fit_time_s": fit_time, "device": str(device), "torch": str(torch.__version__),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
    })
    cmap.metadata["lut"] = {
        ("inverse" if inv else "forward"): choose_lut_size(cmap, inv, cfg.lut_sizes, cfg.lut_tolerance, seed=cfg.seed)
        for inv in (False, True)}
    return cmap


def evaluate_color_map(cmap: ColorMap, source: np.ndarray, palette: np.ndarray, n: int = 20000,
                       n_projections: int = 256, seed: int = 0) -> dict:
    """Sliced-W2 distances to the target colours before/after each map (mapped colours clipped
    to [0, 1], as in the output images) and RMS cycle errors (per channel, [0, 1] units) of
    inverse∘forward on source colours and forward∘inverse on palette colours, on ``n`` random
    pixels of each image (exact network evaluation)."""
    from .metrics import sliced_wasserstein

    X, Y = image_to_pixels(source, n, seed), image_to_pixels(palette, n, seed + 1)
    n = min(X.shape[0], Y.shape[0])
    X, Y = X[:n], Y[:n]
    fwd, inv = cmap.map_float(X), cmap.map_float(Y, inverse=True)
    sw = lambda a, b: sliced_wasserstein(a, b, n_projections=n_projections, seed=seed)  # noqa: E731
    cyc_x = cmap.map_float(fwd, inverse=True) - X
    cyc_y = cmap.map_float(inv) - Y
    return {
        "sliced_w2_before": sw(X, Y), "sliced_w2_after": sw(fwd.clamp(0, 1), Y),
        "sliced_w2_inverse_after": sw(inv.clamp(0, 1), X),
        "cycle_error": float(cyc_x.pow(2).mean().sqrt()), "cycle_error_palette": float(cyc_y.pow(2).mean().sqrt()),
        "cycle_error_max": float(cyc_x.abs().max()), "n_pixels": n,
    }


# --------------------------------------------------------------------------------- applying
METHODS = ("auto", "distinct", "lut", "exact")


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
    from .image_io import write_ppm_header

    with atomic_open(path, "wb") as f:
        write_ppm_header(f, width, height)
        for y0 in range(0, height, rows):
            f.write(synthetic_image_block(y0, min(rows, height - y0), width, height, seed).tobytes())


# ------------------------------------------------------------------------------- .cube LUTs
def export_cube(cmap: ColorMap, path, size: int = 33, inverse: bool = False, title: str | None = None) -> None:
    """Write the map as a ``.cube`` 3-D LUT (Adobe/Resolve format; ffmpeg ``lut3d``, image
    editors): ``size³`` exact network values at the grid points, clipped to [0, 1], red varying
    fastest."""
    lut = cmap.lut(size, inverse).clamp(0, 1)                         # [r, g, b, 3]
    rows = lut.permute(2, 1, 0, 3).reshape(-1, 3).numpy()            # b slowest, r fastest
    md = cmap.metadata
    direction = "inverse" if inverse else "forward"
    title = title or f"W2GN {direction} colour transfer {md.get('source', '?')} -> {md.get('palette', '?')}"
    with atomic_open(path, "w") as f:
        f.write(f"# written by src.color_transfer ({direction} map)\n")
        f.write(f'TITLE "{title.replace(chr(34), chr(39))}"\n')
        f.write(f"LUT_3D_SIZE {size}\nDOMAIN_MIN 0.0 0.0 0.0\nDOMAIN_MAX 1.0 1.0 1.0\n")
        np.savetxt(f, rows, fmt="%.6f")


def read_cube(path) -> tuple[np.ndarray, dict]:
    """Parse a ``.cube`` 3-D LUT → ``(lut [N(r), N(g), N(b), 3] float64, header dict)``.

    Raises:
        ValueError: not a valid 3-D ``.cube`` file (the message says which line).
    """
    header, data, size = {}, [], None
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            key = line.split()[0]
            if key in ("TITLE",):
                header["TITLE"] = line[len(key):].strip().strip('"')
            elif key == "LUT_3D_SIZE":
                size = int(line.split()[1])
                header[key] = size
            elif key in ("DOMAIN_MIN", "DOMAIN_MAX"):
                header[key] = [float(v) for v in line.split()[1:4]]
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
    if size is None:
        raise ValueError(f"{path}: no LUT_3D_SIZE line")
    if len(data) != size ** 3:
        raise ValueError(f"{path}: {len(data)} data rows, LUT_3D_SIZE {size} needs {size ** 3}")
    lut = np.asarray(data).reshape(size, size, size, 3).transpose(2, 1, 0, 3)
    return lut, header


# -------------------------------------------------------------------------------------- CLI
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
    from .configs import ColorTransferConfig, get_config
    from .utils import get_device

    overrides = {k: v for k, v in (("iterations", args.iterations), ("seed", args.seed)) if v is not None}
    cfg = get_config(ColorTransferConfig, args.profile, **overrides)
    check_output_path(args.out, args.source, args.palette)  # before the fit, not after it
    device = get_device(args.device)
    source = load_photo(args.source, cfg.image_max_side)
    palette = load_photo(args.palette, cfg.image_max_side)
    print(f"fit: {args.source} {source.shape[1]}x{source.shape[0]} -> {args.palette} "
          f"{palette.shape[1]}x{palette.shape[0]}; profile {cfg.profile}, {cfg.iterations} iterations, "
          f"seed {cfg.seed}, device {device}")
    cmap = fit_color_map(source, palette, cfg, device=device, progress=not args.quiet,
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
    from .utils import get_device

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


if __name__ == "__main__":
    sys.exit(main())
