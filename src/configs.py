"""One config dataclass per experiment, each with three presets:

* ``paper`` — PAPER.md's exact settings (one CUDA GPU, real data sets);
* ``cpu``   — the same experiment shrunk to finish on 2 CPU cores (≈ ≤ 30 min a notebook),
  with offline substitute data where the real data cannot be had;
* ``smoke`` — seconds; used by the tests to run every notebook top to bottom.

The profile comes from ``W2GN_PROFILE`` (default ``paper`` when CUDA is available, else ``cpu``).
Usage in a notebook::

    cfg = get_config(ToyConfig)          # resolves the profile
    print(cfg.profile)
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, replace

import torch

__all__ = ["PROFILES", "resolve_profile", "get_config", "ExperimentConfig"]

PROFILES = ("paper", "cpu", "smoke")


def resolve_profile(profile: str | None = None) -> str:
    """``profile`` if given, else env ``W2GN_PROFILE``, else ``paper`` with CUDA and ``cpu`` without."""
    name = profile or os.environ.get("W2GN_PROFILE") or ("paper" if torch.cuda.is_available() else "cpu")
    name = name.strip().lower()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r} (W2GN_PROFILE); choose one of {PROFILES}")
    return name


@dataclass
class ExperimentConfig:
    """Base of the experiment configs. Subclasses define ``paper()``, ``cpu()``, ``smoke()``
    classmethods returning instances with ``profile`` set."""

    profile: str = "cpu"
    seed: int = 0

    @classmethod
    def preset(cls, profile: str | None = None):
        name = resolve_profile(profile)
        return getattr(cls, name)()

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes):
        return replace(self, **changes)


def get_config(cls, profile: str | None = None, **overrides):
    """The ``profile`` preset of experiment config class ``cls`` (with optional overrides)."""
    cfg = cls.preset(profile)
    return replace(cfg, **overrides) if overrides else cfg


# Each experiment's config lives in its own section below (one dataclass, three presets).

# ==== toy (issue: toy + Gaussians notebooks) ====
# ==== end toy ====

# ==== gaussians ====
# ==== end gaussians ====

# ==== color_transfer ====
# ==== end color_transfer ====

# ==== domain_adaptation ====
# ==== end domain_adaptation ====

# ==== latent_ot (autoencoder + latent OT) ====
# ==== end latent_ot ====

# ==== style_transfer ====
# ==== end style_transfer ====

# ==== gaussians_baselines ====
# ==== end gaussians_baselines ====

# ==== benchmark ====
# ==== end benchmark ====
