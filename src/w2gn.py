"""The W2GN object: training (fit / step), the two maps (push / push_inverse), W2 estimates,
checkpoints (save / load), and :func:`train`, a stateless function over it.

The public API of the method is importable from here: :class:`W2GNConfig` (from
:mod:`src.training`), :func:`w2gn_losses` (the objective, from :mod:`src.objective`), and from
:mod:`src.pretrain` :func:`make_pair` / :func:`pretrained_pair` / :func:`pretrain_identity`
(the pair of potentials a run starts from). Data-parallel training: :mod:`src.distributed`.
"""
from __future__ import annotations

import contextlib
import math
import os
import time
import warnings
from dataclasses import replace
from typing import Any, Callable

import torch

from . import distributed, fast, icnn
from .objective import w2gn_losses
from .checkpoint import (CheckpointError, RunLock, check_same_run, global_rng_state, load_sampler_states, read_checkpoint,
                         sampler_states, set_global_rng_state, write_checkpoint)
from .distributions import as_sampler
from .fast import adam as fast_adam, memory as fast_memory
from .pretrain import make_pair, pretrain_identity, pretrained_pair  # noqa: F401  (public here too)
from .training import (CYCLE_VARIANTS, LR_SCHEDULES, NonFiniteLossError, W2GNConfig,  # noqa: F401
                       apply_map as _apply_map, arch, estimate_samples as _samples, eval_mode as _eval_mode,
                       implementation as _implementation, is_int, load_optimizer_state, make_optimizer,
                       progress_bar, sample_checked, scheduled_lr)

__all__ = [
    "W2GN", "W2GNConfig", "train", "w2gn_losses", "make_pair", "pretrained_pair", "pretrain_identity",
    "save_checkpoint", "load_checkpoint", "CYCLE_VARIANTS", "NonFiniteLossError", "CheckpointError",
]

#: config fields that may differ between the run that wrote a checkpoint and the one resuming it
_RESUME_FREE = ("iterations", "progress", "checkpoint_path", "checkpoint_every", "distributed")


class W2GN:
    """W2GN between P and Q: ψ_θ (``D``, forward map ∇ψ_θ: P → Q), ψ_ω (``D_conj``, the inverse
    map ∇ψ_ω: Q → P), their optimisers, the step count and the history.

    ``W2GN(D, D_conj, config).fit(X, Y)`` trains to ``config.iterations`` steps and returns the
    object; then ``push(x)`` = ∇ψ_θ(x) and ``push_inverse(y)`` = ∇ψ_ω(y) are plain functions
    (eval mode, no graph). ``history`` is a dict of lists (``iteration``, ``loss``,
    ``correlation``, ``w2``, ``cycle``, ``cycle_y``, [``cycle_x``], ``time_s``) filled every
    ``config.log_every`` steps.

    Runs extend: ``fit(X, Y, iterations=M)`` (or a config with ``iterations=M``) on a run at
    N < M steps trains the M − N steps left, continuing the weights, optimisers, samplers and
    the run's random stream, so with a constant learning rate it ends as a straight run of M
    steps would (bit-identical on the same CPU setup). A run already at ``iterations`` steps is
    not trained (``fit`` says so with a warning). With ``config.checkpoint_path`` set, ``fit``
    checkpoints and resumes (see :class:`W2GNConfig`).

    Non-finite guard: a NaN/inf loss stops training with :class:`NonFiniteLossError`, and the
    nets are put back to the weights whose loss was last evaluated finite (those from before the
    last update; with non-finite samples the weights are kept). The message says which step's
    weights are kept. The final weights and every checkpoint's are checked too.

    Args:
        D, D_conj: the two ICNNs (``DenseICNN``, ``ConvICNN``, … with ``push``), two distinct
            modules (see :func:`make_pair`).
        config: a :class:`W2GNConfig` (default: ``W2GNConfig()``).
    """

    def __init__(self, D, D_conj, config: W2GNConfig | None = None):
        config = W2GNConfig() if config is None else config
        if not isinstance(config, W2GNConfig):
            raise TypeError(f"config must be a W2GNConfig, got {type(config).__name__}")
        if D is D_conj:
            raise ValueError("D and D_conj must be two nets (ψ_θ and ψ_ω), got the same module twice; "
                             "build ψ_ω as a copy: D_conj.load_state_dict(D.state_dict()) (see make_pair)")
        shape, conj_shape = getattr(D, "sample_shape", None), getattr(D_conj, "sample_shape", None)
        if shape is not None and conj_shape is not None and tuple(shape) != tuple(conj_shape):
            raise ValueError(f"D and D_conj must take samples of the same shape; got D {list(shape)} and "
                             f"D_conj {list(conj_shape)} (build both nets with the same input dimension)")
        self.D, self.D_conj, self.config = D, D_conj, config
        if fast.enabled() and any(p.device.type == "cpu" for p in D.parameters()):
            fast_memory.keep_freed_memory()
        self.opt = make_optimizer(D, config.lr, config.betas, config.weight_decay)
        self.opt_conj = make_optimizer(D_conj, config.lr, config.conj_betas, config.weight_decay)
        self.iteration, self.history = 0, {}
        self._rng = None          # the run's global random state where its last fit ended
        self._backup = None       # the weights before the last update (the non-finite guard)
        self._data: dict = {}     # role -> (the array/tensor given to fit, its sampler)
        self._roles: dict[str, str] = {}
        self._dist = distributed.active()  # data-parallel steps (see src.distributed)
        self._params = [p for net in (D, D_conj) for p in net.parameters()]

    def set_config(self, config: W2GNConfig) -> None:
        """Switch to a new config; learning rates, betas and weight decay of the existing
        optimisers are updated in place (their moment estimates are kept)."""
        if not isinstance(config, W2GNConfig):
            raise TypeError(f"config must be a W2GNConfig, got {type(config).__name__}")
        self.config = config
        for opt, betas in ((self.opt, config.betas), (self.opt_conj, config.conj_betas)):
            for group in opt.param_groups:
                group.update(lr=config.lr, betas=betas, weight_decay=config.weight_decay)

    # ------------------------------------------------------------------ the non-finite guard
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

    def _nonfinite_loss(self, X, Y, value) -> NonFiniteLossError:
        """The error for a non-finite loss at the current step with finite weights. Bad samples keep
        the weights; otherwise the update before this step (which led to this loss) is undone, so
        the nets hold the weights whose loss was last evaluated finite."""
        where = f"W2GN training: loss is {value} at iteration {self.iteration}"
        for name, batch in (("input (P)", X), ("output (Q)", Y)):
            if not torch.isfinite(batch).all():
                return NonFiniteLossError(f"{where}: the {name} sampler returned non-finite samples "
                                          f"({self._roles.get(name, '?')}); the weights are kept")
        if self._restore_backup():
            kept = (f"the weights from before the update of iteration {self.iteration - 1} (whose loss was the "
                    f"last finite one) are restored")
        else:
            kept = "the weights are the ones training started from"
        return NonFiniteLossError(f"{where}; {kept}. Lower lr or lambda_cycle, or check the scale of the data.")

    # ------------------------------------------------------------------ training
    def step(self, X: torch.Tensor, Y: torch.Tensor) -> dict[str, torch.Tensor]:
        """One optimiser step on the batches ``X ~ P``, ``Y ~ Q`` (the nets in training mode).

        Raises:
            NonFiniteLossError: the loss is NaN/inf (the nets keep finite weights, see the class).
        """
        c = self.config
        for net in (self.D, self.D_conj):
            if not net.training:
                net.train()
        losses = w2gn_losses(self.D, self.D_conj, X, Y, c.lambda_cycle, c.cycle, c.l1)
        opts, quick = (self.opt, self.opt_conj), fast.enabled()
        if self._dist:  # gradients of this rank's share, then averaged over the ranks with the loss
            for opt in opts:
                fast_adam.zero_grad(opt) if quick else opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
            loss_value = distributed.average_gradients(self._params, losses["loss"])
        else:
            loss_value = losses["loss"].item()  # a host sync on CUDA (as any finiteness check)
        if not math.isfinite(loss_value):
            if not self._weights_finite():
                self._guard_weights(f"the loss at the next step is {loss_value}")
            raise self._nonfinite_loss(X, Y, loss_value)
        with torch.no_grad():  # keep the weights before the update (restored if it breaks them)
            if self._backup is None:
                self._backup = [p.detach().clone() for p in self._params]
            else:
                torch._foreach_copy_(self._backup, [p.detach() for p in self._params])
        if c.lr_schedule != "constant" or c.warmup:
            lr = scheduled_lr(c.lr, self.iteration, c.iterations, c.lr_schedule, c.warmup, c.lr_end)
            for opt in opts:
                for group in opt.param_groups:
                    group["lr"] = lr
        if not self._dist:
            for opt in opts:
                fast_adam.zero_grad(opt) if quick else opt.zero_grad(set_to_none=True)
            losses["loss"].backward()
        for opt in opts:
            fast_adam.step(opt) if quick else opt.step()
        self.D.convexify()
        self.D_conj.convexify()
        self.iteration += 1
        return losses

    def _sampler(self, role: str, data, net, seed_offset: int):
        """The sampler of ``data`` for ``role``: a sampler as given; an array or tensor becomes one
        (seeded from ``config.seed``), kept so that a later ``fit`` on the same object continues it."""
        kept = self._data.get(role)
        if kept is not None and kept[0] is data:
            return kept[1]
        seed = None if self.config.seed is None else self.config.seed + seed_offset
        sampler = as_sampler(data, net, seed=seed, name=role)
        if sampler is not data:
            self._data[role] = (data, sampler)
        return sampler

    def fit(self, X, Y, iterations: int | None = None,
            callback: Callable[[int, Any, Any, dict], Any] | None = None) -> "W2GN":
        """Train until the run has ``iterations`` steps (default ``config.iterations``); returns ``self``.

        Args:
            X, Y: samples of P and of Q: samplers (``sample(n)`` returning ``[n, *shape]``
                tensors) or tensors / NumPy arrays ``[n, *shape]`` (rows drawn at random with
                replacement, from generators seeded ``config.seed`` and ``config.seed + 1``).
            iterations: the run's new total length (sets ``config.iterations``).
            callback: ``callback(iteration, D, D_conj, logs)`` called at every logged step
                (``logs``: the floats just appended to the history). Returning ``False``
                stops training early. If it has ``state_dict()`` / ``load_state_dict(state)``
                (e.g. an evaluation curve; plain data), that state is checkpointed and resumed too.

        Raises:
            CheckpointError: the checkpoint file is damaged or belongs to another run (other
                settings, nets of another architecture, samplers with other parameters), or
                another process is training on the same checkpoint path.
        """
        if iterations is not None:
            if not is_int(iterations) or iterations < 0:
                raise ValueError(f"iterations must be an integer ≥ 0, got {iterations!r}")
            self.set_config(replace(self.config, iterations=int(iterations)))
        path = self.config.checkpoint_path
        self._dist = distributed.setup(self.config.distributed, next(self.D.parameters()).device)
        writer = path is not None and distributed.rank() == 0
        if self._dist and path is not None:
            torch.distributed.barrier()   # every rank reads the checkpoint as the last run left it
        with RunLock(path) if writer else contextlib.nullcontext():   # one writer per run
            return self._fit(X, Y, callback)

    def _fit(self, X, Y, callback) -> "W2GN":
        c = self.config
        samplers = {"X": self._sampler("X", X, self.D, 1), "Y": self._sampler("Y", Y, self.D_conj, 2)}
        self._roles = {"input (P)": type(samplers["X"]).__name__, "output (Q)": type(samplers["Y"]).__name__}
        path = c.checkpoint_path
        if path is not None and os.path.exists(path):
            self._resume(path, samplers, callback)
        elif self._rng is not None:
            set_global_rng_state(self._rng)   # the run's own random stream, whatever ran in between
        else:
            r = distributed.rank()
            if c.seed is not None:
                torch.manual_seed(c.seed + 7919 * r)
            if r > 0:                          # every rank draws its own share: its own streams
                for i, sampler in enumerate(samplers.values()):
                    distributed.reseed(sampler, (c.seed or 0) + 7919 * r + i)
        todo = c.iterations - self.iteration
        if todo <= 0:
            warnings.warn(f"W2GN.fit: the run is at step {self.iteration} and iterations={c.iterations}: nothing to "
                          "train; raise iterations to train more steps", stacklevel=3)
            return self
        last_saved = -1

        def save() -> None:
            nonlocal last_saved
            self._guard_weights("checked before writing the checkpoint")
            own = {"samplers": sampler_states(samplers), "rng": global_rng_state()}
            state = self.state_dict()
            if self._dist:  # rank 0 writes the states of every rank, after checking the weights agree
                distributed.check_equal_weights(self._params)
                ranks = distributed.gather(own)
                state.update(world_size=len(ranks), ranks=ranks)
            state.update(kind="train", **own)
            if callable(getattr(callback, "state_dict", None)):
                state["callback"] = callback.state_dict()
            if distributed.rank() == 0:
                write_checkpoint(path, state)
            last_saved = self.iteration

        start = time.perf_counter() - (self.history["time_s"][-1] if self.history.get("time_s") else 0.0)
        n = distributed.shard(c.batch_size) if self._dist else c.batch_size
        bar = progress_bar(range(todo), c.progress if distributed.rank() == 0 else False, desc="W2GN",
                           initial=self.iteration, total=c.iterations)
        for _ in bar:
            X_batch = sample_checked(samplers["X"], n, self.D, "input (P)")
            Y_batch = sample_checked(samplers["Y"], n, self.D_conj, "output (Q)")
            losses = self.step(X_batch, Y_batch)
            stop = False
            if self.iteration % c.log_every == 0 or self.iteration == 1:
                logs = {k: v.item() for k, v in losses.items()}
                if self._dist:
                    logs = distributed.mean_logs(logs, X_batch.device)
                logs["iteration"] = self.iteration
                logs["time_s"] = time.perf_counter() - start
                for k, v in logs.items():
                    self.history.setdefault(k, []).append(v)
                bar.set_postfix(w2=f"{logs['w2']:.3f}", cycle=f"{logs['cycle']:.2e}", refresh=False)
                stop = callback is not None and callback(self.iteration, self.D, self.D_conj, logs) is False
            if stop:
                break
            if path is not None and self.iteration % c.checkpoint_every == 0 and self.iteration < c.iterations:
                save()
        bar.close()
        self._guard_weights("checked at the end of training")
        self._rng = global_rng_state()
        if path is not None and last_saved != self.iteration:
            save()
        return self

    def _resume(self, path, samplers: dict, callback) -> None:
        """Continue the run stored at ``path``: load it into a fresh object, or check that this
        object is that run (same step) and go on from memory."""
        state = read_checkpoint(path)
        if state.get("kind") != "train":
            raise CheckpointError(f"{path} is not a checkpoint of a resumable W2GN training run "
                                  f"(kind {state.get('kind', 'saved by W2GN.save')!r})")
        c = self.config
        defaults = W2GNConfig().to_dict()  # settings newer than the checkpoint count at their default
        now = {k: v for k, v in c.to_dict().items()
               if k not in _RESUME_FREE and (k in state["config"] or v != defaults.get(k))}
        check_same_run(path, state["config"], now, "training run")
        for key, net in (("D_arch", self.D), ("D_conj_arch", self.D_conj)):
            stored, now_arch = state.get(key), arch(net)
            if stored is not None and {k: now_arch.get(k) for k in stored} != stored:
                raise CheckpointError(f"{path} was written with another architecture of {key[:-5]} "
                                      f"({stored} vs now {now_arch}): another run; delete it or pass "
                                      "another checkpoint_path")
        saved_world, world = int(state.get("world_size", 1)), distributed.world_size()
        if saved_world != world and int(state["iteration"]) < c.iterations:   # a finished run loads anywhere
            raise CheckpointError(f"{path} was written by a run on {saved_world} process(es), this one has {world}: "
                                  "resume it with the same number of processes")
        own = state["ranks"][distributed.rank()] if "ranks" in state and saved_world == world else state
        if self.iteration == 0 and not self.history:
            self.load_state_dict(state)
            self.set_config(c)
            load_sampler_states(samplers, own["samplers"])
            set_global_rng_state(own["rng"])
            if "callback" in state and callable(getattr(callback, "load_state_dict", None)):
                callback.load_state_dict(state["callback"])
        elif int(state["iteration"]) != self.iteration:
            raise CheckpointError(f"{path} holds a run at step {state['iteration']} but this W2GN object is at "
                                  f"step {self.iteration}: another run; pass another checkpoint_path")
        elif self._rng is not None:
            set_global_rng_state(self._rng)

    # ------------------------------------------------------------------ the maps
    def push(self, x, batch_size: int = 4096, grad: bool = False):
        """The forward map ∇ψ_θ(x), ``x ~ P``: a function of ``x`` (eval mode: no dropout; no
        graph; in batches of ``batch_size``; the net's mode is left as it was). NumPy in, NumPy
        out. ``grad=True``: the differentiable map (``D.push(x)``, in the net's current mode)."""
        return _apply_map(self.D, x, batch_size, grad)

    def push_inverse(self, y, batch_size: int = 4096, grad: bool = False):
        """The inverse map ∇ψ_ω(y), ``y ~ Q`` (as :meth:`push`)."""
        return _apply_map(self.D_conj, y, batch_size, grad)

    def w2(self, X, Y, n: int = 10_000, batch_size: int = 4096) -> float:
        """An estimate of W2²(P, Q) by the dual (correlation) form of the trained potentials:
        E‖x‖² + E‖y‖² − 2·(E_P ψ_θ(x) + E_Q[⟨∇ψ_ω(y), y⟩ − ψ_θ(∇ψ_ω(y))]), in eval mode.

        ``X``, ``Y``: tensors / arrays of samples (all rows are used: pass held-out ones) or
        samplers (``n`` fresh samples each; their random state is put back afterwards, so
        training continues as if this had not been called).
        """
        x, y = _samples(X, n, self.D), _samples(Y, n, self.D_conj)
        with _eval_mode(self.D, self.D_conj), torch.no_grad():
            psi_x = torch.cat([self.D(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
            y_inv = self.D_conj.push_nograd(y, batch_size)
            psi_yinv = torch.cat([self.D(y_inv[i:i + batch_size]) for i in range(0, len(y), batch_size)])
            corr = psi_x.double().mean() + (y_inv * y).flatten(1).sum(1).double().mean() - psi_yinv.double().mean()
            sq = (x * x).flatten(1).sum(1).double().mean() + (y * y).flatten(1).sum(1).double().mean()
        return float(sq - 2 * corr)

    # ------------------------------------------------------------------ state and files
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
        self._rng = state.get("rng")
        self._backup = None

    def save(self, path, **extra) -> None:
        """Save nets, optimiser states, config, iteration and history (plus ``extra`` plain data,
        back as ``W2GN.load(path).extra``).

        Written atomically (a temporary file in the same folder, fsync, rename: a crash leaves the
        previous file intact) with a checksum verified at load; the file loads with
        ``torch.load(path, weights_only=True)``.
        """
        state = self.state_dict()
        state["extra"] = extra
        write_checkpoint(path, state)

    @classmethod
    def load(cls, path, D=None, D_conj=None, map_location=None) -> "W2GN":
        """A :class:`W2GN` from a file of :meth:`save` (or a training checkpoint of ``fit``).

        Pass the nets ``D``/``D_conj`` (built with the same architecture), or nothing: then
        DenseICNN/ConvICNN nets are rebuilt from the stored architecture. A checkpoint of another
        architecture raises ``ValueError`` naming the keys that differ. ``extra`` holds the
        plain data given to :meth:`save`.

        Raises:
            FileNotFoundError: no such file.
            CheckpointError: the file is empty, truncated, corrupted (checksum mismatch), not a
                checkpoint, or one of identity pretraining.
        """
        state = read_checkpoint(path, map_location)
        if state.get("kind") == "pretrain":
            raise CheckpointError(f"{path} is an identity-pretraining checkpoint; pass it to pretrain_identity")
        D = D if D is not None else build_net(state["D_arch"])
        D_conj = D_conj if D_conj is not None else build_net(state["D_conj_arch"])
        if map_location is not None:
            D.to(map_location)
            D_conj.to(map_location)
        model = cls(D, D_conj, W2GNConfig.from_dict(state["config"]))
        model.load_state_dict(state)
        model.extra = state.get("extra", {})
        return model


def save_checkpoint(path, model: W2GN, **extra) -> None:
    """``model.save(path, **extra)``."""
    model.save(path, **extra)


def load_checkpoint(path, D=None, D_conj=None, map_location=None) -> W2GN:
    """``W2GN.load(path, D, D_conj, map_location)``."""
    return W2GN.load(path, D, D_conj, map_location)


def train(D, D_conj, X, Y, config: W2GNConfig, callback: Callable[[int, Any, Any, dict], Any] | None = None
          ) -> dict[str, list]:
    """Train W2GN (ψ_θ = ``D``, ψ_ω = ``D_conj``) for ``config.iterations`` steps and return the
    history: ``W2GN(D, D_conj, config).fit(X, Y, callback=callback).history``.

    Stateless: each call starts new optimisers (use a :class:`W2GN` object to continue a run in
    the same process); with ``config.checkpoint_path`` a call that finds the file resumes that
    run, also in a new process with freshly built nets and samplers.
    """
    return W2GN(D, D_conj, config).fit(X, Y, callback=callback).history


def build_net(arch: dict):
    """A fresh net of :mod:`src.icnn` from :func:`arch`'s record."""
    arch = dict(arch)
    name = arch.pop("class")
    cls = getattr(icnn, name, None)
    if cls is None:
        raise ValueError(f"cannot rebuild a net of class {name!r} (not in src.icnn); pass D and D_conj")
    return cls(**arch)
