"""Pieces shared by the baseline solvers: sampling checks, seeding, the fitted-map object,
the non-negative weights of an ICNN, and the log/progress bookkeeping."""
from __future__ import annotations

import math
import time
from typing import Any, Callable

import torch
from ..training import progress_bar

from ..w2gn import NonFiniteLossError

__all__ = ["FittedMap", "nonnegative_weights", "negative_weight_penalty", "NonFiniteLossError"]


def sample_checked(sampler, n: int, dim: int | None, role: str) -> torch.Tensor:
    """``sampler.sample(n)`` with a clear error when it returns the wrong type or shape."""
    x = sampler.sample(n)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{role} sampler {type(sampler).__name__}.sample must return a torch.Tensor, "
                        f"got {type(x).__name__}")
    if x.dim() != 2 or x.shape[0] != n or (dim is not None and x.shape[1] != dim):
        want = f"[{n}, {dim if dim is not None else 'D'}]"
        raise ValueError(f"{role} sampler {type(sampler).__name__} returned samples of shape "
                         f"{list(x.shape)}, expected {want}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{role} sampler {type(sampler).__name__} returned non-finite samples")
    return x


def nonnegative_weights(net) -> list[torch.Tensor]:
    """The weights of an ICNN that must stay ≥ 0 for convexity (those ``convexify`` clamps):
    DenseICNN's convex (z → z) layers and final layer; ConvICNN's layers after the input stage."""
    if hasattr(net, "convex_layers") and hasattr(net, "final_layer"):  # DenseICNN
        return [seq[0].weight for seq in net.convex_layers] + [net.final_layer.weight]
    if hasattr(net, "nonnegative_weights"):  # ConvICNN
        return net.nonnegative_weights()
    raise TypeError(f"don't know which weights of {type(net).__name__} must be non-negative")


def negative_weight_penalty(net) -> torch.Tensor:
    """Σ ‖min(W, 0)‖²_F over the weights that must be non-negative (Makkuva et al.'s penalty)."""
    return sum((torch.relu(-w) ** 2).sum() for w in nonnegative_weights(net))


class FittedMap:
    """What every solver returns: the fitted forward map P → Q.

    Subclasses implement ``push(x)`` (differentiable when grad mode is on). ``history`` is a
    dict of lists filled every ``log_every`` steps; ``train_time_s`` the training wall time.
    """

    dim: int

    def __init__(self):
        self.history: dict[str, list] = {}
        self.iteration = 0
        self.train_time_s = 0.0

    def push(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def push_nograd(self, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
        """``push`` without a graph, in batches of ``batch_size`` rows."""
        with torch.no_grad():
            outs = [self.push(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)]
        return torch.cat(outs) if outs else torch.empty_like(x)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """``self.push(x)`` (the subclass's map)."""
        return self.push(x)

    # -------------------------------------------------------------- loop bookkeeping
    def _loop(self, n_iter: int, desc: str, progress: bool, step: Callable[[], dict],
              log_every: int, callback: Callable[[int, "FittedMap", dict], Any] | None,
              phase: str | None = None) -> None:
        """Run ``step`` ``n_iter`` times with a progress bar, NaN checks, history and callback."""
        start = time.perf_counter()
        bar = progress_bar(range(n_iter), desc=desc, progress=progress)
        for _ in bar:
            logs = step()
            self.iteration += 1
            loss = logs["loss"]
            if not math.isfinite(loss):
                self.train_time_s += time.perf_counter() - start
                raise NonFiniteLossError(
                    f"{desc}: loss is {loss} at iteration {self.iteration}; lower the learning rate "
                    "or check the scale of the data")
            if self.iteration % log_every == 0 or self.iteration == 1:
                logs = dict(logs, iteration=self.iteration, time_s=self.train_time_s + time.perf_counter() - start)
                if phase is not None:
                    logs["phase"] = phase
                for k, v in logs.items():
                    self.history.setdefault(k, []).append(v)
                bar.set_postfix({k: f"{v:.3g}" for k, v in logs.items()
                                 if k in ("loss", "w2", "inner_grad") and isinstance(v, float)}, refresh=False)
                if callback is not None and callback(self.iteration, self, logs) is False:
                    break
        self.train_time_s += time.perf_counter() - start


def check_finite(loss: torch.Tensor, where: str, iteration: int) -> None:
    """Raise :class:`NonFiniteLossError` *before* an optimiser step on a NaN/inf loss, so the
    weights of the last finite step are kept."""
    if not torch.isfinite(loss):
        raise NonFiniteLossError(f"{where}: loss is {loss.item()} at iteration {iteration + 1}; the weights "
                                 "of the last finite step are kept. Lower the learning rate or check "
                                 "the scale of the data")


def seed_once(obj, seed: int | None) -> None:
    """``torch.manual_seed(seed)`` the first time ``obj`` trains (dropout masks, inits)."""
    if seed is not None and not getattr(obj, "_seeded", False):
        torch.manual_seed(seed)
        obj._seeded = True
