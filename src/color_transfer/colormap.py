"""The fitted colour map (:class:`ColorMap`: the two DenseICNN(3, …) nets, metadata, map files),
the photos' pixel colours and the map's evaluation (sliced W2, cycle errors)."""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import digest
from ..icnn import DenseICNN
from ..image_io import read_rgb
from ..utils import atomic_torch_save
from .table import ColorTable

MAP_FORMAT = "w2gn-color-transfer"
MAP_VERSION = 1


class MapFileError(ValueError):
    """A file is not a colour-transfer map (or a broken one); the message says what to do."""


# --------------------------------------------------------------------------------- pixels
def load_photo(name: str, max_side: int | None = None) -> np.ndarray:
    """A photo as ``uint8 [H, W, 3|4]``: ``name`` is a path or a file in ``data/color_transfer``;
    downscaled (Lanczos) so that its longer side is at most ``max_side`` when given."""
    from ..datasets import color_transfer_image

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
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 2 <= size <= 256:
            raise ValueError(f"LUT size must be an integer in [2, 256], got {size!r}")
        size = int(size)
        axis = torch.linspace(0, 1, size)
        grid = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), dim=-1).reshape(-1, 3)
        return self.map_float(grid, inverse).reshape(size, size, size, 3).cpu()

    def lut_record(self, inverse: bool = False) -> dict:
        """The fit-time LUT check of one direction (see :func:`choose_lut_size`), or ``{}``."""
        return dict(self.metadata.get("lut", {}).get("inverse" if inverse else "forward", {}))

    def table(self, inverse: bool = False, lut_size: int | None = None) -> "ColorTable":
        """The 8-bit table of all 2²⁴ colours from a ``lut_size``³ LUT (default: the size chosen
        at fit time, else 65) — see :class:`ColorTable`."""
        size = lut_size if lut_size is not None else (self.lut_record(inverse).get("size") or 65)
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
        """Write the map (atomically: a failed or killed save keeps an existing file), with a
        SHA-256 ``checksum`` of its content that :meth:`load` verifies."""
        state = self.state()
        state["checksum"] = digest(state)
        atomic_torch_save(state, path)

    @classmethod
    def load(cls, path, map_location="cpu") -> "ColorMap":
        """Load a map written by :meth:`save` / ``fit``.

        The file's ``checksum`` is verified (a map file modified or damaged after it was written is
        refused), and so is every weight being finite. Files written before maps carried a checksum
        load with a note on stderr.

        Raises:
            FileNotFoundError: no such file.
            MapFileError: the file is not a colour-transfer map (another torch file, an image, …),
                or a damaged one (checksum mismatch, NaN/inf weights).
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
        saved = state.pop("checksum", None)
        if saved is None:
            print(f"note: {path}: a map file without a checksum (written by an older version); its content "
                  "is not verified", file=sys.stderr)
        elif digest(state) != saved:
            raise MapFileError(f"{path} is damaged: its content does not match its checksum (the file was "
                               f"modified or corrupted after it was written); refit the map or use another copy")
        for part in ("D", "D_conj"):
            bad = [k for k, v in (state.get(part) or {}).items()
                   if isinstance(v, torch.Tensor) and v.is_floating_point() and not torch.isfinite(v).all()]
            if bad:
                raise MapFileError(f"{path}: the {part} weights {bad[:4]} contain NaN or inf (a damaged map); "
                                   "refit the map")
        try:
            D = DenseICNN(**state["D_config"])
            D_conj = DenseICNN(**state["D_conj_config"])
            D.load_state_dict(state["D"])
            D_conj.load_state_dict(state["D_conj"])
        except (KeyError, TypeError, ValueError) as e:
            raise MapFileError(f"{path}: broken colour-transfer map ({e}); refit the map") from e
        return cls(D.to(map_location), D_conj.to(map_location), state.get("metadata", {}))



def evaluate_color_map(cmap: ColorMap, source: np.ndarray, palette: np.ndarray, n: int = 20000,
                       n_projections: int = 256, seed: int = 0) -> dict:
    """Sliced-W2 distances to the target colours before/after each map (mapped colours clipped
    to [0, 1], as in the output images) and RMS cycle errors (per channel, [0, 1] units) of
    inverse∘forward on source colours and forward∘inverse on palette colours, on ``n`` random
    pixels of each image (exact network evaluation). ``cycle_error`` is the maps' own cycle
    (forward not clipped); ``cycle_error_clipped`` the round trip through an image, with the
    forward colours clipped to [0, 1] first (colours pushed past the cube's faces are lost)."""
    from ..metrics import sliced_wasserstein

    X, Y = image_to_pixels(source, n, seed), image_to_pixels(palette, n, seed + 1)
    n = min(X.shape[0], Y.shape[0])
    X, Y = X[:n], Y[:n]
    fwd, inv = cmap.map_float(X), cmap.map_float(Y, inverse=True)
    sw = lambda a, b: sliced_wasserstein(a, b, n_projections=n_projections, seed=seed)  # noqa: E731
    cyc_x = cmap.map_float(fwd, inverse=True) - X
    cyc_y = cmap.map_float(inv) - Y
    cyc_img = cmap.map_float(fwd.clamp(0, 1), inverse=True) - X   # round trip through a (float) image
    return {
        "sliced_w2_before": sw(X, Y), "sliced_w2_after": sw(fwd.clamp(0, 1), Y),
        "sliced_w2_inverse_after": sw(inv.clamp(0, 1), X),
        "cycle_error": float(cyc_x.pow(2).mean().sqrt()), "cycle_error_palette": float(cyc_y.pow(2).mean().sqrt()),
        "cycle_error_max": float(cyc_x.abs().max()), "cycle_error_clipped": float(cyc_img.pow(2).mean().sqrt()),
        "n_pixels": n,
    }
