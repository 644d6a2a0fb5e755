"""Small helpers: device choice, seeding, smoothing, atomic file writes."""
from __future__ import annotations

import contextlib
import os
import random
import tempfile
from typing import Sequence

import numpy as np
import torch

__all__ = ["get_device", "set_seed", "ewma", "describe_device", "ExperimentRecord", "results_dir",
           "atomic_open", "atomic_write_bytes", "atomic_write_text", "atomic_torch_save"]


# ---------------------------------------------------------------------------- atomic writes
def _fsync_dir(folder) -> None:
    """fsync a directory so a rename in it survives a power loss (no-op where unsupported)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file beside ``path`` for writing; on success it is flushed, fsync-ed
    and renamed onto ``path`` (``os.replace``), so readers see the old file or the complete
    new one, never a partial one. On an exception (or a kill) ``path`` is left untouched and
    the temporary file is removed (a kill can leave a hidden ``.<name>.<pid>.*.tmp`` file).

    Args:
        path: the final file; its folder must exist.
        mode: ``"wb"`` or ``"w"`` (text, UTF-8).

    Yields:
        the open file object.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"output folder does not exist: {folder}")
    # the writer's pid in the name: a later writer removes only leftovers of dead processes
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if os.path.exists(path):  # keep the permissions of the file being replaced
            with contextlib.suppress(OSError):
                os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "w") as f:
        f.write(text)


def atomic_torch_save(obj, path) -> None:
    """``torch.save(obj, path)`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


def weights_file(env_var: str, expected: str, hub_pattern: str):
    """A local weights file: the path in env ``env_var`` if set (it must be a file, else
    FileNotFoundError naming ``expected``), else the first file of the torch hub cache
    (``<hub>/checkpoints/``) matching ``hub_pattern``, else None (e.g. offline)."""
    from pathlib import Path

    env = os.environ.get(env_var)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"{env_var}={env} is not a file; expected {expected}")
        return path
    ckpt = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(ckpt.glob(hub_pattern)) if ckpt.is_dir() else []
    return found[0] if found else None


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` (or env ``W2GN_DEVICE``) if given, else CUDA when available, else CPU."""
    name = prefer or os.environ.get("W2GN_DEVICE")
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe_device(device) -> str:
    """Human-readable device name, e.g. ``cuda (NVIDIA H100 80GB HBM3)`` or ``cpu (2 threads)``."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({torch.get_num_threads()} threads)"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def ewma(values: Sequence[float], alpha: float = 0.1) -> np.ndarray:
    """Exponentially weighted moving average (for smoothing loss curves)."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    acc = values[0] if values.size else 0.0
    for i, v in enumerate(values):
        acc = alpha * v + (1 - alpha) * acc
        out[i] = acc
    return out


# ---------------------------------------------------------------------------- experiment records
import json as _json
import platform as _platform
import time as _time
from pathlib import Path as _Path

REPO_ROOT = _Path(__file__).resolve().parents[1]


def display_path(path) -> str:
    """``path`` as printed and recorded: relative to the repository when inside it (so notebook
    outputs and results files name no folder of the machine they ran on), else with ``~`` for
    the home folder."""
    p = _Path(os.path.abspath(os.fspath(path)))
    try:
        return str(p.relative_to(REPO_ROOT))
    except ValueError:
        home = _Path.home()
        try:
            return str(_Path("~") / p.relative_to(home))
        except ValueError:
            return str(p)


def _relative_paths(text: str) -> str:
    """``text`` with every absolute path inside the repository written relative to it."""
    return text.replace(str(REPO_ROOT) + os.sep, "")


def scratch_dir() -> _Path:
    """Where quick runs (``smoke`` profile, ``W2GN_OVERRIDES``) write results and notebook copies:
    env ``W2GN_SCRATCH_DIR``, else ``scratch/`` in the repository (git-ignored)."""
    return _Path(os.path.expanduser(os.environ.get("W2GN_SCRATCH_DIR") or REPO_ROOT / "scratch"))


def is_quick_run(profile: str | None = None) -> bool:
    """A run whose outputs must not replace the committed ones: the ``smoke`` profile (``profile``,
    else env ``W2GN_PROFILE``) or any run with env ``W2GN_OVERRIDES`` set."""
    profile = profile or os.environ.get("W2GN_PROFILE") or ""
    return profile.strip().lower() == "smoke" or bool(os.environ.get("W2GN_OVERRIDES", "").strip())


def results_dir(profile: str | None = None) -> _Path:
    """Where notebooks write ``<experiment>.json``: env ``W2GN_RESULTS_DIR`` if set; else
    ``scratch/results`` for a quick run (:func:`is_quick_run`: the committed ``results/`` are
    never overwritten by one) and ``results/`` for a full ``cpu`` / ``paper`` run."""
    env = os.environ.get("W2GN_RESULTS_DIR")
    if env:
        return _Path(os.path.expanduser(env))
    return scratch_dir() / "results" if is_quick_run(profile) else REPO_ROOT / "results"


class ExperimentRecord:
    """Prints what a notebook is about to run (profile, device, data source, where its results
    go) and, at the end, writes ``<experiment>.json`` into :func:`results_dir` (``results/`` for a
    full run, ``scratch/results/`` for a quick one) with the wall and CPU time since creation.

    Args:
        experiment: short name, e.g. ``"toy"``; also the results file name.
        profile: ``paper``, ``cpu`` or ``smoke``.
        device: torch device used.
        seed: the training seed.
        data: a description of the data source (say "offline substitute" where it is one).
    """

    def __init__(self, experiment: str, profile: str, device, seed: int, data: str):
        self.experiment, self.profile, self.seed, self.data = experiment, profile, seed, _relative_paths(data)
        self.device = describe_device(device)
        self.start = _time.perf_counter()
        self.cpu_start = _time.process_time()
        target = display_path(results_dir(profile) / f"{experiment}.json")
        note = " (a quick run: the committed results/ stay as they are)" if is_quick_run(profile) else ""
        print(f"experiment: {experiment}\nprofile:    {profile}\ndevice:     {self.device}\n"
              f"torch:      {torch.__version__}\nseed:       {seed}\ndata:       {self.data}\n"
              f"results:    {target}{note}")

    def elapsed(self) -> float:
        return _time.perf_counter() - self.start

    def cpu_time(self) -> float:
        """CPU seconds this process used since creation (all its threads): with one thread, the
        time the run takes on one core even when other processes share the machine."""
        return _time.process_time() - self.cpu_start

    def save(self, metrics: dict, **extra) -> dict:
        """Write and return the record; ``metrics`` must be JSON-serialisable (floats, dicts)."""
        record = {
            "experiment": self.experiment, "profile": self.profile, "device": self.device,
            "torch": torch.__version__, "python": _platform.python_version(), "seed": self.seed,
            "data": self.data, "wall_time_s": round(self.elapsed(), 1), "cpu_time_s": round(self.cpu_time(), 1),
            "torch_threads": torch.get_num_threads(), "metrics": metrics,
            **{k: _relative_paths(v) if isinstance(v, str) else v for k, v in extra.items()},
        }
        out = results_dir(self.profile)
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"{self.experiment}.json"
        atomic_write_text(path, _json.dumps(record, indent=2, default=_to_builtin) + "\n")
        print(f"wrote {display_path(path)} (wall time {record['wall_time_s']} s, CPU time {record['cpu_time_s']} s "
              f"on {record['torch_threads']} thread(s))")
        return record


def _to_builtin(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
