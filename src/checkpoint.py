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
import glob
import hashlib
import os
import random
import warnings

import numpy as np
import torch

from .distributions import load_rng_state_dict, rng_state_dict
from .utils import atomic_torch_save

__all__ = ["CheckpointError", "read_checkpoint", "write_checkpoint", "global_rng_state", "set_global_rng_state",
           "sampler_states", "load_sampler_states", "check_same_run"]


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


def write_checkpoint(path, state: dict) -> None:
    """Write ``state`` (plain data and tensors) atomically with its format tag and checksum
    (the file's folder is created if missing)."""
    state = dict(state, format=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION)
    state.pop("checksum", None)
    state["checksum"] = digest(state)
    # temporary files left by a killed save of this checkpoint (one writer per run file)
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    os.makedirs(folder, exist_ok=True)
    for leftover in glob.glob(os.path.join(glob.escape(folder), f".{glob.escape(name)}.*.tmp")):
        with contextlib.suppress(OSError):
            os.unlink(leftover)
    atomic_torch_save(state, path)


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
    return out


def load_sampler_states(samplers: dict, states: dict) -> None:
    saved = states.get("types", {})
    for k, s in samplers.items():
        if k in saved and saved[k] != type(s).__name__:
            raise CheckpointError(f"the checkpoint was written with a {saved[k]} sampler for {k}, "
                                  f"now it is a {type(s).__name__}: another run; delete the file to start afresh")
    for k, s in samplers.items():
        if callable(getattr(s, "load_state_dict", None)):
            s.load_state_dict(states[k])
        else:
            load_rng_state_dict(s, states[k])
