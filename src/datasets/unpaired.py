"""Unpaired image domains for style transfer. ``paper``: CycleGAN's unpaired folders ``<root>/trainA``, ``trainB``
(summer2winter_yosemite, photo2cezanne) with the paper's augmentation. ``cpu``/``smoke``: an
OFFLINE SUBSTITUTE with a known optimal map, crops of photographs shipped by scikit-image /
scikit-learn and a convex-gradient style of other crops (:func:`known_map_domains`); also two
unpaired domains of different photographs without a known map (:func:`offline_photo_domains`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .common import MissingDataError, data_root

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
    from ..tv import import_torchvision

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
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.rng = np.random.RandomState(seed % 2**32)
        self.generator = torch.Generator().manual_seed(int(seed))
        self.cache = {} if cache else None

    def __len__(self) -> int:
        return len(self.files)

    def _image(self, i: int):
        if self.cache is None:
            return _open_rgb(self.files[i])
        if i not in self.cache:
            self.cache[i] = _open_rgb(self.files[i])
        return self.cache[i]

    def images(self, indices) -> torch.Tensor:
        """The transformed images at ``indices`` (no noise), ``[len, 3, S, S]`` on ``device``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.rng.randint(2**31)))
            out = torch.stack([self.transform(self._image(int(i))) for i in indices])
        if tuple(out.shape[1:]) != self.shape:
            raise ValueError(f"transform returned images of shape {list(out.shape[1:])}, expected {list(self.shape)}")
        return out.to(self.device)

    def sample(self, n: int) -> torch.Tensor:
        out = self.images(self.rng.randint(0, len(self.files), size=int(n)))
        if self.noise_std:
            noise = torch.randn(out.shape, generator=self.generator, dtype=out.dtype)
            out = (out + self.noise_std * noise.to(self.device)).clamp_(0.0, 1.0)
        return out


def cyclegan_samplers(name: str = "summer2winter_yosemite", root=None, image_size: int = 128,
                      noise_std: float = 0.01, device=None, seed: int = 0):
    """Samplers of domain A (``trainA/``) and B (``trainB/``) of a CycleGAN set, with the paper's
    augmentation. Raises :class:`MissingDataError` naming the folder when it is absent."""
    folder = cyclegan_folder(name, root)
    return tuple(ImageFolderSampler(folder / f"train{d}", image_size, noise_std=noise_std, device=device,
                                    seed=seed + k) for k, d in enumerate("AB"))


def _load_offline_photo(package: str, name: str) -> np.ndarray:
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
    img = np.asarray(_open_rgb(path))
    if Path(name).stem == "retina":
        h, w = img.shape[:2]
        s = int(0.64 * min(h, w))
        img = img[(h - s) // 2:(h + s) // 2, (w - s) // 2:(w + s) // 2]
    return np.ascontiguousarray(img)


def random_photo_crops(images: list, n: int, image_size: int, scale=(0.3, 0.6), seed: int = 0) -> torch.Tensor:
    """``n`` random square crops, spread evenly over ``images`` (``[H, W, 3]`` uint8 arrays).

    Each photo is first shrunk (antialiased) so that its short side is at most
    ⌈2·image_size/scale[0]⌉ pixels. Each crop: side = U(scale)·min(H, W), position uniform in the
    photo, horizontal flip with probability ½, resized to ``image_size`` (bilinear, antialiased).
    Returns ``[n, 3, S, S]`` in [0, 1].
    """
    rng = np.random.RandomState(seed % 2**32)
    tensors = []
    for im in images:
        t = torch.from_numpy(np.array(im, dtype=np.uint8)).permute(2, 0, 1).float().div(255.0)
        short = min(t.shape[1:])
        target = int(np.ceil(2 * image_size / scale[0]))  # smallest crop still ≥ 2·image_size pixels
        if short > target:  # shrink once (antialiased) so that crops are cheap to resize
            size = [round(t.shape[1] * target / short), round(t.shape[2] * target / short)]
            t = torch.nn.functional.interpolate(t[None], size=size, mode="bilinear", antialias=True,
                                                 align_corners=False)[0]
        tensors.append(t)
    out = torch.empty(n, 3, image_size, image_size)
    for i in range(n):
        img = tensors[i % len(tensors)]
        h, w = img.shape[1:]
        side = max(image_size, int(rng.uniform(*scale) * min(h, w)))
        top, left = rng.randint(0, h - side + 1), rng.randint(0, w - side + 1)
        crop = img[:, top:top + side, left:left + side]
        if rng.rand() < 0.5:
            crop = crop.flip(-1)
        out[i] = torch.nn.functional.interpolate(crop[None], size=(image_size, image_size), mode="bilinear",
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

    def sample(self, n: int) -> torch.Tensor:
        return self.sampler.sample(n).clamp(self.low, self.high)


@dataclass
class UnpairedImages:
    """Two unpaired image domains as samplers (training) and fixed tensors (evaluation).

    ``sampler_a``/``sampler_b`` return ``[n, 3, S, S]`` in [0, 1]; ``eval_a``/``eval_b`` are
    ``[M, 3, S, S]`` tensors (on the CPU) for grids and FID; ``description`` says what they are.
    """

    sampler_a: object
    sampler_b: object
    eval_a: torch.Tensor
    eval_b: torch.Tensor
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
    from ..distributions import TensorDatasetSampler

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
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.generator = torch.Generator(device=self.device).manual_seed(int(seed))

    def sample(self, n: int) -> torch.Tensor:
        u = torch.rand((int(n), *self.shape), generator=self.generator, device=self.device)
        return self.low + (self.high - self.low) * u


def known_map_domains(image_size: int = 16, n_train: int = 2048, n_eval: int = 1000, scale=(0.3, 0.6),
                      noise_std: float = 0.01, style=None, device=None, seed: int = 0) -> UnpairedImages:
    """OFFLINE SUBSTITUTE with a KNOWN optimal map (``cpu``/``smoke`` profiles).

    A: random crops of the everyday photographs of :data:`OFFLINE_PHOTO_DOMAINS` (astronaut,
    chelsea, coffee, china, flower). B: *other, independent* crops of the same photographs (another
    seed: no crop of A is the source of a crop of B) passed through ``style`` = T = ∇φ with φ
    convex (default :func:`src.style_maps.default_style_map`). By Brenier's theorem T is the
    W2-optimal map from A's law to B's, and the source crops of B are B's exact inverse images.

    Training: ``n_train`` crops per domain, samplers with Gaussian noise ``noise_std`` clamped to
    [0, 1]. Evaluation (held out, clean): ``n_eval`` new crops of A (``eval_a``), ``n_eval`` new
    source crops (``eval_b_source``) and their images ``eval_b`` = T(``eval_b_source``). The
    returned :class:`UnpairedImages` carries ``style`` and ``eval_b_source`` as extra attributes.
    """
    from ..distributions import TensorDatasetSampler
    from ..style_maps import default_style_map

    style = default_style_map() if style is None else style
    label, sources = OFFLINE_PHOTO_DOMAINS["A"]
    photos = [_load_offline_photo(p, n) for p, n in sources]
    base = seed * 1000 + 100
    train_a = random_photo_crops(photos, n_train, image_size, scale, seed=base)
    train_b = style(random_photo_crops(photos, n_train, image_size, scale, seed=base + 1))
    eval_a = random_photo_crops(photos, n_eval, image_size, scale, seed=base + 2)
    eval_b_source = random_photo_crops(photos, n_eval, image_size, scale, seed=base + 3)
    eval_b = style(eval_b_source)
    srcs = ", ".join(f"{p}:{Path(n).stem}" for p, n in sources)
    description = (f"OFFLINE SUBSTITUTE with a known optimal map: A = {image_size}x{image_size} random crops "
                   f"(side {scale[0]:g}-{scale[1]:g} of the short side, random flip) of {label} shipped with "
                   f"scikit-image/scikit-learn ({srcs}); B = other, independent crops of the same photographs "
                   f"passed through {style.describe()}; {n_train} training crops per domain (noise std "
                   f"{noise_std:g}, clamped to [0, 1]), {n_eval} held-out clean evaluation crops per domain")

    def sampler(bank, k):
        return ClampedSampler(TensorDatasetSampler(bank, device=device, seed=seed + k, noise_std=noise_std))

    dom = UnpairedImages(sampler_a=sampler(train_a, 21), sampler_b=sampler(train_b, 22), eval_a=eval_a,
                         eval_b=eval_b, name_a=label, name_b=f"{label}, styled by T = ∇φ",
                         description=description)
    dom.style, dom.eval_b_source = style, eval_b_source
    return dom
