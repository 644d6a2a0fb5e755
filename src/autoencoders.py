"""The convolutional autoencoder of the latent-space experiment and its training helper.

The paper's setting: CelebA 64×64 in [−1, 1], conv encoder/decoder with 128 filters, 128-d latent,
BatchNorm, LeakyReLU 0.2, Tanh output; input noise std 0.025; loss 100·L1 + 300·MSE
(+ 6·VGG16 perceptual loss on the features after layers 3, 8, 15, 22 for the "VGG-AE").

Architecture (the reference's CelebA autoencoder; :class:`CelebaAutoencoder` loads its state
dicts unchanged), written for any image side ``S = 4·2^k`` (k ≥ 1) with ``f = width`` filters:

* ``encoder.features``: Conv(C→f, 4, 2, 1), LeakyReLU 0.2, Dropout 0.05; then ``k − 1`` blocks
  Conv(f·2^i → f·2^{i+1}, 4, 2, 1), BatchNorm2d, LeakyReLU 0.2, Dropout 0.05 (down to 4×4);
  then Conv(c→c, 4, 2, 0) to 1×1 (all convs without bias);
* ``encoder.fc_out``: Linear(c → latent), LeakyReLU 0.2, **BatchNorm1d(latent, affine=False)**:
  the codes are standardised per coordinate, so decoding N(0, I) noise is meaningful;
* ``decoder.fc_in``: Linear(latent → c), LeakyReLU 0.2, BatchNorm1d(c), reshaped to [c, 1, 1];
* ``decoder.features``: ConvTranspose(c→c, 4, 1, 0) to 4×4, BatchNorm2d, ReLU, Dropout 0.05;
  ``k − 1`` blocks ConvTranspose(halving channels, 4, 2, 1), BatchNorm2d, ReLU, Dropout 0.05;
  then ConvTranspose(f → C, 4, 2, 1) and Tanh (transposed convs without bias),

with ``c = f·2^{k−1}`` (8f for 64×64). PyTorch's default initialisation (as the reference).
The cpu profile's MNIST autoencoder is the same network at 32×32 (MNIST padded 28 → 32).

torchvision (for VGG16) is imported lazily, only when a perceptual loss is requested.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .utils import atomic_torch_save, weights_file

__all__ = ["Encoder", "Decoder", "Autoencoder", "CelebaAutoencoder", "VGGPerceptualLoss", "find_vgg16_weights",
           "autoencoder_loss", "train_autoencoder", "save_autoencoder", "load_autoencoder",
           "encode", "decode", "VGG_LAYERS", "VGG_WEIGHTS_ENV", "DROPOUT"]

VGG_LAYERS = (3, 8, 15, 22)   # relu1_2, relu2_2, relu3_3, relu4_3 of torchvision's vgg16.features
VGG_WEIGHTS_ENV = "W2GN_VGG_WEIGHTS"
DROPOUT = 0.05                # dropout after every conv block of encoder and decoder (the reference's)


def _n_stages(image_size: int) -> int:
    k = math.log2(image_size / 4) if image_size >= 8 else -1
    if k < 1 or k != int(k):
        raise ValueError(f"image_size must be 4·2^k ≥ 8 (8, 16, 32, 64, 128, …), got {image_size}; "
                         "pad or resize the images (e.g. MNIST 28 → 32)")
    return int(k)


class Encoder(nn.Module):
    """Images ``[N, C, S, S]`` in [−1, 1] -> codes ``[N, latent_dim]`` (standardised by a
    BatchNorm1d without affine parameters)."""

    def __init__(self, channels: int = 3, image_size: int = 64, width: int = 128, latent_dim: int = 128):
        super().__init__()
        k = _n_stages(image_size)
        layers: list[nn.Module] = [nn.Conv2d(channels, width, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(0.2, inplace=True), nn.Dropout(DROPOUT)]
        c = width
        for _ in range(k - 1):
            layers += [nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c),
                       nn.LeakyReLU(0.2, inplace=True), nn.Dropout(DROPOUT)]
            c *= 2
        layers.append(nn.Conv2d(c, c, 4, 2, 0, bias=False))
        self.features = nn.Sequential(*layers)
        self.fc_out = nn.Sequential(nn.Linear(c, latent_dim), nn.LeakyReLU(0.2, inplace=True),
                                    nn.BatchNorm1d(latent_dim, affine=False))
        self.channels, self.image_size = channels, image_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or tuple(x.shape[1:]) != (self.channels, self.image_size, self.image_size):
            raise ValueError(f"Encoder expects [N, {self.channels}, {self.image_size}, {self.image_size}], "
                             f"got {list(x.shape)}")
        return self.fc_out(self.features(x).flatten(1))


class Decoder(nn.Module):
    """Codes ``[N, latent_dim]`` -> images ``[N, C, S, S]`` in (−1, 1) (Tanh)."""

    def __init__(self, channels: int = 3, image_size: int = 64, width: int = 128, latent_dim: int = 128):
        super().__init__()
        k = _n_stages(image_size)
        c = width * 2 ** (k - 1)
        self.c0 = c
        self.fc_in = nn.Sequential(nn.Linear(latent_dim, c), nn.LeakyReLU(0.2, inplace=True), nn.BatchNorm1d(c))
        layers: list[nn.Module] = [nn.ConvTranspose2d(c, c, 4, 1, 0, bias=False), nn.BatchNorm2d(c),
                                   nn.ReLU(inplace=True), nn.Dropout(DROPOUT)]
        for _ in range(k - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2),
                       nn.ReLU(inplace=True), nn.Dropout(DROPOUT)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.features = nn.Sequential(*layers)
        self.latent_dim = latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"Decoder expects codes [N, {self.latent_dim}], got {list(z.shape)}")
        return self.features(self.fc_in(z).view(-1, self.c0, 1, 1))


class Autoencoder(nn.Module):
    """Encoder + decoder (see the module docstring for the layers).

    Args:
        channels: image channels (3 for CelebA, 1 for MNIST).
        image_size: side S of the square images (4·2^k).
        width: filters of the first conv (doubled at each further downsampling).
        latent_dim: size of the code.
    """

    def __init__(self, channels: int = 3, image_size: int = 64, width: int = 128, latent_dim: int = 128):
        super().__init__()
        self._config = dict(channels=channels, image_size=image_size, width=width, latent_dim=latent_dim)
        self.encoder = Encoder(channels, image_size, width, latent_dim)
        self.decoder = Decoder(channels, image_size, width, latent_dim)

    def config(self) -> dict:
        """Constructor arguments of :class:`Autoencoder` (stored in checkpoints)."""
        return dict(self._config)

    @property
    def latent_dim(self) -> int:
        return self._config["latent_dim"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class CelebaAutoencoder(Autoencoder):
    """The paper's CelebA 64×64 RGB autoencoder (the reference's constructor arguments); loads the
    reference's state dicts (MSE-AE, VGG-AE) unchanged."""

    def __init__(self, init_num_filters: int = 128, embedding_dim: int = 128):
        super().__init__(channels=3, image_size=64, width=init_num_filters, latent_dim=embedding_dim)


# --------------------------------------------------------------------------- perceptual loss
def find_vgg16_weights() -> Path | None:
    """A local VGG16 (ImageNet) state dict: env ``W2GN_VGG_WEIGHTS`` or torchvision's file in the
    torch hub cache (``<hub>/checkpoints/vgg16-397923af.pth``); None when there is none (offline)."""
    return weights_file(VGG_WEIGHTS_ENV, "torchvision's vgg16-397923af.pth state dict", "vgg16-*.pth")


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
    """The paper's loss: ``100·L1 + 300·MSE (+ 6·VGG)`` (means over all pixels).

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
    """Endless shuffled batches of images from a tensor ``[N, C, S, S]`` or a Dataset / DataLoader
    (full batches only: a last partial batch of each pass is dropped).

    Raises:
        ValueError: the data do not hold one full batch (checked before the first batch is made).
    """
    if isinstance(data, torch.Tensor):
        _check_enough(data.shape[0], batch_size)
        while True:
            perm = torch.randperm(data.shape[0], generator=generator)
            for i in range(0, data.shape[0] - batch_size + 1, batch_size):
                yield data[perm[i:i + batch_size]]
    if isinstance(data, torch.utils.data.DataLoader):
        loader = data
        if len(loader) == 0:
            raise ValueError(f"the DataLoader yields no batch ({len(loader.dataset)} images, batch size "
                             f"{loader.batch_size}, drop_last={loader.drop_last}); use fewer images per batch")
    else:
        _check_enough(len(data), batch_size)
        loader = torch.utils.data.DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True,
                                             generator=generator)
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch[0] if isinstance(batch, (list, tuple)) else batch
        if empty:
            raise ValueError("the training data yielded no batch in a whole pass (empty data set?)")


def _check_enough(n: int, batch_size: int) -> None:
    if n < batch_size:
        raise ValueError(f"the training data hold {n} images, fewer than one batch of {batch_size}; "
                         "lower batch_size or add images")


def train_autoencoder(ae: Autoencoder, data, iterations: int, batch_size: int = 128, lr: float = 1e-4,
                      betas=(0.9, 0.999), noise_std: float = 0.025, weight_decay: float = 0.0, l1_weight: float = 100.0,
                      mse_weight: float = 300.0, perceptual: nn.Module | None = None,
                      perceptual_weight: float = 6.0, log_every: int = 50, seed: int = 0,
                      device=None, progress: bool | None = None, history: dict | None = None,
                      optimizer: torch.optim.Optimizer | None = None,
                      callback: Callable[[int, Autoencoder, dict], Any] | None = None) -> dict[str, list]:
    """Train ``ae`` to reconstruct clean images from inputs with Gaussian noise (std ``noise_std``).

    Args:
        data: images in [−1, 1]: a tensor ``[N, C, S, S]`` (kept where it is, batches moved to
            ``device``), a Dataset of images (or of ``(image, label)``), or a DataLoader.
        iterations: optimiser steps (Adam, ``lr``, ``betas``, ``weight_decay``; the reference uses
            lr 1e-4, weight decay 1e-15).
        perceptual: e.g. :class:`VGGPerceptualLoss` (None: L1 + MSE only).
        history: a history dict to extend (continue training); ``optimizer`` likewise.
        callback: ``callback(step, ae, logs)`` at every logged step; return False to stop.

    Returns:
        history: dict of lists ``iteration``, ``loss``, ``l1``, ``mse`` [, ``vgg``], ``time_s``.
        To continue training, pass it back as ``history`` together with the same ``optimizer``.

    Raises:
        ValueError: the data hold fewer images than one batch (``batch_size``).
    """
    from .training import progress_bar

    device = torch.device(device) if device is not None else next(ae.parameters()).device
    ae.to(device).train()
    if perceptual is not None:
        perceptual.to(device)
    opt = optimizer or torch.optim.Adam(ae.parameters(), lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    noise_gen = torch.Generator(device=device).manual_seed(seed + 1)
    history = history if history is not None else {}
    start_iter = history["iteration"][-1] if history.get("iteration") else 0
    t0 = time.perf_counter() - (history["time_s"][-1] if history.get("time_s") else 0.0)
    batches = _batches(data, batch_size, gen)
    bar = progress_bar(range(iterations), desc="autoencoder", progress=progress)
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
            bar.set_postfix(loss=f"{logs['loss']:.3f}", mse=f"{logs['mse']:.4f}", refresh=False)
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
    from .training import progress_bar

    device = torch.device(device) if device is not None else next(ae.parameters()).device
    ae.eval()
    if isinstance(images, torch.Tensor):
        chunks: Iterable = (images[i:i + batch_size] for i in range(0, images.shape[0], batch_size))
        total = math.ceil(images.shape[0] / batch_size)
    else:
        chunks = torch.utils.data.DataLoader(images, batch_size=batch_size, shuffle=False, num_workers=num_workers)
        total = len(chunks)
    out = []
    for x in progress_bar(chunks, total=total, desc="encode", progress=progress, leave=False):
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
    """Save ``{"arch": ae.config(), "state_dict", "history", "extra"}`` (loads with weights_only=True),
    atomically (a temporary file in the same folder, fsync-ed, then renamed).

    ``extra`` should hold plain data (e.g. the training config as a dict, the data description).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"arch": ae.config(), "state_dict": ae.state_dict(),
             "history": {k: list(v) for k, v in (history or {}).items()}, "extra": extra}
    atomic_torch_save(state, path)
    return path


def load_autoencoder(path, map_location="cpu") -> tuple[Autoencoder, dict]:
    """``(ae, checkpoint)`` from :func:`save_autoencoder`'s file; ``ae`` in eval mode."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no autoencoder checkpoint at {path}; run notebooks/AE_Celeba.ipynb "
                                "(same W2GN_PROFILE and W2GN_MODELS_DIR) to train one")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    ae = Autoencoder(**ckpt["arch"])
    try:
        ae.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path} does not match the autoencoder layout {ckpt['arch']} (a checkpoint of an "
                         "older layout, without the latent BatchNorm?); delete it and retrain with "
                         f"notebooks/AE_Celeba.ipynb. PyTorch said: {str(err)[:300]}") from err
    return ae.to(map_location).eval(), ckpt
