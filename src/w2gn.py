"""The regularised-correlation objective of W2GN and the W2GN object that trains it.

``pretrain_identity`` (from :mod:`src.pretrain`) and ``save_checkpoint`` / ``load_checkpoint``
(from :mod:`src.checkpoint`) are importable from here too.

This is the one definition of the algorithm; notebooks and baselines call it. While
:func:`src.fast.enabled`, two DenseICNNs on data batches run the same objective through the
fused kernels of :mod:`src.fast.objective` (tested equal to :func:`w2gn_losses` below).

Notation (reference names in brackets): ψ_θ [``D``] is the potential of the forward map
``∇ψ_θ: P → Q``; ψ_ω [``D_conj``] approximates its convex conjugate, ``∇ψ_ω: Q → P``.
One step minimises

    Corr = E_P[ψ_θ(x)] + E_Q[<∇ψ_ω(y), y> − ψ_θ(∇ψ_ω(y))] + λ·R (+ l1·Σ|w|)

with ``∇ψ_ω(y)`` detached inside the correlation (so the correlation trains θ only and ψ_ω
learns from the cycle term alone) and the cycle term ``R`` chosen by ``W2GNConfig.cycle``:

* ``"inverse"``:   R = mean((∇ψ_θ(∇ψ_ω(y)) − y)²)                        (toy experiments)
* ``"both_sum"``:  R = mean((∇ψ_θ(∇ψ_ω(y)) − y)²) + mean((∇ψ_ω(∇ψ_θ(x)) − x)²)   (Gaussians)
* ``"both_mean"``: the same sum divided by 2       (domain adaptation, latent OT, style)

Each mean runs over the batch *and* the coordinates (‖·‖²/D), as in the reference. After
every optimiser step both nets are ``convexify()``-ed.
"""
from __future__ import annotations

import math
import os
import time
import weakref
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from . import fast
from .checkpoint import (CheckpointError, check_same_run, global_rng_state, load_checkpoint,  # noqa: F401
                         load_sampler_states, read_checkpoint, sampler_states, save_checkpoint,
                         set_global_rng_state, write_checkpoint)
from .fast import adam as fast_adam, memory as fast_memory, objective as fast_objective
from .pretrain import pretrain_identity
from .training import (L1, LR_SCHEDULES, NonFiniteLossError, arch, implementation as _implementation,  # noqa: F401
                       is_int, is_real, load_optimizer_state, make_optimizer, sample_checked, scheduled_lr)

__all__ = [
    "W2GN", "W2GNConfig", "W2GNTrainer", "pretrain_identity", "train", "get_trainer", "w2gn_losses",
    "save_checkpoint", "load_checkpoint", "CYCLE_VARIANTS", "NonFiniteLossError", "CheckpointError",
]

CYCLE_VARIANTS = ("inverse", "both_sum", "both_mean")


@dataclass
class W2GNConfig:
    """Settings of one W2GN training run (validated on creation).

    Attributes:
        batch_size: samples of P and of Q per step.
        lr: Adam learning rate of both nets (the peak one with a schedule).
        lr_schedule: ``"constant"`` (the paper's) or ``"cosine"``: decay along half a cosine from
            ``lr`` to ``lr_end`` over the steps 0 … ``iterations`` (counted from the run's first
            step; see :func:`src.training.scheduled_lr`).
        warmup: steps of linear learning-rate warm-up at the start (0: none, the paper's).
        lr_end: the learning rate the cosine schedule ends at.
        betas: Adam betas of ψ_θ (``D``).
        conj_betas: Adam betas of ψ_ω (``D_conj``).
        weight_decay: Adam weight decay of both nets.
        lambda_cycle: λ, weight of the cycle regulariser.
        cycle: ``"inverse"``, ``"both_sum"`` or ``"both_mean"`` (see module docstring).
        l1: coefficient of the L1 penalty on all weights of both nets.
        iterations: optimiser steps per call of ``train`` / ``W2GN.fit``.
        log_every: how often (steps) losses are recorded in the history and shown.
        seed: seeds the dropout masks (``torch.manual_seed``) at the first step; the
            samplers keep their own seeds. ``None`` leaves the global RNG alone.
        progress: show a tqdm progress bar.
        checkpoint_path: if set, ``train`` / ``W2GN.fit`` write a checkpoint there every
            ``checkpoint_every`` steps and at the end (atomically, with a checksum), and a call
            that finds the file resumes from it: weights, optimiser states, iteration, history
            and the global and samplers' random states, so the run ends exactly as an
            uninterrupted one (bit-identical on the same CPU setup). The file names one run: a
            call that finds it finished loads it and trains no further.
        checkpoint_every: steps between checkpoints.
    """

    batch_size: int = 1024
    lr: float = 1e-3
    lr_schedule: str = "constant"
    warmup: int = 0
    lr_end: float = 0.0
    betas: tuple[float, float] = (0.8, 0.99)
    conj_betas: tuple[float, float] = (0.4, 0.4)
    weight_decay: float = 0.0
    lambda_cycle: float = 1.0
    cycle: str = "inverse"
    l1: float = 0.0
    iterations: int = 1000
    log_every: int = 50
    seed: int | None = 0
    progress: bool = True
    checkpoint_path: str | None = None
    checkpoint_every: int = 1000

    def __post_init__(self):
        for name in ("betas", "conj_betas"):
            b = tuple(getattr(self, name))
            if len(b) != 2 or not all(is_real(v) and 0 <= v < 1 for v in b):
                raise ValueError(f"{name} must be two numbers in [0, 1), got {b}")
            setattr(self, name, tuple(float(v) for v in b))
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.cycle not in CYCLE_VARIANTS:
            raise ValueError(f"cycle must be one of {CYCLE_VARIANTS}, got {self.cycle!r}")
        for name in ("lambda_cycle", "lr", "weight_decay", "l1", "lr_end"):
            value = getattr(self, name)
            if not (is_real(value) and (value > 0 if name == "lr" else value >= 0)):
                raise ValueError(f"{name} must be a finite number {'> 0' if name == 'lr' else '≥ 0'}, got {value!r}")
        for name in ("batch_size", "iterations", "log_every", "checkpoint_every", "warmup"):
            value = getattr(self, name)
            if not is_int(value) or value < (0 if name in ("iterations", "warmup") else 1):
                kind = "an integer ≥ 0" if name in ("iterations", "warmup") else "a positive integer"
                raise ValueError(f"{name} must be {kind}, got {value!r}")
            setattr(self, name, int(value))
        if self.seed is not None and not is_int(self.seed):
            raise ValueError(f"seed must be an integer or None, got {self.seed!r}")
        if self.checkpoint_path is not None:
            if not isinstance(self.checkpoint_path, (str, os.PathLike)) or not os.fspath(self.checkpoint_path):
                raise ValueError(f"checkpoint_path must be a file path or None, got {self.checkpoint_path!r}")
            self.checkpoint_path = os.fspath(self.checkpoint_path)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"], d["conj_betas"] = list(self.betas), list(self.conj_betas)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "W2GNConfig":
        """From :meth:`to_dict`'s output; unknown keys (e.g. ``compile`` of older checkpoints) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _sq_mean(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """mean((a − b)²) over all elements (one autograd node)."""
    return torch.nn.functional.mse_loss(a, b)


def _half_sq_norms(X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """E‖x‖²/2 + E‖y‖²/2 over the batches (no gradient)."""
    with torch.no_grad():
        return 0.5 * ((X * X).flatten(1).sum(1).mean() + (Y * Y).flatten(1).sum(1).mean())


def w2gn_losses(D, D_conj, X: torch.Tensor, Y: torch.Tensor, lambda_cycle: float,
                cycle: str = "inverse", l1: float = 0.0) -> dict[str, torch.Tensor]:
    """The W2GN objective on one batch (no push computed twice).

    Args:
        D, D_conj: ψ_θ and ψ_ω (ICNNs with ``push`` / ``value_and_push``).
        X: ``[N, *shape]`` samples of P; Y: ``[M, *shape]`` samples of Q.
        lambda_cycle, cycle, l1: see :class:`W2GNConfig`.

    Returns:
        dict with ``loss`` (to minimise), ``correlation`` (Corr without regulariser),
        ``w2`` (the paper's W2 estimate E‖x‖²/2 + E‖y‖²/2 − Corr, which estimates
        ½·W2² = ½·E‖x − T*(x)‖², half the squared Wasserstein-2 distance), ``cycle`` (R), ``cycle_x``/``cycle_y``
        (each direction's term, when computed) — all scalar tensors.
    """
    if cycle not in CYCLE_VARIANTS:
        raise ValueError(f"cycle must be one of {CYCLE_VARIANTS}, got {cycle!r}")
    if X.shape[0] == 0 or Y.shape[0] == 0:
        raise ValueError(f"w2gn_losses needs non-empty batches, got X {list(X.shape)} and Y {list(Y.shape)}")
    for batch, net in ((X, D), (Y, D_conj)):
        if hasattr(net, "_check_input"):
            net._check_input(batch)  # shape and dtype, with a clear message
    if fast.enabled() and fast_objective.applies(D, D_conj, X, Y):
        return fast_objective.losses(D, D_conj, X, Y, lambda_cycle, cycle, l1, _half_sq_norms(X, Y))
    Y_inv = D_conj.push(Y)                     # ∇ψ_ω(Y), graph to ω (for the cycle term)
    Y_inv_d = Y_inv.detach()
    if cycle == "inverse":
        psi_x = D(X)
        cycle_x = None
    else:
        psi_x, X_fwd = D.value_and_push(X)     # ψ_θ(X) from the forward pass of the push
        cycle_x = _sq_mean(D_conj.push(X_fwd), X)
    psi_yinv = D(Y_inv_d)                      # ψ_θ(∇ψ_ω(Y)) with ∇ψ_ω(Y) detached
    cycle_y = _sq_mean(D.push(Y_inv), Y)
    with torch.no_grad():
        inner = (Y_inv_d * Y).flatten(1).sum(1).mean()   # <∇ψ_ω(y), y>: constant for the gradient
    correlation = psi_x.mean() + inner - psi_yinv.mean()
    reg = cycle_y if cycle_x is None else cycle_x + cycle_y
    if cycle == "both_mean":
        reg = reg / 2
    loss = correlation + lambda_cycle * reg
    if l1:
        loss = loss + L1.apply(float(l1), *[p for net in (D, D_conj) for p in net.parameters()])
    out = {"loss": loss, "correlation": correlation.detach(), "w2": (_half_sq_norms(X, Y) - correlation).detach(),
           "cycle": reg.detach(), "cycle_y": cycle_y.detach()}
    if cycle_x is not None:
        out["cycle_x"] = cycle_x.detach()
    return out


#: config fields that may differ between the run that wrote a checkpoint and the one resuming it
_RESUME_FREE = ("progress", "checkpoint_path", "checkpoint_every")


class _TrainState:
    """The mutable state of one training run: config, optimisers, step count, history, the weights
    before the last update. It holds the nets' parameters (through the optimisers) but not the
    nets themselves, so :func:`train` can keep it beside a pair of nets without keeping them alive."""

    def __init__(self, config, opt, opt_conj):
        self.config, self.opt, self.opt_conj = config, opt, opt_conj
        self.iteration, self.history, self.seeded, self.backup = 0, {}, False, None


def _state_attr(name: str) -> property:
    return property(lambda self: getattr(self.state, name), lambda self, v: setattr(self.state, name, v))


class W2GN:
    """W2GN between P and Q: ψ_θ (``D``, forward map ∇ψ_θ: P → Q), ψ_ω (``D_conj``, the inverse
    map), their optimisers, the step count and the history.

    ``W2GN(D, D_conj, config).fit(X_sampler, Y_sampler)`` trains and returns the object, like the
    baselines' solvers; then ``push(x)`` = ∇ψ_θ(x) and ``push_inverse(y)`` = ∇ψ_ω(y).
    ``fit`` may be called repeatedly: it continues from the current weights and optimiser
    states. ``history`` is a dict of lists (``iteration``, ``loss``, ``correlation``, ``w2``,
    ``cycle``, ``cycle_y``, [``cycle_x``], ``time_s``) filled every ``config.log_every`` steps.
    With ``config.checkpoint_path`` set, ``fit`` checkpoints and resumes (see :class:`W2GNConfig`).

    Non-finite guard: a NaN/inf loss stops training with :class:`NonFiniteLossError`; if the
    update before it had made the weights non-finite, the weights from before that update are
    restored first (the message says which case happened). The final weights and every
    checkpoint's are checked too.

    Args:
        D, D_conj: the two ICNNs (``DenseICNN``, ``ConvICNN``, … with ``push``).
        config: a :class:`W2GNConfig` (default: ``W2GNConfig()``).
        state: the run to continue (another W2GN's ``state``; used by :func:`get_trainer`).
    """

    config = _state_attr("config")
    opt = _state_attr("opt")
    opt_conj = _state_attr("opt_conj")
    iteration = _state_attr("iteration")
    history = _state_attr("history")
    _seeded = _state_attr("seeded")
    _backup = _state_attr("backup")

    def __init__(self, D, D_conj, config: W2GNConfig | None = None, state: _TrainState | None = None):
        config = W2GNConfig() if config is None else config
        shape, conj_shape = getattr(D, "sample_shape", None), getattr(D_conj, "sample_shape", None)
        if shape is not None and conj_shape is not None and tuple(shape) != tuple(conj_shape):
            raise ValueError(f"D and D_conj must take samples of the same shape; got D {list(shape)} and "
                             f"D_conj {list(conj_shape)} (build both nets with the same input dimension)")
        if not isinstance(config, W2GNConfig):
            raise TypeError(f"config must be a W2GNConfig, got {type(config).__name__}")
        self.D, self.D_conj = D, D_conj
        if fast.enabled() and any(p.device.type == "cpu" for p in D.parameters()):
            fast_memory.keep_freed_memory()
        self.state = state if state is not None else _TrainState(
            config, make_optimizer(D, config.lr, config.betas, config.weight_decay),
            make_optimizer(D_conj, config.lr, config.conj_betas, config.weight_decay))
        self._samplers: dict[str, str] = {}
        self._params = [p for net in (D, D_conj) for p in net.parameters()]

    def set_config(self, config: W2GNConfig) -> None:
        """Switch to a new config; learning rates, betas and weight decay of the existing
        optimisers are updated in place (their moment estimates are kept)."""
        self.config = config
        for opt, betas in ((self.opt, config.betas), (self.opt_conj, config.conj_betas)):
            for group in opt.param_groups:
                group.update(lr=config.lr, betas=betas, weight_decay=config.weight_decay)

    def _weights_finite(self) -> bool:
        with torch.no_grad():
            return bool(torch.isfinite(torch.stack([p.sum() for p in self._params])).all())

    def _restore_backup(self) -> bool:
        """Put back the weights from before the last update; ``False`` if there is no copy."""
        if self._backup is None:
            return False
        with torch.no_grad():
            for p, b in zip(self._params, self._backup):
                p.copy_(b)
        return True

    def _guard_weights(self, where: str) -> None:
        """Raise (restoring the weights before the last update) if the weights are non-finite."""
        if not self._weights_finite():
            restored = self._restore_backup()
            raise NonFiniteLossError(
                f"W2GN training: the update at iteration {self.iteration} made the weights non-finite ({where}); "
                + ("the weights from before that update are restored. " if restored else
                   "no earlier copy of the weights exists. ")
                + "Lower lr or weight_decay, or check the scale of the data.")

    def step(self, X: torch.Tensor, Y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step on the batches ``X ~ P``, ``Y ~ Q``.

        Raises:
            NonFiniteLossError: the loss is NaN/inf (the nets keep finite weights, see the class).
        """
        c = self.config
        for net in (self.D, self.D_conj):
            if not net.training:
                net.train()
        losses = w2gn_losses(self.D, self.D_conj, X, Y, c.lambda_cycle, c.cycle, c.l1)
        loss_value = losses["loss"].item()  # a host sync on CUDA (as any finiteness check)
        if not math.isfinite(loss_value):
            if not self._weights_finite():
                self._guard_weights(f"the loss at the next step is {loss_value}")
            raise NonFiniteLossError(self._nonfinite_message(X, Y, loss_value))
        with torch.no_grad():  # keep the weights before the update (restored if it breaks them)
            if self._backup is None:
                self._backup = [p.detach().clone() for p in self._params]
            else:
                torch._foreach_copy_(self._backup, [p.detach() for p in self._params])
        opts, quick = (self.opt, self.opt_conj), fast.enabled()
        if c.lr_schedule != "constant" or c.warmup:
            lr = scheduled_lr(c.lr, self.iteration, c.iterations, c.lr_schedule, c.warmup, c.lr_end)
            for opt in opts:
                for group in opt.param_groups:
                    group["lr"] = lr
        for opt in opts:
            fast_adam.zero_grad(opt) if quick else opt.zero_grad(set_to_none=True)
        losses["loss"].backward()
        for opt in opts:
            fast_adam.step(opt) if quick else opt.step()
        self.D.convexify()
        self.D_conj.convexify()
        self.iteration += 1
        return losses

    def _nonfinite_message(self, X, Y, value) -> str:
        where = f"W2GN training: loss is {value} at iteration {self.iteration}"
        for name, batch in (("input (P)", X), ("output (Q)", Y)):
            if not torch.isfinite(batch).all():
                return f"{where}: the {name} sampler returned non-finite samples ({self._samplers.get(name, '?')})"
        return (f"{where}; the weights of the last finite step are kept. Lower lr or lambda_cycle, "
                "or check the scale of the data.")

    def fit(self, X_sampler, Y_sampler, iterations: int | None = None,
            callback: Callable[[int, Any, Any, dict], Any] | None = None) -> "W2GN":
        """Train for ``iterations`` (default ``config.iterations``) more steps; returns ``self``
        (the history is ``self.history``). Arguments as :meth:`run`."""
        self.run(X_sampler, Y_sampler, iterations, callback)
        return self

    def push(self, x: torch.Tensor) -> torch.Tensor:
        """The forward map ∇ψ_θ(x), ``x ~ P`` (differentiable when grad mode is on)."""
        return self.D.push(x)

    def push_inverse(self, y: torch.Tensor) -> torch.Tensor:
        """The inverse map ∇ψ_ω(y), ``y ~ Q`` (differentiable when grad mode is on)."""
        return self.D_conj.push(y)

    def run(self, X_sampler, Y_sampler, iterations: int | None = None,
            callback: Callable[[int, Any, Any, dict], Any] | None = None) -> dict[str, list]:
        """Train for ``iterations`` (default ``config.iterations``) more steps.

        With ``config.checkpoint_path`` set and the file present, the run stored there is
        resumed and trained to its end (``iterations`` is then the stored run's); a finished
        one is only loaded.

        Args:
            X_sampler, Y_sampler: objects with ``sample(n)`` returning ``[n, *shape]`` tensors.
            callback: ``callback(iteration, D, D_conj, logs)`` called at every logged step
                (``logs``: the floats just appended to the history). Returning ``False``
                stops training early. If it has ``state_dict()`` / ``load_state_dict(state)``
                (e.g. an evaluation curve; plain data), that state is checkpointed and resumed too.

        Returns:
            the history (also ``self.history``).

        Raises:
            CheckpointError: the checkpoint file is damaged or belongs to another run.
        """
        c = self.config
        if iterations is not None and (not is_int(iterations) or iterations < 0):
            raise ValueError(f"iterations must be an integer ≥ 0, got {iterations!r}")
        n_iter = c.iterations if iterations is None else int(iterations)
        self._samplers = {"input (P)": type(X_sampler).__name__, "output (Q)": type(Y_sampler).__name__}
        samplers = {"X": X_sampler, "Y": Y_sampler}
        path, done = c.checkpoint_path, False
        if path is not None and os.path.exists(path):
            state = read_checkpoint(path)
            if state.get("kind") != "train" or "run_end" not in state:
                raise CheckpointError(f"{path} is not a checkpoint of a resumable W2GN training run "
                                      f"(kind {state.get('kind', 'saved by save_checkpoint')!r})")
            defaults = W2GNConfig().to_dict()  # settings newer than the checkpoint count at their default
            now = {k: v for k, v in c.to_dict().items()
                   if k not in _RESUME_FREE and (k in state["config"] or v != defaults.get(k))}
            check_same_run(path, state["config"], now, "training run")
            self.load_state_dict(state)
            self.set_config(c)
            load_sampler_states(samplers, state["samplers"])
            set_global_rng_state(state["rng"])
            if "callback" in state and callable(getattr(callback, "load_state_dict", None)):
                callback.load_state_dict(state["callback"])
            run_end, done = int(state["run_end"]), bool(state["done"])
        else:
            if c.seed is not None and not self._seeded:
                torch.manual_seed(c.seed)
                self._seeded = True
            run_end = self.iteration + n_iter
        last_saved = self.iteration if done else -1

        def save(finished: bool) -> None:
            nonlocal last_saved
            self._guard_weights("checked before writing the checkpoint")
            state = self.state_dict()
            state.update(kind="train", run_end=run_end, done=finished, samplers=sampler_states(samplers),
                         rng=global_rng_state())
            if callable(getattr(callback, "state_dict", None)):
                state["callback"] = callback.state_dict()
            write_checkpoint(path, state)
            last_saved = self.iteration

        start = time.perf_counter() - (self.history["time_s"][-1] if self.history.get("time_s") else 0.0)
        todo = 0 if done else max(run_end - self.iteration, 0)
        bar = tqdm(range(todo), desc="W2GN", disable=not c.progress, initial=run_end - todo, total=run_end)
        for _ in bar:
            X = sample_checked(X_sampler, c.batch_size, self.D, "input (P)")
            Y = sample_checked(Y_sampler, c.batch_size, self.D_conj, "output (Q)")
            losses = self.step(X, Y)
            stop = False
            if self.iteration % c.log_every == 0 or self.iteration == 1:
                logs = {k: v.item() for k, v in losses.items()}
                logs["iteration"] = self.iteration
                logs["time_s"] = time.perf_counter() - start
                for k, v in logs.items():
                    self.history.setdefault(k, []).append(v)
                bar.set_postfix(w2=f"{logs['w2']:.3f}", cycle=f"{logs['cycle']:.2e}")
                stop = callback is not None and callback(self.iteration, self.D, self.D_conj, logs) is False
            if stop:
                break
            if path is not None and self.iteration % c.checkpoint_every == 0 and self.iteration < run_end:
                save(False)
        self._guard_weights("checked at the end of training")
        if path is not None and last_saved != self.iteration:
            save(True)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        return {
            "D": self.D.state_dict(), "D_conj": self.D_conj.state_dict(),
            "D_arch": arch(self.D), "D_conj_arch": arch(self.D_conj),
            "opt": self.opt.state_dict(), "opt_conj": self.opt_conj.state_dict(),
            "config": self.config.to_dict(), "iteration": self.iteration,
            "history": {k: list(v) for k, v in self.history.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        self.D.load_state_dict(state["D"])
        self.D_conj.load_state_dict(state["D_conj"])
        self.set_config(W2GNConfig.from_dict(state["config"]))
        load_optimizer_state(self.opt, state["opt"])
        load_optimizer_state(self.opt_conj, state["opt_conj"])
        self.iteration = int(state["iteration"])
        self.history = {k: list(v) for k, v in state.get("history", {}).items()}
        self._seeded = True
        self._backup = None


class W2GNTrainer(W2GN):
    """:class:`W2GN` whose ``fit`` returns the history (the older interface, kept)."""

    def fit(self, X_sampler, Y_sampler, iterations: int | None = None,
            callback: Callable[[int, Any, Any, dict], Any] | None = None) -> dict[str, list]:
        """:meth:`W2GN.run`: train and return the history."""
        return self.run(X_sampler, Y_sampler, iterations, callback)


def train(D, D_conj, X_sampler, Y_sampler, config: W2GNConfig,
          callback: Callable[[int, Any, Any, dict], Any] | None = None) -> dict[str, list]:
    """Train W2GN (ψ_θ = ``D``, ψ_ω = ``D_conj``) for ``config.iterations`` steps.

    A thin function over :class:`W2GN`: the run's state (optimisers, step count, history) is kept
    beside the pair of nets, in this module (not on the nets), for as long as ``D`` lives; calling
    ``train`` again with the same pair continues from the current weights, optimiser states and
    history; a changed ``config`` updates lr/betas/weight decay in place. With
    ``config.checkpoint_path`` the run is checkpointed and a call that finds the file resumes
    it — also in a new process with freshly built nets and samplers (see :class:`W2GNConfig`).

    Returns:
        the history dict of lists (see :class:`W2GNTrainer`).
    """
    return get_trainer(D, D_conj, config).run(X_sampler, Y_sampler, callback=callback)


def get_trainer(D, D_conj, config: W2GNConfig) -> W2GNTrainer:
    """A :class:`W2GNTrainer` over the run :func:`train` keeps for ``(D, D_conj)``, created on first
    use (every call returns a trainer sharing that run's state)."""
    entry = _RUNS.get(D)
    if entry is None or entry[0]() is not D_conj:
        trainer = W2GNTrainer(D, D_conj, config)
        _RUNS[D] = (weakref.ref(D_conj), trainer.state)
        return trainer
    trainer = W2GNTrainer(D, D_conj, config, state=entry[1])
    if trainer.config != config:
        trainer.set_config(config)
    return trainer


#: D -> (weak reference to D_conj, the _TrainState of train()'s run with that pair)
_RUNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
