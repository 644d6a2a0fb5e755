"""Small fake data sets in the real on-disk formats the ``paper`` loaders read.

Used by ``tests/test_paper_profiles.py`` (and ``scripts/device_check.py``) to run the ``paper``
code paths without the real data. Every writer puts files where the loaders look under a data
root (env ``W2GN_DATA``) or a benchmark root (env ``W2GN_W2BENCH``), in the format of the real
distribution, so that no loader can tell them apart (and no download starts):

* CelebA: ``<root>/celeba/img_align_celeba/000001.jpg …`` (178×218 RGB JPEGs, as the aligned
  set) and ``<root>/celeba/list_eval_partition.txt`` (``000001.jpg 0`` lines: 0 train, 1 valid,
  2 test);
* CycleGAN: ``<root>/cyclegan/<name>/{trainA,trainB,testA,testB}/*.jpg`` (256×256 RGB JPEGs);
* MNIST: ``<root>/downloads/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (IDX files);
* USPS: ``<root>/downloads/USPS/usps.bz2`` and ``usps.t.bz2`` (bzip2 libsvm lines
  ``label 1:v … 256:v``, labels 1..10, values in [−1, 1]);
* colour-transfer photos: ``<root>/color_transfer/<name>`` (RGB JPEGs);
* Wasserstein-2 benchmark: ``<w2bench>/Mix3toMix10/{D}_v1.pt, {D}_v2.pt`` (state dicts of the
  benchmark's DenseICNN(D, [max(2D, 64), max(2D, 64), max(D, 32)], rank 1)).

The images are random smooth colour fields (no faces, no digits): only the formats are real.
Digits carry a class-dependent bar so that classifiers have something to learn.
"""
from __future__ import annotations

import bz2
import struct
from pathlib import Path

import numpy as np

__all__ = ["write_celeba", "write_cyclegan", "write_mnist", "write_usps", "write_photo",
           "write_w2bench", "write_all"]


def _smooth_rgb(rng: np.random.RandomState, height: int, width: int, tint=None) -> np.ndarray:
    """A random smooth colour field ``[H, W, 3]`` uint8 (a coarse grid upsampled bilinearly)."""
    from PIL import Image

    coarse = rng.uniform(0, 255, size=(4, 4, 3))
    if tint is not None:
        coarse = 0.5 * coarse + 0.5 * np.asarray(tint, dtype=float)
    img = Image.fromarray(coarse.astype(np.uint8)).resize((width, height), Image.BILINEAR)
    arr = np.asarray(img, dtype=np.float64) + rng.normal(0, 6, size=(height, width, 3))
    return arr.clip(0, 255).astype(np.uint8)


def _save_jpeg(arr: np.ndarray, path: Path) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, format="JPEG", quality=90)


def write_celeba(root, n: int = 96, seed: int = 0) -> Path:
    """``n`` aligned-CelebA-like JPEGs (178×218) and the partition file; returns ``<root>/celeba``.
    The partition gives the first 80 % to train (0), the next 10 % to valid (1), the rest to test (2)."""
    folder = Path(root) / "celeba"
    rng = np.random.RandomState(seed)
    lines = []
    for i in range(1, n + 1):
        name = f"{i:06d}.jpg"
        _save_jpeg(_smooth_rgb(rng, 218, 178), folder / "img_align_celeba" / name)
        part = 0 if i <= 0.8 * n else (1 if i <= 0.9 * n else 2)
        lines.append(f"{name} {part}")
    (folder / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    return folder


def write_cyclegan(root, name: str = "summer2winter_yosemite", n_train: int = 16, n_test: int = 8,
                   size: int = 256, seed: int = 0) -> Path:
    """A CycleGAN set (trainA/trainB/testA/testB of ``size``² JPEGs; domain A greenish, B whitish);
    returns ``<root>/cyclegan/<name>``."""
    folder = Path(root) / "cyclegan" / name
    rng = np.random.RandomState(seed)
    tints = {"A": (60, 160, 60), "B": (220, 220, 235)}
    for split, n in (("train", n_train), ("test", n_test)):
        for d in "AB":
            for i in range(n):
                _save_jpeg(_smooth_rgb(rng, size, size, tints[d]), folder / f"{split}{d}" / f"{i:04d}_{d}.jpg")
    return folder


def _digits(rng: np.random.RandomState, n: int, side: int):
    """``n`` fake grey digits ``[n, side, side]`` in [0, 1] with labels 0..9 (a bar per class)."""
    y = rng.randint(0, 10, size=n)
    X = rng.uniform(0, 0.15, size=(n, side, side))
    width = max(1, side // 8)
    for i, k in enumerate(y):
        pos = int(round((k + 0.5) * (side - width) / 10))
        if k % 2:
            X[i, :, pos:pos + width] = 1.0
        else:
            X[i, pos:pos + width, :] = 1.0
    return X, y


def write_mnist(root, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """torchvision's MNIST raw IDX files (uncompressed) in ``<root>/downloads/MNIST/raw``."""
    raw = Path(root) / "downloads" / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        X, y = _digits(rng, n, 28)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, 28, 28) + (X * 255).round().astype(np.uint8).tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + y.astype(np.uint8).tobytes())
    return raw


def write_usps(root, n_train: int = 300, n_test: int = 100, seed: int = 1) -> Path:
    """torchvision's USPS files ``usps.bz2`` / ``usps.t.bz2`` in ``<root>/downloads/USPS``."""
    folder = Path(root) / "downloads" / "USPS"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    for fname, n in (("usps.bz2", n_train), ("usps.t.bz2", n_test)):
        X, y = _digits(rng, n, 16)
        lines = [f"{k + 1} " + " ".join(f"{j + 1}:{v:.6f}" for j, v in enumerate(2 * img.ravel() - 1))
                 for img, k in zip(X, y)]
        with bz2.open(folder / fname, "wt") as f:
            f.write("\n".join(lines) + "\n")
    return folder


def write_photo(root, name: str, height: int = 64, width: int = 96, seed: int = 0) -> Path:
    """One RGB JPEG ``<root>/color_transfer/<name>`` (a colour-transfer photo)."""
    path = Path(root) / "color_transfer" / name
    _save_jpeg(_smooth_rgb(np.random.RandomState(seed), height, width), path)
    return path


def write_w2bench(root, dims=(2,), seed: int = 0) -> Path:
    """Fake Mix3toMix10 potentials ``{D}_v1.pt``, ``{D}_v2.pt`` (random convexified DenseICNNs
    of the benchmark's layout, saved as state dicts) in ``<root>/Mix3toMix10``; returns ``root``."""
    import torch

    from src.icnn import DenseICNN, init_normal_

    folder = Path(root) / "Mix3toMix10"
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    for d in dims:
        for v in (1, 2):
            net = DenseICNN(d, [max(2 * d, 64), max(2 * d, 64), max(d, 32)], rank=1, activation="celu",
                            dropout=0.0, strong_convexity=1e-2)
            init_normal_(net, 0.1, generator=g)
            net.convexify()
            torch.save(net.state_dict(), folder / f"{d}_v{v}.pt")
    return Path(root)


def write_all(data_root, w2bench_root, benchmark_dims=(2,), celeba_images: int = 96) -> dict:
    """Every fake data set the ``paper`` presets read; returns the env vars pointing at them
    (``W2GN_DATA``, ``W2GN_W2BENCH``)."""
    write_celeba(data_root, celeba_images)
    write_cyclegan(data_root, "summer2winter_yosemite")
    write_mnist(data_root)
    write_usps(data_root)
    write_photo(data_root, "china.jpg", seed=1)
    write_photo(data_root, "flower.jpg", seed=2)
    write_w2bench(w2bench_root, benchmark_dims)
    return {"W2GN_DATA": str(data_root), "W2GN_W2BENCH": str(w2bench_root)}
