"""Digit classifiers for the domain-adaptation experiment: LeNet with its 84-d penultimate
features, a training loop, accuracy and batched feature extraction. Device-agnostic: every
function takes ``device=`` and moves the batches itself; outputs of ``extract_features`` and
``predict`` are on the CPU.

The experiment of the paper: a LeNet trained on the target domain (MNIST, 5 epochs) maps images of
both domains to its 84-d penultimate layer; W2GN then transports source features onto target
features, and a 1-NN classifier fit on target features labels the transported ones.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn
from .training import progress_bar

__all__ = ["LeNet", "train_classifier", "evaluate", "predict", "extract_features", "FEATURE_DIM",
           "map_features", "KnnAccuracyTracker"]

#: width of LeNet's penultimate layer (the features W2GN transports)
FEATURE_DIM = 84


class LeNet(nn.Module):
    """LeNet-5 for ``[N, C, 28, 28]`` images, in the reference's layout (its state dicts load):

    conv1 5×5 (6, no padding) → ReLU → max-pool 2 → conv2 5×5 (16) → ReLU → max-pool 2 →
    flatten 256 (16·4·4) → fc1 256→120 → ReLU → fc2 120→84 → ReLU (the features, :meth:`features`)
    → fc3 84→``num_classes`` (logits).

    Args:
        num_classes: number of classes (10 digits).
        in_channels: image channels (1 for grey digits).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.num_classes, self.in_channels = num_classes, in_channels
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, FEATURE_DIM)
        self.fc3 = nn.Linear(FEATURE_DIM, num_classes)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, 28, 28):
            raise ValueError(f"LeNet expects images of shape [N, {self.in_channels}, 28, 28], got {list(x.shape)}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 84-d penultimate activations (after ReLU): ``[N, C, 28, 28] -> [N, 84]``."""
        self._check(x)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return F.relu(self.fc2(x))

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from penultimate features: ``[N, 84] -> [N, num_classes]``."""
        return self.fc3(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, num_classes]``."""
        return self.fc3(self.features(x))


def _batches(n: int, batch_size: int, generator: torch.Generator | None = None, shuffle: bool = False):
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


def _check_data(X: torch.Tensor, y: torch.Tensor | None = None) -> None:
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor of images, got {type(X).__name__}")
    if y is not None and len(X) != len(y):
        raise ValueError(f"{len(X)} images but {len(y)} labels")
    if len(X) == 0:
        raise ValueError("no images given")


def train_classifier(model: nn.Module, X: torch.Tensor, y: torch.Tensor, epochs: int = 5, lr: float = 1e-3,
                     batch_size: int = 128, weight_decay: float = 0.0, device=None, seed: int = 0,
                     augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
                     progress: bool | None = None) -> dict[str, list]:
    """Train ``model`` with Adam and cross-entropy on images ``X`` ``[N, C, H, W]`` and labels ``y`` ``[N]``.

    Args:
        epochs: passes over the data (shuffled with ``seed`` each epoch).
        augment: optional ``augment(batch, generator) -> batch`` applied to every training batch.
        device: where to train (default: the model's device); batches are moved there.

    Returns:
        history with per-epoch ``epoch``, ``loss`` (mean), ``accuracy`` (on the training batches).
    """
    _check_data(X, y)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    y = torch.as_tensor(y).long()
    history: dict[str, list] = {"epoch": [], "loss": [], "accuracy": []}
    steps = math.ceil(len(X) / batch_size)
    for epoch in range(1, epochs + 1):
        model.train()
        total_loss, correct = 0.0, 0
        bar = progress_bar(_batches(len(X), batch_size, gen, shuffle=True), total=steps,
                   desc=f"LeNet epoch {epoch}/{epochs}", progress=progress, leave=False)
        for idx in bar:
            xb = X[idx]
            if augment is not None:
                xb = augment(xb, gen)
            xb, yb = xb.to(device, torch.float32), y[idx].to(device)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            if not torch.isfinite(loss):
                raise RuntimeError(f"LeNet training: loss is {loss.item()} in epoch {epoch}; lower lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total_loss += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        history["epoch"].append(epoch)
        history["loss"].append(total_loss / len(X))
        history["accuracy"].append(correct / len(X))
    model.eval()
    return history


@torch.no_grad()
def _apply(fn, model: nn.Module, X: torch.Tensor, batch_size: int, device, progress: bool, desc: str,
           augment=None, seed: int = 0) -> torch.Tensor:
    _check_data(X)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed) if augment is not None else None
    was_training = model.training
    model.eval()
    outs = []
    steps = math.ceil(len(X) / batch_size)
    for idx in progress_bar(_batches(len(X), batch_size), total=steps, desc=desc, progress=progress, leave=False):
        xb = X[idx] if augment is None else augment(X[idx], gen)
        outs.append(fn(xb.to(device, torch.float32)).cpu())
    model.train(was_training)
    return torch.cat(outs)


def predict(model: nn.Module, X: torch.Tensor, batch_size: int = 1024, device=None,
            progress: bool = False, augment=None, seed: int = 0) -> torch.Tensor:
    """Predicted labels ``[N]`` (on the CPU) for images ``X`` (``augment(batch, generator)``, if
    given, is applied to every batch first, with a generator seeded by ``seed``)."""
    return _apply(lambda xb: model(xb).argmax(1), model, X, batch_size, device, progress, "predict", augment, seed)


def evaluate(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1024, device=None,
             progress: bool = False, augment=None, seed: int = 0) -> float:
    """Classification accuracy of ``model`` on images ``X`` with labels ``y`` (``augment`` as
    :func:`predict`)."""
    _check_data(X, y)
    pred = predict(model, X, batch_size, device, progress, augment, seed)
    return float((pred == torch.as_tensor(y).long().cpu()).double().mean())


def extract_features(model: LeNet, X: torch.Tensor, batch_size: int = 1024, device=None,
                     progress: bool | None = None, augment=None, seed: int = 0) -> torch.Tensor:
    """Penultimate features ``[N, 84]`` (float32, on the CPU) of images ``X`` ``[N, C, 28, 28]``,
    computed in batches in eval mode. ``augment(batch, generator)``, if given, is applied to every
    batch first (a fresh draw for each call: one pass over augmented data, as the reference's
    data loaders), with a generator seeded by ``seed``."""
    return _apply(model.features, model, X, batch_size, device, progress, "features", augment, seed)


# ---------------------------------------------------------------- domain-adaptation helpers
def map_features(D: nn.Module, features: torch.Tensor, batch_size: int = 4096, device=None) -> torch.Tensor:
    """Transport ``features`` ``[N, d]`` with the gradient map of the ICNN ``D`` (``D.push``) in
    eval mode (no dropout), without a graph; returns a CPU tensor. ``D``'s mode is restored."""
    device = torch.device(device) if device is not None else next(D.parameters()).device
    was_training = D.training
    D.eval()
    try:
        out = D.push_nograd(features.to(device, torch.float32), batch_size=batch_size).cpu()
    finally:
        D.train(was_training)
    return out


class KnnAccuracyTracker:
    """A ``callback(iteration, D, D_conj, logs)`` for :func:`src.w2gn.train` that records the
    1-NN accuracy of transported features every ``every`` iterations (and at iteration 1).

    Args:
        reference_features, reference_labels: what the 1-NN is fit on (target-domain features).
        sets: ``{name: (features, labels)}`` of source-domain features to transport with ``D``.
        every: evaluation period in iterations (use a multiple of ``W2GNConfig.log_every``:
            the callback only runs at logged steps).

    ``history`` holds ``iteration`` and one list of accuracies per set name.
    """

    def __init__(self, reference_features: torch.Tensor, reference_labels: torch.Tensor,
                 sets: dict[str, tuple[torch.Tensor, torch.Tensor]], every: int = 500, k: int = 1):
        from .metrics import knn_accuracy

        self._knn = knn_accuracy
        self.reference = (reference_features, reference_labels)
        self.sets, self.every, self.k = sets, int(every), k
        self.history: dict[str, list] = {"iteration": [], **{name: [] for name in sets}}

    def evaluate(self, D: nn.Module) -> dict[str, float]:
        """1-NN accuracy of ``D``-transported features of every set."""
        ref_f, ref_l = self.reference
        return {name: self._knn(ref_f, ref_l, map_features(D, f), l, k=self.k) for name, (f, l) in self.sets.items()}

    def __call__(self, iteration: int, D, D_conj, logs: dict) -> None:
        if iteration % self.every and iteration != 1:
            return
        accs = self.evaluate(D)
        self.history["iteration"].append(iteration)
        for name, acc in accs.items():
            self.history[name].append(acc)

    def state_dict(self) -> dict:
        """The accuracy curve so far (saved in W2GN checkpoints, so a resumed run keeps it)."""
        return {k: list(v) for k, v in self.history.items()}

    def load_state_dict(self, state: dict) -> None:
        self.history = {k: list(v) for k, v in state.items()}
