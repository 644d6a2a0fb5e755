"""The convolutional autoencoder of the latent-space experiment and its training helper.

PAPER.md: CelebA 64×64 in [−1, 1], conv encoder/decoder with 128 filters, 128-d latent,
BatchNorm, LeakyReLU 0.2, Tanh output; input noise std 0.025; loss 100·L1 + 300·MSE
(+ 6·VGG16 perceptual loss on the features after layers 3, 8, 15, 22 for the "VGG-AE").

Architecture (DCGAN-like, size-general): the encoder halves the image with stride-2 4×4 convs
until it is 4×4, with ``width·2^k`` channels (capped at ``8·width``), BatchNorm (not after the
first conv) and LeakyReLU(0.2), then a linear layer to the latent code. The decoder mirrors it
with a linear layer, transposed convs and a Tanh. ``image_size`` must be 4·2^k (8, 16, 32, 64,
128): pad 28×28 MNIST to 32×32.

torchvision (for VGG16) is imported lazily, only when a perceptual loss is requested.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["Encoder", "Decoder", "Autoencoder", "VGGPerceptualLoss", "find_vgg16_weights",
           "autoencoder_loss", "train_autoencoder", "save_autoencoder", "load_autoencoder",
           "encode", "decode", "VGG_LAYERS", "VGG_WEIGHTS_ENV"]

VGG_LAYERS = (3, 8, 15, 22)   # relu1_2, relu2_2, relu3_3, relu4_3 of torchvision's vgg16.features
VGG_WEIGHTS_ENV = "W2GN_VGG_WEIGHTS"


def _n_stages(image_size: int) -> int:
    k = math.log2(image_size / 4) if image_size >= 8 else -1
    if k < 1 or k != int(k):
        raise ValueError(f"image_size must be 4·2^k ≥ 8 (8, 16, 32, 64, 128, …), got {image_size}; "
                         "pad or resize the images (e.g. MNIST 28 → 32)")
    return int(k)


def _channels(width: int, stages: int) -> list[int]:
    return [width * min(2 ** i, 8) for i in range(stages)]


class Encoder(nn.Module):
    """Images ``[N, C, S, S]`` in [−1, 1] -> codes ``[N, latent_dim]``."""

    def __init__(self, channels: int = 3, image_size: int = 64, width: int = 128, latent_dim: int = 128):
        super().__init__()
        stages = _n_stages(image_size)
        chans = _channels(width, stages)
        layers: list[nn.Module] = []
        c_in = channels
        for i, c in enumerate(chans):
            layers.append(nn.Conv2d(c_in, c, 4, 2, 1, bias=i == 0))
            if i > 0:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            c_in = c
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in * 16, latent_dim)
        self.channels, self.image_size = channels, image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.channels, self.image_size, self.image_size):
            raise ValueError(f"Encoder expects [N, {self.channels}, {self.image_size}, {self.image_size}], "
                             f"got {list(x.shape)}")
        return self.fc(self.features(x).flatten(1))


class Decoder(nn.Module):
    """Codes ``[N, latent_dim]`` -> images ``[N, C, S, S]`` in (−1, 1) (Tanh)."""

    def __init__(self, channels: int = 3, image_size: int = 64, width: int = 128, latent_dim: int = 128):
        super().__init__()
        stages = _n_stages(image_size)
        chans = _channels(width, stages)[::-1]
        self.c0 = chans[0]
        self.fc = nn.Sequential(nn.Linear(latent_dim, self.c0 * 16, bias=False), nn.BatchNorm1d(self.c0 * 16),
                                nn.LeakyReLU(0.2, inplace=True))
        layers: list[nn.Module] = []
        for c_in, c_out in zip(chans[:-1], chans[1:]):
            layers += [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out),
                       nn.LeakyReLU(0.2, inplace=True)]
        layers += [nn.ConvTranspose2d(chans[-1], channels, 4, 2, 1), nn.Tanh()]
        self.features = nn.Sequential(*layers)
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"Decoder expects codes [N, {self.latent_dim}], got {list(z.shape)}")
        return self.features(self.fc(z).view(-1, self.c0, 4, 4))


class Autoencoder(nn.Module):
    """Encoder + decoder (PAPER.md: width 128, latent 128, 64×64 RGB for CelebA).

    Args:
        channels: image channels (3 for CelebA, 1 for MNIST).
        image_size: side S of the square images (4·2^k).
        width: filters of the first conv (doubled at each downsampling, at most 8·width).
        latent_dim: size of the code.
    """

    def __init__(self, channels: int = 3, image_size: int = 64, width: int = 128, latent_dim: int = 128):
        super().__init__()
        self._config = dict(channels=channels, image_size=image_size, width=width, latent_dim=latent_dim)
        self.encoder = Encoder(channels, image_size, width, latent_dim)
        self.decoder = Decoder(channels, image_size, width, latent_dim)

    def config(self) -> dict:
        """Constructor arguments (stored in checkpoints)."""
        return dict(self._config)

    @property
    def latent_dim(self) -> int:
        return self._config["latent_dim"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


# --------------------------------------------------------------------------- perceptual loss
def find_vgg16_weights() -> Path | None:
    """A local VGG16 (ImageNet) state dict: env ``W2GN_VGG_WEIGHTS`` or torchvision's file in the
    torch hub cache (``<hub>/checkpoints/vgg16-397923af.pth``); None when there is none (offline)."""
    env = os.environ.get(VGG_WEIGHTS_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{VGG_WEIGHTS_ENV}={env} is not a file (expected torchvision's "
                                    "vgg16-397923af.pth state dict)")
        return path
    ckpt = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(ckpt.glob("vgg16-*.pth")) if ckpt.is_dir() else []
    return found[0] if found else None


class VGGPerceptualLoss(nn.Module):
    """Mean squared distance between VGG16 features (after ``layers``) of two image batches.

    Images in [−1, 1] (1 or 3 channels) are mapped to ImageNet normalisation. The VGG is frozen.

    Args:
        weights: path of torchvision's ``vgg16`` state dict; default :func:`find_vgg16_weights`;
            ``"download"`` lets torchvision download them (needs internet).
        layers: indices into ``vgg16.features`` whose outputs are compared.

    Raises:
        FileNotFoundError: no VGG16 weights available (offline).
    """

    def __init__(self, weights=None, layers: Iterable[int] = VGG_LAYERS):
        super().__init__()
        from .tv import import_torchvision

        tv = import_torchvision()
        if weights == "download":
            vgg = tv.models.vgg16(weights=tv.models.VGG16_Weights.IMAGENET1K_V1)
        else:
            path = Path(weights) if weights is not None else find_vgg16_weights()
            if path is None:
                raise FileNotFoundError(
                    f"no VGG16 weights: set {VGG_WEIGHTS_ENV} to torchvision's vgg16-397923af.pth or put it "
                    f"under {Path(torch.hub.get_dir()) / 'checkpoints'}")
            vgg = tv.models.vgg16(weights=None)
            vgg.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        self.layers = tuple(sorted(int(i) for i in layers))
        self.features = vgg.features[: self.layers[-1] + 1].eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def train(self, mode: bool = True):  # the VGG stays in eval mode
        super().train(mode)
        self.features.eval()
        return self

    def _feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x + 1) / 2
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.layers:
                out.append(x)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return sum(F.mse_loss(a, b) for a, b in zip(self._feats(x), self._feats(y)))


def autoencoder_loss(recon: torch.Tensor, target: torch.Tensor, l1_weight: float = 100.0,
                     mse_weight: float = 300.0, perceptual: nn.Module | None = None,
                     perceptual_weight: float = 6.0) -> dict[str, torch.Tensor]:
    """PAPER.md's loss: ``100·L1 + 300·MSE (+ 6·VGG)`` (means over all pixels).

    Returns:
        dict with ``loss``, ``l1``, ``mse`` (and ``vgg``) scalar tensors.
    """
    l1 = (recon - target).abs().mean()
    mse = ((recon - target) ** 2).mean()
    loss = l1_weight * l1 + mse_weight * mse
    out = {"l1": l1.detach(), "mse": mse.detach()}
    if perceptual is not None:
        vgg = perceptual(recon, target)
        loss = loss + perceptual_weight * vgg
        out["vgg"] = vgg.detach()
    out["loss"] = loss
    return out


# --------------------------------------------------------------------------- training
def _batches(data, batch_size: int, generator: torch.Generator):
    """Endless shuffled batches of images from a tensor ``[N, C, S, S]`` or a Dataset / DataLoader.

    Raises:
        ValueError: fewer images than one batch (every epoch would be empty: batches are full).
    """
    is_loader = isinstance(data, torch.utils.data.DataLoader)
    n = data.shape[0] if isinstance(data, torch.Tensor) else len(data.dataset if is_loader else data)
    full = data.batch_size if is_loader else batch_size
    if n < full:
        raise ValueError(f"{n} training images are fewer than one batch of {full}; lower the batch size")
    if isinstance(data, torch.Tensor):
        while True:
            perm = torch.randperm(data.shape[0], generator=generator)
            for i in range(0, data.shape[0] - batch_size + 1, batch_size):
                yield data[perm[i:i + batch_size]]
    loader = data if isinstance(data, torch.utils.data.DataLoader) else torch.utils.data.DataLoader(
        data, batch_size=batch_size, shuffle=True, drop_last=True, generator=generator)
    while True:
        for batch in loader:
            yield batch[0] if isinstance(batch, (list, tuple)) else batch


def train_autoencoder(ae: Autoencoder, data, iterations: int, batch_size: int = 128, lr: float = 1e-4,
                      betas=(0.9, 0.999), noise_std: float = 0.025, l1_weight: float = 100.0,
                      mse_weight: float = 300.0, perceptual: nn.Module | None = None,
                      perceptual_weight: float = 6.0, log_every: int = 50, seed: int = 0,
                      device=None, progress: bool = True, history: dict | None = None,
                      optimizer: torch.optim.Optimizer | None = None,
                      callback: Callable[[int, Autoencoder, dict], Any] | None = None) -> dict[str, list]:
    """Train ``ae`` to reconstruct clean images from inputs with Gaussian noise (std ``noise_std``).

    Args:
        data: images in [−1, 1]: a tensor ``[N, C, S, S]`` (kept where it is, batches moved to
            ``device``), a Dataset of images (or of ``(image, label)``), or a DataLoader.
        iterations: optimiser steps (Adam, ``lr``, ``betas``).
        perceptual: e.g. :class:`VGGPerceptualLoss` (None: L1 + MSE only).
        history: a history dict to extend (continue training); ``optimizer`` likewise.
        callback: ``callback(step, ae, logs)`` at every logged step; return False to stop.

    Returns:
        history: dict of lists ``iteration``, ``loss``, ``l1``, ``mse`` [, ``vgg``], ``time_s``.
        To continue training, pass it back as ``history`` together with the same ``optimizer``.
    """
    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else next(ae.parameters()).device
    ae.to(device).train()
    if perceptual is not None:
        perceptual.to(device)
    opt = optimizer or torch.optim.Adam(ae.parameters(), lr=lr, betas=tuple(betas))
    gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    history = history if history is not None else {}
    start_iter = history["iteration"][-1] if history.get("iteration") else 0
    t0 = time.perf_counter() - (history["time_s"][-1] if history.get("time_s") else 0.0)
    batches = _batches(data, batch_size, gen)
    bar = tqdm(range(iterations), desc="autoencoder", disable=not progress)
    for it in bar:
        x = next(batches).to(device, torch.float32, non_blocking=True)
        noisy = x + noise_std * torch.randn(x.shape, generator=noise_gen, device=device) if noise_std else x
        losses = autoencoder_loss(ae(noisy), x, l1_weight, mse_weight, perceptual, perceptual_weight)
        if not torch.isfinite(losses["loss"]):
            raise FloatingPointError(f"autoencoder loss is {losses['loss'].item()} at step {start_iter + it + 1}; "
                                     "lower the learning rate or check the data range ([-1, 1])")
        opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        opt.step()
        step = start_iter + it + 1
        if step % log_every == 0 or it == 0 or it == iterations - 1:
            logs = {k: v.item() for k, v in losses.items()}
            logs.update(iteration=step, time_s=time.perf_counter() - t0)
            for k, v in logs.items():
                history.setdefault(k, []).append(v)
            bar.set_postfix(loss=f"{logs['loss']:.3f}", mse=f"{logs['mse']:.4f}")
            if callback is not None and callback(step, ae, logs) is False:
                break
    ae.eval()
    return history


# --------------------------------------------------------------------------- use and storage
@torch.no_grad()
def encode(ae: Autoencoder, images, batch_size: int = 512, device=None, progress: bool = False,
           num_workers: int = 0) -> torch.Tensor:
    """Codes ``[N, latent_dim]`` (on the CPU) of images (tensor ``[N, C, S, S]`` or Dataset, read with
    ``num_workers`` DataLoader workers), eval mode."""
    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else next(ae.parameters()).device
    ae.eval()
    if isinstance(images, torch.Tensor):
        chunks: Iterable = (images[i:i + batch_size] for i in range(0, images.shape[0], batch_size))
        total = math.ceil(images.shape[0] / batch_size)
    else:
        chunks = torch.utils.data.DataLoader(images, batch_size=batch_size, shuffle=False, num_workers=num_workers)
        total = len(chunks)
    out = []
    for x in tqdm(chunks, total=total, desc="encode", disable=not progress, leave=False):
        x = x[0] if isinstance(x, (list, tuple)) else x
        out.append(ae.encoder(x.to(device, torch.float32)).cpu())
    return torch.cat(out)


@torch.no_grad()
def decode(ae: Autoencoder, codes: torch.Tensor, batch_size: int = 512, clamp: bool = True) -> torch.Tensor:
    """Images ``[N, C, S, S]`` (on the codes' device) decoded in eval mode, clamped to [−1, 1]."""
    ae.eval()
    device = next(ae.parameters()).device
    out = [ae.decoder(codes[i:i + batch_size].to(device)).to(codes.device)
           for i in range(0, codes.shape[0], batch_size)]
    x = torch.cat(out)
    return x.clamp(-1, 1) if clamp else x


def save_autoencoder(path, ae: Autoencoder, history: dict | None = None, **extra) -> Path:
    """Save ``{"arch": ae.config(), "state_dict", "history", "extra"}`` (loads with weights_only=True).

    ``extra`` should hold plain data (e.g. the training config as a dict, the data description).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"arch": ae.config(), "state_dict": ae.state_dict(),
                "history": {k: list(v) for k, v in (history or {}).items()}, "extra": extra}, path)
    return path


def load_autoencoder(path, map_location="cpu") -> tuple[Autoencoder, dict]:
    """``(ae, checkpoint)`` from :func:`save_autoencoder`'s file; ``ae`` in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no autoencoder checkpoint at {path}; run notebooks/AE_Celeba.ipynb "
                                "(same W2GN_PROFILE and W2GN_MODELS_DIR) to train one")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    ae = Autoencoder(**ckpt["arch"])
    ae.load_state_dict(ckpt["state_dict"])
    return ae.to(map_location).eval(), ckpt
