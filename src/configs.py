"""The profile machinery of the experiment configs.

Each experiment module of :mod:`src.experiments` owns one config dataclass (a subclass of
:class:`ExperimentConfig`) with three presets:

* ``paper`` — the paper's settings (one CUDA GPU, real data sets);
* ``cpu``   — the same experiment shrunk to finish on 2 CPU cores (≈ ≤ 30 min a notebook),
  with offline substitute data where the real data cannot be had;
* ``smoke`` — seconds; used by the tests to run every notebook top to bottom.

The profile comes from ``W2GN_PROFILE`` (default ``paper`` when CUDA is available, else ``cpu``).
The shared pieces are nested: ``cfg.icnn`` (:class:`ICNNSpec`, the two potentials),
``cfg.pretrain`` (:class:`PretrainSpec`, the identity pretraining) and ``cfg.w2gn``
(:class:`src.w2gn.W2GNConfig`, the training); a preset names only what differs from the paper's
defaults (``cls().replace(profile="cpu", w2gn__iterations=4000)``). Usage in a notebook::

    from src.experiments.toy import ToyConfig
    cfg = get_config(ToyConfig)          # resolves the profile
    print(cfg.profile, cfg.w2gn.iterations, cfg.pretrain.iterations)
    w2cfg = cfg.w2gn_config("run")       # cfg.w2gn with the seed and the checkpoint file of run "run"
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace

import torch

from .w2gn import W2GNConfig

__all__ = ["PROFILES", "resolve_profile", "get_config", "apply_overrides", "config_classes", "ExperimentConfig",
           "ICNNSpec", "PretrainSpec", "W2GNConfig"]

PROFILES = ("paper", "cpu", "smoke")


def resolve_profile(profile: str | None = None) -> str:
    """``profile`` if given, else env ``W2GN_PROFILE``, else ``paper`` with CUDA and ``cpu`` without."""
    name = profile or os.environ.get("W2GN_PROFILE") or ("paper" if torch.cuda.is_available() else "cpu")
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r} (W2GN_PROFILE); choose one of {PROFILES}")
    return name


@dataclass
class ICNNSpec:
    """Architecture and initialisation of the two dense potentials ψ_θ and ψ_ω (alike).

    Attributes:
        hidden: widths of the hidden layers (``()`` where the experiment derives them from D).
        rank: rank of the quadratic terms of the input layers.
        activation: ``"celu"`` or ``"softplus"``.
        dropout: dropout probability after every layer (training only).
        strong_convexity: weight of the ½‖x‖² term added to ψ.
        init_scale: every weight is drawn N(0, 1)·``init_scale``.
        celu_alpha: α of the CELU activation (1 in the paper; see :class:`src.icnn.DenseICNN`).
    """

    hidden: tuple = ()
    rank: int = 1
    activation: str = "celu"
    dropout: float = 0.0
    strong_convexity: float = 1e-6
    init_scale: float = 0.1
    celu_alpha: float = 1.0

    def dense(self, in_dim: int, hidden=None):
        """A :class:`src.icnn.DenseICNN` on ``in_dim`` inputs with ``hidden`` (default ``self.hidden``)."""
        from .icnn import DenseICNN

        return DenseICNN(in_dim, list(self.hidden if hidden is None else hidden), rank=self.rank,
                         activation=self.activation, dropout=self.dropout, strong_convexity=self.strong_convexity,
                         celu_alpha=self.celu_alpha)


@dataclass
class PretrainSpec:
    """Identity pretraining of ψ_θ (:func:`src.w2gn.pretrain_identity`): ∇ψ(x) ≈ x on
    ``blow``·(samples of the pretraining sampler), stopped early once the loss is below ``tol``.

    Attributes: as the arguments of :func:`src.w2gn.pretrain_identity` of the same names.
    """

    iterations: int = 10_000
    lr: float = 1e-3
    betas: tuple = (0.8, 0.9)
    blow: float = 3.0
    tol: float = 3e-5
    batch_size: int = 256
    weight_decay: float = 0.0
    l1: float = 0.0
    optimizer: str = "adam"
    reduction: str = "sum"

    def kwargs(self, progress: bool | None = None) -> dict:
        """Keyword arguments of :func:`src.w2gn.pretrain_identity`."""
        return dict(asdict(self), progress=progress)


def _nested_changes(changes: dict) -> dict:
    """``{"a.b": v}`` and ``{"a__b": v}`` as ``{"a": {"b": v}}`` (other keys unchanged)."""
    out: dict = {}
    for key, value in changes.items():
        *path, leaf = key.replace("__", ".").split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"{key!r}: {part!r} is given both as a value and as a section")
        node[leaf] = value
    return out


def _replace_nested(obj, changes: dict):
    """``obj`` (a dataclass) with ``changes`` applied; a dict on a dataclass field changes its fields."""
    plain = {}
    for key, value in changes.items():
        if key not in obj.__dataclass_fields__:
            raise TypeError(f"{type(obj).__name__} has no field {key!r}; fields: {', '.join(obj.__dataclass_fields__)}")
        current = getattr(obj, key)
        plain[key] = _replace_nested(current, value) if isinstance(value, dict) and hasattr(
            current, "__dataclass_fields__") else value
    return replace(obj, **plain)


#: config class name -> class; each subclass of ExperimentConfig enters itself when it is defined
_CONFIG_CLASSES: dict[str, type] = {}


def config_classes() -> dict:
    """Config class name -> class, of every :class:`ExperimentConfig` subclass defined so far.

    Importing :mod:`src.experiments` (which any ``import src.experiments.<module>`` does first)
    defines every experiment's config class; this module imports none of them."""
    return dict(_CONFIG_CLASSES)


@dataclass
class ExperimentConfig:
    """Base of the experiment configs. Subclasses hold the paper's settings as their field
    defaults (:meth:`paper`) and define ``cpu()`` and ``smoke()`` classmethods returning
    instances with ``profile`` set (``cls().replace(profile="cpu", ...)``: only what differs).

    ``checkpoint_dir``: where the long runs (identity pretraining, W2GN training) write their
    checkpoints, so that a re-run after a crash resumes them (see :meth:`checkpoint`); ``None``
    (the default of the ``cpu`` and ``smoke`` profiles): no checkpoints. :func:`get_config` sets
    it for the ``paper`` profile, and for every profile when env ``W2GN_CHECKPOINT_DIR`` is set.
    """

    profile: str = "cpu"
    seed: int = 0
    checkpoint_dir: str | None = None

    def __init_subclass__(cls, **kwargs):
        """Every subclass registers itself by its class name (see :func:`config_classes`)."""
        super().__init_subclass__(**kwargs)
        _CONFIG_CLASSES[cls.__name__] = cls

    def checkpoint(self, name: str) -> str | None:
        """The checkpoint file of run ``name`` of this experiment (its folder is made at the first
        save), or ``None`` when ``checkpoint_dir`` is unset. Pass it as ``checkpoint_path`` to
        :func:`src.w2gn.pretrain_identity` / :class:`src.w2gn.W2GNConfig`: a run whose file
        exists resumes (or, finished, is just loaded). Delete the file to train afresh."""
        if self.checkpoint_dir is None:
            return None
        return os.path.join(self.checkpoint_dir, f"{type(self).__name__}_{self.profile}_{name}.pt")

    @classmethod
    def paper(cls):
        """The ``paper`` preset: the field defaults are the paper's settings."""
        return cls(profile="paper")

    @classmethod
    def preset(cls, profile: str | None = None):
        name = resolve_profile(profile)
        return getattr(cls, name)()

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes):
        """A copy with ``changes``; nested fields by ``section__field`` (``pretrain__iterations=5``)."""
        return _replace_nested(self, _nested_changes(changes))

    def w2gn_config(self, name: str | None = None, **changes) -> W2GNConfig:
        """The :class:`src.w2gn.W2GNConfig` of a training run: the field ``w2gn`` with this
        experiment's ``seed``, the checkpoint file of run ``name`` (see :meth:`checkpoint`) and
        ``changes`` (e.g. the iterations or λ of one dimension)."""
        ckpt = self.checkpoint(name) if name is not None else None
        return replace(self.w2gn, **{"seed": self.seed, "checkpoint_path": ckpt, **changes})


#: default folder of the ``paper`` profile's checkpoints (inside the repository, git-ignored)
DEFAULT_CHECKPOINT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                      "models", "checkpoints")


def get_config(cls, profile: str | None = None, **overrides):
    """The ``profile`` preset of experiment config class ``cls`` (with optional overrides).

    The ``paper`` profile checkpoints its long runs into env ``W2GN_CHECKPOINT_DIR`` or
    ``models/checkpoints`` (any profile does when ``W2GN_CHECKPOINT_DIR`` is set); override
    with ``checkpoint_dir=...`` (``None``: no checkpoints); nested fields as ``pretrain__iterations=5``.
    Env ``W2GN_OVERRIDES`` (a JSON object)
    changes fields first (see :func:`apply_overrides`)."""
    cfg = apply_overrides(cls.preset(profile))
    if "checkpoint_dir" not in overrides and cfg.checkpoint_dir is None:
        env = os.environ.get("W2GN_CHECKPOINT_DIR")
        if env or cfg.profile == "paper":
            overrides["checkpoint_dir"] = os.path.expanduser(env) if env else DEFAULT_CHECKPOINT_DIR
    cfg = cfg.replace(**overrides) if overrides else cfg
    if cfg.checkpoint_dir is not None:  # say where the runs are, and whether some are there already
        from .utils import display_path

        prefix = f"{type(cfg).__name__}_{cfg.profile}_"
        found = [f for f in (os.listdir(cfg.checkpoint_dir) if os.path.isdir(cfg.checkpoint_dir) else [])
                 if f.startswith(prefix) and f.endswith(".pt")]
        print(f"checkpoints: {display_path(cfg.checkpoint_dir)} ({len(found)} file(s) of this experiment there; "
              "finished runs are loaded, not retrained; cut ones resume)")
    return cfg


# ---- overrides from env W2GN_OVERRIDES (shrinking a profile, e.g. for tests) ----
import json as _json
from dataclasses import fields as _fields, is_dataclass as _is_dataclass

OVERRIDES_ENV = "W2GN_OVERRIDES"


def _override_value(cfg, name: str, value):
    """``value`` (parsed JSON) as a value of field ``name`` of ``cfg``: lists become tuples where
    the field holds a tuple, object keys that are integers ("512") become ints, a dict on a
    nested dataclass field overrides its fields. Raises ValueError on a type mismatch."""
    current = getattr(cfg, name)
    where = f"{type(cfg).__name__}.{name}"
    if _is_dataclass(current) and isinstance(value, dict):
        return _apply_fields(current, value, where + ".")
    if value is None and current is not None:
        annotation = {f.name: str(f.type) for f in _fields(cfg)}[name]
        if "None" not in annotation and "Optional" not in annotation:
            raise ValueError(f"{OVERRIDES_ENV}: {where} ({annotation}) cannot be null")
    if value is None or current is None:
        return value
    if isinstance(current, bool) or isinstance(value, bool):
        ok = isinstance(current, bool) and isinstance(value, bool)
    elif isinstance(current, (int, float)):
        ok = isinstance(value, (int, float)) and (isinstance(current, float) or float(value).is_integer())
        value = type(current)(value) if ok else value
    elif isinstance(current, tuple):
        ok = isinstance(value, list)
        value = tuple(value) if ok else value
    elif isinstance(current, dict):
        ok = isinstance(value, dict)
        if ok:
            value = {int(k) if isinstance(k, str) and k.lstrip("-").isdigit() else k: v for k, v in value.items()}
    else:
        ok = isinstance(value, type(current))
    if not ok:
        raise ValueError(f"{OVERRIDES_ENV}: {where} is {current!r} ({type(current).__name__}); "
                         f"cannot set it to {value!r} ({type(value).__name__})")
    return value


def _apply_fields(cfg, changes: dict, prefix: str = ""):
    valid = [f.name for f in _fields(cfg) if f.name != "profile"]
    unknown = sorted(set(changes) - set(valid))
    if unknown:
        raise ValueError(f"{OVERRIDES_ENV}: unknown field(s) {unknown} of {prefix or type(cfg).__name__}; "
                         f"valid fields: {', '.join(valid)}")
    return replace(cfg, **{k: _override_value(cfg, k, v) for k, v in changes.items()})


def _leaf_paths(obj, changes: dict, prefix: str = "") -> list:
    """Dotted paths of the fields ``changes`` sets in ``obj`` (into nested sections only)."""
    out = []
    for key, value in changes.items():
        current = getattr(obj, key)
        nested = isinstance(value, dict) and hasattr(current, "__dataclass_fields__")
        out += _leaf_paths(current, value, f"{prefix}{key}.") if nested else [(prefix + key)]
    return out


def _get(obj, path: str):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def apply_overrides(cfg, overrides: str | dict | None = None):
    """``cfg`` with fields replaced from env ``W2GN_OVERRIDES`` (or ``overrides``): a JSON object
    ``{"field": value, ...}``, e.g. ``'{"w2gn.iterations": 200, "dims": [2, 8]}'`` (lists become
    tuples, integer object keys ints). A field of a nested section (``icnn``, ``pretrain``,
    ``w2gn``) is named by a dotted path, ``"pretrain.iterations"``, or given as an object,
    ``{"pretrain": {"iterations": 5, "tol": 0}}``. Keys that are config class names hold overrides
    for that class only (``{"AEConfig": {"iterations": 2}, "LatentOTConfig": {"w2gn.iterations": 3}}``);
    the other keys apply to every config. Prints what it changed. ``profile`` cannot be overridden.

    Raises:
        ValueError: not a JSON object, an unknown field (the message lists the valid ones), or a
            value of the wrong type.
    """
    raw = os.environ.get(OVERRIDES_ENV, "") if overrides is None else overrides
    if isinstance(raw, str):
        if not raw.strip():
            return cfg
        try:
            raw = _json.loads(raw)
        except _json.JSONDecodeError as err:
            raise ValueError(f"{OVERRIDES_ENV} is not valid JSON ({err}): {raw!r}") from err
    if not isinstance(raw, dict):
        raise ValueError(f"{OVERRIDES_ENV} must be a JSON object of field -> value, got {raw!r}")
    classes = config_classes()
    changes = {k: v for k, v in raw.items() if k not in classes}
    section = raw.get(type(cfg).__name__, {})
    if not isinstance(section, dict):
        raise ValueError(f"{OVERRIDES_ENV}: the {type(cfg).__name__} entry must be a JSON object, got {section!r}")
    changes.update(section)
    if not changes:
        return cfg
    changes = _nested_changes(changes)
    new = _apply_fields(cfg, changes)
    shown = ", ".join(f"{path} {_get(cfg, path)!r} -> {_get(new, path)!r}" for path in _leaf_paths(cfg, changes))
    print(f"{OVERRIDES_ENV} ({type(cfg).__name__}, profile {cfg.profile}): {shown}")
    return new
