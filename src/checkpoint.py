"""Checkpoint files and the random states they carry (used by :mod:`src.w2gn` and :mod:`src.pretrain`;
this module knows nothing of either: the W2GN object saves and loads itself).

A checkpoint is a ``torch.save`` file of plain data and tensors (it loads with
``torch.load(path, weights_only=True)``), written atomically with a format tag and a SHA-256
checksum of its content that :func:`read_checkpoint` verifies. Resumable runs also store the
global random states (torch, NumPy, Python) and their samplers' states, so a resumed run draws
what an uninterrupted one would have drawn.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import random
import socket
import time
import warnings

import numpy as np
import torch

from .distributions import load_rng_state_dict, rng_state_dict
from .utils import atomic_torch_save

__all__ = ["CheckpointError", "read_checkpoint", "write_checkpoint", "global_rng_state", "set_global_rng_state",
           "sampler_states", "load_sampler_states", "check_same_run", "RunLock", "fingerprint"]


class CheckpointError(ValueError):
    """A file is not a readable, intact checkpoint (empty, truncated, corrupted, another kind of
    file), or belongs to another run than the one resuming from it."""


CHECKPOINT_FORMAT = "w2gn-checkpoint"
CHECKPOINT_VERSION = 2


def global_rng_state() -> dict:
    """The global random states a run draws from: torch (CPU and, once initialised, CUDA),
    NumPy and Python's ``random``."""
    state = {"torch": torch.get_rng_state(), "numpy": _np_state(np.random.get_state()),
             "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def _np_state(np_state) -> dict:
    """NumPy's legacy global RNG state as tensors and numbers."""
    _, keys, pos, has_gauss, gauss = np_state
    return {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos), "has_gauss": int(has_gauss),
            "gauss": float(gauss)}


def digest(obj) -> str:
    """SHA-256 of a checkpoint's content: every tensor's dtype, shape and bytes, every other
    value's ``repr``, in a fixed order (dict keys sorted)."""
    h = hashlib.sha256()

    def feed(x):
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu().contiguous()
            h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(x, dict):
            h.update(b"{")
            for k in sorted(x, key=repr):
                h.update(repr(k).encode())
                feed(x[k])
            h.update(b"}")
        elif isinstance(x, (list, tuple)):
            h.update(b"[" if isinstance(x, list) else b"(")
            for v in x:
                feed(v)
            h.update(b"]")
        else:
            h.update(repr(x).encode())

    feed(obj)
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _remove_dead_writers_leftovers(folder: str, name: str) -> None:
    """Delete the temporary files a killed save of ``name`` left behind (``.<name>.<pid>.*.tmp``
    whose pid is no longer running); a live writer's temporary file is never touched."""
    for leftover in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.*.tmp")):
        rest = os.path.basename(leftover)[len(name) + 2:]
        pid = rest.split(".", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            with contextlib.suppress(OSError):
                os.unlink(leftover)


def write_checkpoint(path, state: dict) -> None:
    """Write ``state`` (plain data and tensors) atomically with its format tag and checksum
    (the file's folder is created if missing).

    Raises:
        OSError: the file could not be written (e.g. a full disk); the previous file is intact.
    """
    state = dict(state, format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION)
    state.pop("checksum", None)
    state["checksum"] = digest(state)
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    _remove_dead_writers_leftovers(folder, name)
    try:
        atomic_torch_save(state, path)
    except (OSError, RuntimeError) as e:  # torch reports a full disk as RuntimeError("... unexpected pos ...")
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        kept = "the previous checkpoint is left intact" if os.path.exists(path) else "no file was written"
        raise OSError(getattr(e, "errno", None) or errno.EIO,
                      f"could not write the checkpoint {path} ({first}); is the disk full or the folder "
                      f"read-only? {kept}") from e


class RunLock:
    """An exclusive lock on one run's checkpoint file: ``<path>.lock``, created atomically and
    holding the holder's pid and host, kept for the whole run and removed at its end. A lock
    left by a process of this host that is no longer running is taken over; a live holder (or one
    on another host, whose liveness cannot be checked) is refused with :class:`CheckpointError`.

    Use as ``with RunLock(path): ...`` around a checkpointed run.
    """

    def __init__(self, path):
        self.path = os.fspath(path) + ".lock"
        self.held = False

    def _holder(self) -> dict | None:
        try:
            with open(self.path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # being written, or damaged: treated as unknown

    def __enter__(self):
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder is None:
                    continue  # released meanwhile: try again
                stale = (holder.get("host") == me["host"] and isinstance(holder.get("pid"), int)
                         and holder["pid"] != me["pid"] and not _pid_alive(holder["pid"]))
                if not stale:
                    who = (f"process {holder.get('pid')} on host {holder.get('host')}" if holder
                           else "another process")
                    raise CheckpointError(
                        f"{self.path[:-5]} is in use by a run of {who} (lock file {self.path}): two runs must not "
                        "share one checkpoint_path; wait for it to end, pass another checkpoint_path, or delete "
                        "the lock file if that process is gone") from None
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path)  # a dead process's lock: take it over
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            self.held = True
            return self
        raise CheckpointError(f"could not take the lock {self.path}: another process keeps taking it")

    def __exit__(self, *exc):
        if self.held:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
            self.held = False


def fingerprint(obj, _depth: int = 0) -> str:
    """A digest of an object's non-random state (e.g. a sampler's means, covariances, data,
    dtype), so a resumed run can tell "the same sampler" from "another of the same class": its
    attributes that are tensors, arrays, numbers, strings, dtypes/devices and containers of these,
    and those of sampler-like attributes (recursively). Random generators and the ``seed`` are left
    out: a resumed run restores the generators' states from the checkpoint."""
    plain = {}
    for k, v in sorted(vars(obj).items()) if hasattr(obj, "__dict__") else []:
        if k == "seed" or isinstance(v, (torch.Generator, np.random.RandomState, np.random.Generator)):
            continue
        if isinstance(v, np.ndarray):
            v = torch.from_numpy(np.ascontiguousarray(v))
        if isinstance(v, (torch.Tensor, int, float, str, bool, type(None))):
            plain[k] = v
        elif isinstance(v, (torch.dtype, torch.device)):
            plain[k] = str(v)
        elif isinstance(v, (list, tuple)) and all(isinstance(x, (int, float, str, bool)) for x in v):
            plain[k] = list(v)
        elif _depth < 4 and callable(getattr(v, "sample", None)):
            plain[k] = fingerprint(v, _depth + 1)
    return digest({"class": type(obj).__name__, **plain})


def read_checkpoint(path, map_location=None) -> dict:
    """Load and verify a checkpoint file.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: empty, truncated, corrupted or not a checkpoint of this library.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no checkpoint at {path}")
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a folder, not a checkpoint file")
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): not a checkpoint (an interrupted copy?)")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, EOFError, OSError, UnpicklingError, ... here
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated, corrupted or another kind of "
                              f"file): {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from e
    if not isinstance(state, dict) or not ({"format", "D"} & set(state)):
        raise CheckpointError(f"{path} is a torch file but not a W2GN checkpoint "
                              f"(keys: {sorted(map(str, state))[:8] if isinstance(state, dict) else type(state).__name__})")
    if "format" not in state:  # written before checkpoints carried a checksum
        warnings.warn(f"{path}: a checkpoint without a checksum (older version); its content is not verified",
                      stacklevel=3)
        return state
    if state["format"] != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a {state['format']!r} file, not a W2GN checkpoint")
    saved = state.pop("checksum", None)
    if saved is None or digest(state) != saved:
        raise CheckpointError(f"{path} is corrupted: its content does not match its checksum "
                              "(the file was modified or damaged after it was written)")
    return state


def check_same_run(path, saved: dict, current: dict, what: str) -> None:
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs now {v!r}" for k, v in current.items() if saved.get(k) != v]
    if diffs:
        raise CheckpointError(f"{path} was written by a {what} with other settings ({'; '.join(diffs[:6])}); "
                              "delete it or pass another checkpoint_path to start a new run")


def sampler_states(samplers: dict) -> dict:
    out = {k: (s.state_dict() if callable(getattr(s, "state_dict", None)) else rng_state_dict(s))
           for k, s in samplers.items()}
    out["types"] = {k: type(s).__name__ for k, s in samplers.items()}
    out["fingerprints"] = {k: fingerprint(s) for k, s in samplers.items()}
    return out


def load_sampler_states(samplers: dict, states: dict) -> None:
    """Restore the samplers' random states; refuse samplers of another class or with other
    parameters than those the states were saved from (checkpoints that carry fingerprints)."""
    saved = states.get("types", {})
    for k, s in samplers.items():
        if k in saved and saved[k] != type(s).__name__:
            raise CheckpointError(f"the checkpoint was written with a {saved[k]} sampler for {k}, "
                                  f"now it is a {type(s).__name__}: another run; delete the file to start afresh")
    prints = states.get("fingerprints", {})
    for k, s in samplers.items():
        if k in prints and prints[k] != fingerprint(s):
            raise CheckpointError(f"the checkpoint was written with another {type(s).__name__} for {k} (other "
                                  "parameters, data or seed): another run; delete the file to start afresh")
    for k, s in samplers.items():
        if callable(getattr(s, "load_state_dict", None)):
            s.load_state_dict(states[k])
        else:
            load_rng_state_dict(s, states[k])
