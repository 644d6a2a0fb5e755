"""2-D toy targets of the W2GN paper and the mode-coverage measurement.

Targets (PAPER.md, "toy 2D"), each **whitened** (mean 0, covariance I, estimated on samples):

* ``"8g"``    — 8 Gaussians on a circle of radius 12, std 1;
* ``"25g"``, ``"49g"``, ``"100g"`` — 5×5, 7×7, 10×10 grids of Gaussians, step 9, std 1;
* ``"swiss"`` — scikit-learn's Swiss roll (noise 0.8, coordinates 0 and 2, divided by 7.5).

:func:`make_toy_target` returns the whitened sampler together with the mixture's centres and
standard deviations mapped into the whitened space, which :func:`mode_coverage` needs::

    target = make_toy_target("100g", seed=1)
    Y = target.sampler.sample(1024)                 # whitened samples
    stats = mode_coverage(D.push_nograd(X), target.centers, target.stds)
    stats["modes_covered"], stats["mass_in_modes"]

Mode coverage: a pushed sample belongs to the component whose centre is nearest in units of
that component's standard deviation, provided it lies within ``radius`` (3) standard
deviations of it; a component is *covered* when it receives at least ``min_share`` (20 %) of
its expected share of the samples. ``mass_in_modes`` is the fraction of samples that belong to
some component (≈ 1 − e^{−4.5} ≈ 0.989 for exact samples of a 2-D isotropic mixture).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .distributions import (EightGaussiansSampler, GaussianGridSampler, SwissRollSampler,
                            WhiteningSampler)

__all__ = ["TOY_TARGETS", "ToyTarget", "make_toy_target", "mode_coverage", "share_histogram", "EnergyTracker"]

#: target name -> human-readable description
TOY_TARGETS = {
    "8g": "8 Gaussians (radius 12, std 1)",
    "25g": "5×5 Gaussian grid (step 9, std 1)",
    "49g": "7×7 Gaussian grid (step 9, std 1)",
    "100g": "10×10 Gaussian grid (step 9, std 1)",
    "swiss": "Swiss roll (noise 0.8, /7.5)",
}
_GRID_SIDE = {"25g": 5, "49g": 7, "100g": 10}


@dataclass
class ToyTarget:
    """A whitened toy target.

    Attributes:
        name: one of :data:`TOY_TARGETS`.
        description: what it is, in words.
        sampler: the whitened sampler (``.sample(n) -> [n, 2]``), a :class:`WhiteningSampler`.
        centers: ``[K, 2]`` mixture centres in the whitened space (``None`` for the Swiss roll).
        stds: ``[K]`` component standard deviations in the whitened space (``None`` likewise).
        weights: ``[K]`` mixture weights (``None`` likewise).
    """

    name: str
    description: str
    sampler: WhiteningSampler
    centers: torch.Tensor | None = None
    stds: torch.Tensor | None = None
    weights: torch.Tensor | None = None

    @property
    def is_mixture(self) -> bool:
        return self.centers is not None


def make_toy_target(name: str, device=None, seed: int = 0, n_fit: int = 100_000) -> ToyTarget:
    """Build the whitened toy target ``name`` (``"8g"``, ``"25g"``, ``"49g"``, ``"100g"``, ``"swiss"``).

    Args:
        name: target name.
        device: where samples live.
        seed: seed of the target sampler (separate from the training seed).
        n_fit: samples used to estimate the whitening mean and covariance.

    Returns:
        a :class:`ToyTarget`; for mixtures the centres are whitened with the same affine map as
        the samples, and each std is the component's std times the geometric mean of the
        whitening scales (the whitening matrix is isotropic up to sampling noise here).
    """
    if name not in TOY_TARGETS:
        raise ValueError(f"unknown toy target {name!r}; choose one of {list(TOY_TARGETS)}")
    if name == "8g":
        base = EightGaussiansSampler(12.0, 1.0, device=device, seed=seed)
    elif name == "swiss":
        base = SwissRollSampler(0.8, device=device, seed=seed)
    else:
        base = GaussianGridSampler(_GRID_SIDE[name], 9.0, 1.0, device=device, seed=seed)
    sampler = WhiteningSampler(base, n_fit=n_fit)
    if name == "swiss":
        return ToyTarget(name, TOY_TARGETS[name], sampler)
    scale = torch.linalg.det(sampler.inv_root.double()).abs().sqrt().to(sampler.dtype)
    return ToyTarget(name, TOY_TARGETS[name], sampler, centers=sampler.transform(base.centers),
                     stds=base.stds * scale, weights=base.weights.clone())


@torch.no_grad()
def mode_coverage(pushed: torch.Tensor, centers, stds, weights=None, radius: float = 3.0,
                  min_share: float = 0.2) -> dict:
    """How well samples ``pushed`` ``[N, D]`` cover the components of a Gaussian mixture.

    Args:
        pushed: samples to score (e.g. the forward map applied to 10,000 input samples).
        centers: ``[K, D]`` component centres.
        stds: ``[K]`` (or scalar) isotropic component standard deviations.
        weights: ``[K]`` mixture weights (default uniform) — the expected shares.
        radius: a sample belongs to a component when it lies within ``radius`` of that
            component's standard deviations of its centre (nearest in std units wins).
        min_share: a component is covered when it receives at least ``min_share`` × its
            expected share of the samples.

    Returns:
        dict with ``modes_covered`` (int), ``n_modes`` (K), ``mass_in_modes`` (fraction of
        samples that belong to some component), ``shares`` (``[K]`` list: fraction of all
        samples in each component), ``expected`` (``[K]`` list: the weights) and ``dropped``
        (indices of the components that are not covered).
    """
    pushed = torch.as_tensor(pushed).detach().double().cpu()
    centers = torch.as_tensor(centers).detach().double().cpu()
    if pushed.dim() != 2 or centers.dim() != 2 or pushed.shape[1] != centers.shape[1]:
        raise ValueError(f"mode_coverage: pushed [N, D] and centers [K, D] must share D, "
                         f"got {list(pushed.shape)} and {list(centers.shape)}")
    if pushed.shape[0] == 0:
        raise ValueError("mode_coverage: no samples")
    k = centers.shape[0]
    stds = torch.as_tensor(stds).detach().double().cpu().expand(k)
    if weights is None:
        weights = torch.full((k,), 1.0 / k, dtype=torch.float64)
    weights = torch.as_tensor(weights).detach().double().cpu()
    weights = weights / weights.sum()
    finite = torch.isfinite(pushed).all(1)
    dist = torch.cdist(pushed[finite], centers) / stds          # [N', K] in std units
    nearest = dist.min(1)
    inside = nearest.values <= radius
    counts = torch.bincount(nearest.indices[inside], minlength=k).double()
    n = pushed.shape[0]
    shares = counts / n
    covered = shares >= min_share * weights
    return {
        "modes_covered": int(covered.sum()),
        "n_modes": int(k),
        "mass_in_modes": float(inside.sum()) / n,
        "shares": shares.tolist(),
        "expected": weights.tolist(),
        "dropped": torch.nonzero(~covered).flatten().tolist(),
    }


def share_histogram(coverage: dict, edges=(0.0, 0.2, 0.5, 0.8, 1.25, 2.0, np.inf), width: int = 40) -> str:
    """Text histogram of the components' shares relative to their expected share.

    Args:
        coverage: the dict returned by :func:`mode_coverage`.
        edges: bin edges of share / expected share (a component below 0.2 counts as dropped).
        width: characters of the longest bar.

    Returns:
        a multi-line string, one line per bin: range, count and a bar.
    """
    ratio = np.asarray(coverage["shares"]) / np.asarray(coverage["expected"])
    counts, _ = np.histogram(ratio, bins=np.asarray(edges, dtype=float))
    top = max(1, counts.max())
    lines = [f"share / expected share of {coverage['n_modes']} components "
             f"(min {ratio.min():.2f}, max {ratio.max():.2f}):"]
    for lo, hi, c in zip(edges[:-1], edges[1:], counts):
        label = f"[{lo:.2f}, {hi:.2f})" if np.isfinite(hi) else f"[{lo:.2f},  inf)"
        lines.append(f"  {label:>14} {c:4d} {'#' * int(round(width * c / top))}")
    return "\n".join(lines)


class EnergyTracker:
    """Training callback recording the energy distances of both maps on fixed evaluation sets.

    ``forward``: energy distance between ∇ψ_θ(X) and Y; ``inverse``: between ∇ψ_ω(Y) and X.
    Use as ``train(..., callback=tracker)``; it evaluates every ``every`` steps (and at step 1)
    in eval mode and puts the nets back in training mode.

    Args:
        X: ``[N, D]`` fixed input samples; Y: ``[M, D]`` fixed target samples.
        every: evaluation period in steps (a multiple of the trainer's ``log_every`` — the
            callback only runs at logged steps).
    """

    def __init__(self, X: torch.Tensor, Y: torch.Tensor, every: int = 1000):
        from .metrics import energy_distance

        self._energy = energy_distance
        self.X, self.Y, self.every = X, Y, int(every)
        self.iterations: list[int] = []
        self.forward: list[float] = []
        self.inverse: list[float] = []

    def evaluate(self, D, D_conj) -> tuple[float, float]:
        """(forward, inverse) energy distances now."""
        modes = D.training, D_conj.training
        D.eval()
        D_conj.eval()
        try:
            fwd = self._energy(D.push_nograd(self.X), self.Y)
            inv = self._energy(D_conj.push_nograd(self.Y), self.X)
        finally:
            D.train(modes[0])
            D_conj.train(modes[1])
        return fwd, inv

    def record(self, iteration: int, D, D_conj) -> None:
        fwd, inv = self.evaluate(D, D_conj)
        self.iterations.append(int(iteration))
        self.forward.append(fwd)
        self.inverse.append(inv)

    def __call__(self, iteration: int, D, D_conj, logs: dict) -> None:
        if iteration == 1 or iteration % self.every == 0:
            self.record(iteration, D, D_conj)

    def as_dict(self) -> dict:
        return {"iteration": list(self.iterations), "forward": list(self.forward),
                "inverse": list(self.inverse)}

    def state_dict(self) -> dict:
        """The records so far (checkpointed and resumed with a run, see ``W2GNConfig.checkpoint_path``)."""
        return self.as_dict()

    def load_state_dict(self, state: dict) -> None:
        self.iterations, self.forward, self.inverse = (list(state[k]) for k in ("iteration", "forward", "inverse"))
