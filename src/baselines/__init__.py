"""Baselines of the paper's Gaussian table, with W2GN's sampler interface.

* :class:`LSOT` — Seguy et al. 2018 (regularised dual + barycentric projection);
* :class:`MM1` — Taghvaei & Jalali 2019 (one ICNN, conjugate by a batched inner solver);
* :class:`MM2` — Makkuva et al. 2020 (two ICNNs, minimax, penalty on g's negative weights).

Each takes samplers with ``.sample(n) -> [n, D]``, a config dataclass, trains with a tqdm bar in
``fit(X_sampler, Y_sampler)`` (which returns the solver) and exposes ``push(x)``, the fitted
forward map P → Q (and ``push_nograd``, ``history``, ``train_time_s``). W2GN itself lives in
:mod:`src.w2gn`; :class:`src.experiments.gaussians_baselines.W2GNMap` wraps it in the same interface.
"""
from .common import FittedMap, negative_weight_penalty, nonnegative_weights
from .lsot import LSOT, LSOTConfig, fit_lsot
from .mm1 import MM1, MM1Config, fit_mm1, solve_conjugate
from .mm2 import MM2, MM2Config, fit_mm2

__all__ = ["FittedMap", "LSOT", "LSOTConfig", "fit_lsot", "MM1", "MM1Config", "fit_mm1",
           "solve_conjugate", "MM2", "MM2Config", "fit_mm2", "nonnegative_weights",
           "negative_weight_penalty"]
