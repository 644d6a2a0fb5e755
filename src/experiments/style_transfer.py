"""Unpaired image-to-image optimal transport (notebooks/W2GN_style_transfer.ipynb): the config
and the pair of convolutional potentials pretrained to the identity."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..configs import ExperimentConfig, PretrainSpec, W2GNConfig
from ..datasets import UniformImageSampler
from ..icnn import ConvICNN, ConvICNN128
from .common import make_pair

__all__ = ["StyleTransferConfig", "style_icnn", "make_style_pair", "HalfHalfSampler"]


@dataclass
class StyleTransferConfig(ExperimentConfig):
    """Unpaired image-to-image optimal transport (notebooks/W2GN_style_transfer.ipynb).

    ``paper``: the paper's settings — CycleGAN ``summer2winter_yosemite`` (or ``photo2cezanne``)
    at 128×128 with the paper's augmentation, pixels in [0, 1] (+ N(0, 0.01²) noise, clamped to
    [0, 1]), ConvICNN128 ×2 (width 128), N(0,1)·1/100 init, identity pretraining with Adamax
    (lr 1e-3, betas (0.9, 0.99)) for 15k steps, batch 8, on U[−0.5, 1.5] noise, loss the mean of
    (∇ψ(x) − x)² over batch and pixels + L1; training batch 8, λ = 35000, cycle "both_mean",
    lr 1e-4, betas (0.8, 0.99) / (0.4, 0.4), L1 penalty 1e-10 on all weights (also in the
    pretraining), 100k steps. Ours: the FID sample size.
    ``cpu``/``smoke``: an offline substitute pair with a known optimal map
    (:func:`src.datasets.known_map_domains`: crops of photographs shipped by scikit-image /
    scikit-learn, B's passed through T = ∇φ, φ convex), 16×16 images, a narrow ConvICNN, identity
    pretraining on the training images (Adam, batch 32) and few steps.
    """

    data: str = "cyclegan"                 # "cyclegan" (real folders), "known_map" or "offline" (substitutes)
    dataset: str = "summer2winter_yosemite"
    image_size: int = 128
    width: int = 128                       # channels of the ConvICNN convolutions
    strong_convexity: float = 0.0
    init_scale: float = 0.01
    noise_std: float = 0.01                # Gaussian noise on training images (then clamped to [0, 1])
    n_train: int = 2048                    # offline: training crops per domain
    crop_scale: tuple = (0.3, 0.6)         # offline: crop side / short side of the photo
    pretrain: PretrainSpec = field(default_factory=lambda: PretrainSpec(   # mean loss over batch and pixels
        iterations=15_000, batch_size=8, lr=1e-3, betas=(0.9, 0.99), blow=1.0, tol=0.0, optimizer="adamax",
        l1=1e-10, reduction="mean"))
    pretrain_low: float = -0.5             # uniform noise range of the pretraining ([0, 1] blown ×2)
    pretrain_high: float = 1.5
    pretrain_on: str = "noise"             # "noise" (the paper's U[low, high]) or "images" (training crops of A and B)
    w2gn: W2GNConfig = field(default_factory=lambda: W2GNConfig(   # l1: on all weights
        batch_size=8, lambda_cycle=35_000.0, cycle="both_mean", lr=1e-4, betas=(0.8, 0.99), conj_betas=(0.4, 0.4),
        l1=1e-10, iterations=100_000, log_every=500))
    plot_every: int = 10_000               # image grids during training (callback)
    n_eval: int = 512                      # evaluation images per domain (grids, distances)
    fid_samples: int = 512                 # images per FID estimate (0: no FID)
    n_grid: int = 8                        # images per row of the grids
    data_seed: int = 1                     # seeds the offline crops / folder samplers
    seed: int = 0

    uvp_every: int = 250                   # known_map: L2-UVP against the true map every that many steps

    @classmethod
    def cpu(cls):
        # 16-px crops with a known optimal map (src.datasets.known_map_domains), width 16; beyond the
        # paper: identity pretraining on the training images with Adam (batch 32, lr 1e-3), W2GN batch 32;
        # see docs/tuning.md#style-transfer
        return cls().replace(profile="cpu", data="known_map", image_size=16, width=16, pretrain_on="images",
                             pretrain__iterations=1500, pretrain__batch_size=32, pretrain__optimizer="adam",
                             w2gn__batch_size=32, w2gn__iterations=5000, w2gn__log_every=50, plot_every=2500,
                             n_eval=1000, fid_samples=1000)

    @classmethod
    def smoke(cls):
        return cls().replace(profile="smoke", data="known_map", image_size=16, width=8, n_train=128,
                             pretrain_on="images", pretrain__optimizer="adam", pretrain__batch_size=8,
                             pretrain__iterations=10, w2gn__iterations=10, w2gn__log_every=5, plot_every=10,
                             uvp_every=5, n_eval=8, fid_samples=4, n_grid=4)


def style_icnn(cfg: StyleTransferConfig):
    """The potential of ``cfg``: the paper's :class:`~src.icnn.ConvICNN128` at 128×128, width 128
    and no strong convexity, else a :class:`~src.icnn.ConvICNN` of ``cfg``'s size and width."""
    if (cfg.image_size, cfg.width, cfg.strong_convexity) == (128, 128, 0.0):
        return ConvICNN128(channels=3)
    return ConvICNN(3, cfg.image_size, cfg.width, strong_convexity=cfg.strong_convexity)


class HalfHalfSampler:
    """Draws half of each batch from ``a`` and half from ``b`` (identity pretraining on both domains)."""

    def __init__(self, a, b):
        self.a, self.b = a, b

    def sample(self, n: int) -> torch.Tensor:
        k = int(n) // 2
        return torch.cat([self.a.sample(int(n) - k), self.b.sample(k)])


def make_style_pair(cfg: StyleTransferConfig, device=None, progress: bool | None = None, domains=None):
    """ψ_θ (``D``) initialised N(0, 1)·``cfg.init_scale`` and pretrained to the identity (mean loss
    + L1, ``cfg.pretrain``'s optimiser) on U[``pretrain_low``, ``pretrain_high``] noise images
    (``pretrain_on="noise"``, the paper's) or on the training samplers of ``domains`` (an
    :class:`~src.datasets.UnpairedImages`, half of each batch per domain; ``pretrain_on="images"``),
    ψ_ω (``D_conj``) a copy of it.

    Returns:
        ``(D, D_conj, last pretraining loss)``.
    """
    if cfg.pretrain_on == "images":
        if domains is None:
            raise ValueError("pretrain_on='images' needs domains=")
        sampler = HalfHalfSampler(domains.sampler_a, domains.sampler_b)
    elif cfg.pretrain_on == "noise":
        sampler = UniformImageSampler((3, cfg.image_size, cfg.image_size), cfg.pretrain_low, cfg.pretrain_high,
                                      device=device, seed=cfg.seed)
    else:
        raise ValueError(f"pretrain_on must be 'noise' or 'images', got {cfg.pretrain_on!r}")
    return make_pair(lambda: style_icnn(cfg), cfg.init_scale, cfg.seed, sampler, cfg.pretrain, device,
                     cfg.checkpoint("pretrain"), progress)
