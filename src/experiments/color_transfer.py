"""Colour-transfer experiment (``notebooks/W2GN_color_transfer.ipynb``, CLI ``fit``): its config
with the ``paper``/``cpu``/``smoke`` presets and the fit of a :class:`src.color_transfer.ColorMap`
with those settings. The map itself (tables, streaming apply, ``.cube`` export) is
:mod:`src.color_transfer`."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..checkpoint import digest
from ..color_transfer import ColorMap, choose_lut_size, image_to_pixels
from ..configs import ExperimentConfig
from ..distributions import TensorDatasetSampler, UniformSampler
from ..icnn import DenseICNN, init_normal_
from ..w2gn import W2GNConfig, pretrain_identity, train

__all__ = ["ColorTransferConfig", "fit_color_map", "checkpoint_names"]

#: settings that only matter after the fit (evaluation, LUT choice, plots) or only name things
#: (the photos enter the fit checkpoint's name through their pixels): left out of its name
_NOT_IN_FIT_NAME = ("checkpoint_dir", "source", "palette", "lut_sizes", "lut_tolerance", "eval_points",
                    "sw_projections", "plot_points", "speed_megapixels")
#: the settings identity pretraining depends on
_PRETRAIN_FIELDS = ("seed", "hidden_layer_sizes", "rank", "activation", "dropout", "strong_convexity", "init_scale",
                    "pretrain_iterations", "pretrain_lr", "pretrain_tol", "pretrain_batch_size", "pretrain_low",
                    "pretrain_high")


@dataclass
class ColorTransferConfig(ExperimentConfig):
    """Colour transfer: W2GN between the RGB pixel distributions (in [0, 1]³) of two photos.

    The paper states only "DenseICNN(3, …), batch ~1024, λ ~1, lr ~1e-3, a few thousand
    iterations"; the rest (widths, rank, both-direction cycle, identity pretraining on the colour
    cube) is this project's choice. ``source``/``palette`` are file names in
    ``data/color_transfer/`` (or paths).
    """

    source: str = "china.jpg"
    palette: str = "flower.jpg"
    image_max_side: int | None = None   # downscale the photos for fitting/display (smoke only)
    max_fit_pixels: int = 1_000_000     # random subset of pixels the samplers draw from
    # DenseICNN(3, …) for both ψ_θ (D) and ψ_ω (D_conj)
    hidden_layer_sizes: tuple = (128, 128, 64)
    rank: int = 3
    activation: str = "celu"
    dropout: float = 0.0
    strong_convexity: float = 1e-6
    init_scale: float = 0.1
    # identity pretraining of D on Uniform([low, high]³), then D_conj ← D
    pretrain_iterations: int = 2000
    pretrain_lr: float = 1e-3
    pretrain_tol: float = 1e-4
    pretrain_batch_size: int = 1024
    pretrain_low: float = -0.25
    pretrain_high: float = 1.25
    # W2GN
    batch_size: int = 1024
    lr: float = 1e-3
    lr_schedule: str = "constant"       # or "cosine" (decay to lr_end over `iterations`; not the paper's)
    warmup: int = 0                     # steps of linear lr warm-up (0: none, the paper's)
    lr_end: float = 0.0                 # final lr of the cosine schedule
    lambda_cycle: float = 1.0
    cycle: str = "both_mean"
    iterations: int = 5000
    log_every: int = 50
    # applying the map: candidate LUT sizes, smallest one whose error ≤ lut_tolerance is used
    lut_sizes: tuple = (33, 65, 129)
    lut_tolerance: float = 0.5 / 255
    # evaluation
    eval_points: int = 50_000           # pixels for sliced W2, cycle error
    sw_projections: int = 256
    plot_points: int = 3000
    speed_megapixels: float = 16.0      # size of the synthetic image timed in the notebook

    @classmethod
    def paper(cls):
        return cls(profile="paper")

    @classmethod
    def cpu(cls):
        # λ = 3, cosine lr, 10000 steps (beyond the paper's recipe); see docs/tuning.md#colour-transfer
        return cls(profile="cpu", hidden_layer_sizes=(64, 64, 32), rank=2, pretrain_iterations=1000,
                   lambda_cycle=3.0, lr_schedule="cosine", iterations=10_000, eval_points=20_000,
                   speed_megapixels=8.0)

    @classmethod
    def smoke(cls):
        return cls(profile="smoke", image_max_side=64, hidden_layer_sizes=(16, 16), rank=1,
                   pretrain_iterations=100, pretrain_tol=1e-3, batch_size=256, iterations=30,
                   log_every=10, lut_sizes=(17, 33, 65), eval_points=2000, sw_projections=64,
                   plot_points=500, speed_megapixels=0.25)


def checkpoint_names(cfg, X: torch.Tensor, Y: torch.Tensor) -> dict:
    """The run names (see ``cfg.checkpoint``) of the pretraining and of the W2GN fit: each holds a
    digest of the seed and of every setting its result depends on (the fit's also of the pixels
    ``X``, ``Y`` it draws from), so a run of another seed or other settings never resumes from,
    or replaces, this one's checkpoint."""
    def plain(v):  # (64, 64) and [64, 64] are the same setting
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else v

    settings = {k: plain(v) for k, v in cfg.to_dict().items()}
    pre = {k: settings[k] for k in _PRETRAIN_FIELDS}
    fit = {k: v for k, v in settings.items() if k not in _NOT_IN_FIT_NAME}
    data = digest([X.detach().cpu(), Y.detach().cpu()])
    return {"pretrain": f"pretrain_seed{cfg.seed}_{digest(pre)[:16]}",
            "fit": f"fit_seed{cfg.seed}_{digest({'settings': fit, 'data': data})[:16]}"}


def fit_color_map(source: np.ndarray, palette: np.ndarray, cfg, device=None, progress: bool | None = None,
                  callback=None, names: tuple[str, str] = ("source", "palette")) -> ColorMap:
    """Fit W2GN between the pixel colours of ``source`` and ``palette`` (``uint8 [H, W, 3|4]``).

    ``cfg`` is a :class:`ColorTransferConfig`. D is initialised N(0,1)·init_scale,
    pretrained to the identity on Uniform([low, high]³), copied into D_conj, then trained with
    :func:`src.w2gn.train` (``callback`` is passed on). Afterwards the LUT size of each direction
    is chosen by :func:`choose_lut_size` and recorded in the metadata with the fit time.
    """
    device = torch.device(device) if device is not None else torch.device("cpu")
    X = image_to_pixels(source, cfg.max_fit_pixels, seed=cfg.seed)
    Y = image_to_pixels(palette, cfg.max_fit_pixels, seed=cfg.seed + 1)
    names_ckpt = checkpoint_names(cfg, X, Y)
    g = torch.Generator().manual_seed(cfg.seed)

    def make() -> DenseICNN:
        return DenseICNN(3, cfg.hidden_layer_sizes, rank=cfg.rank, activation=cfg.activation,
                         dropout=cfg.dropout, strong_convexity=cfg.strong_convexity)

    start = time.perf_counter()
    D = make()
    init_normal_(D, cfg.init_scale, generator=g)
    D.to(device)
    torch.manual_seed(cfg.seed)
    pretrain_loss = pretrain_identity(
        D, UniformSampler(3, cfg.pretrain_low, cfg.pretrain_high, device=device, seed=cfg.seed + 1),
        iterations=cfg.pretrain_iterations, lr=cfg.pretrain_lr, blow=1.0, tol=cfg.pretrain_tol,
        batch_size=cfg.pretrain_batch_size, progress=progress, checkpoint_path=cfg.checkpoint(names_ckpt["pretrain"]))
    D_conj = make().to(device)
    D_conj.load_state_dict(D.state_dict())
    w2cfg = W2GNConfig(batch_size=cfg.batch_size, lr=cfg.lr, lr_schedule=cfg.lr_schedule, warmup=cfg.warmup,
                       lr_end=cfg.lr_end, lambda_cycle=cfg.lambda_cycle, cycle=cfg.cycle,
                       iterations=cfg.iterations, log_every=cfg.log_every, seed=cfg.seed, progress=progress,
                       checkpoint_path=cfg.checkpoint(names_ckpt["fit"]))
    history = train(D, D_conj, TensorDatasetSampler(X, device, seed=cfg.seed + 2),
                    TensorDatasetSampler(Y, device, seed=cfg.seed + 3), w2cfg, callback=callback)
    fit_time = time.perf_counter() - start
    cmap = ColorMap(D, D_conj, {
        "source": names[0], "palette": names[1],
        "source_shape": list(source.shape), "palette_shape": list(palette.shape),
        "config": cfg.to_dict(), "w2gn_config": w2cfg.to_dict(), "pretrain_loss": pretrain_loss,
        "iterations": history["iteration"][-1] if history.get("iteration") else 0,
        "seed": cfg.seed, "fit_time_s": fit_time, "device": str(device), "torch": str(torch.__version__),
        "history": {k: [float(v) for v in vals] for k, vals in history.items()},
    })
    cmap.metadata["lut"] = {
        ("inverse" if inv else "forward"): choose_lut_size(cmap, inv, cfg.lut_sizes, cfg.lut_tolerance, seed=cfg.seed)
        for inv in (False, True)}
    return cmap
