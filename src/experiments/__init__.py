"""Experiment glue: one module per notebook, each owning its config dataclass and presets.

* :mod:`.toy` — 2-D toy targets, mode coverage (``W2GN_toy_experiments``);
* :mod:`.gaussians` — high-dimensional Gaussians and the paper's L2-UVP table
  (``W2GN_gaussians_high_dimensions``);
* :mod:`.gaussians_baselines` — LSOT, MM-1, MM-2 and W2GN on the same problems
  (``W2GN_gaussians_baselines``);
* :mod:`.benchmark` — W2GN on the Mix3toMix10 benchmark pairs (``W2GN_benchmark``);
* :mod:`.autoencoder` — the autoencoder of the latent-space experiment (``AE_Celeba``);
* :mod:`.latent_ot` — W2GN in the autoencoder's latent space (``W2GN_latent_space_optimal_transport``);
* :mod:`.style_transfer` — unpaired image-to-image transport (``W2GN_style_transfer``);
* :mod:`.domain_adaptation` — LeNet features of one digit domain onto another (``W2GN_domain_adaptation``);
* :mod:`.color_transfer` — colour transfer between photos (``W2GN_color_transfer``);
* :mod:`.common` — :func:`~.common.make_pair` (build → init → identity pretraining → copy);
* :mod:`.run` — ``python -m src.experiments.run``: train an experiment's runs by a script (also
  under ``torchrun``) into the checkpoint folder its notebook then loads.

Importing this package (which ``import src.experiments.toy`` does first) imports every
experiment module, so that every config class is defined and registered
(:func:`src.configs.config_classes`): ``W2GN_OVERRIDES`` may hold a section for any of them
(:func:`src.configs.apply_overrides`) whichever notebook reads it. The modules import only the
library (heavy optional packages such as torchvision load inside the functions that need them).
"""
from . import (autoencoder, benchmark, color_transfer, domain_adaptation, gaussians,  # noqa: F401
               gaussians_baselines, latent_ot, style_transfer, toy)

#: the experiment modules, one per notebook
MODULES = ("toy", "gaussians", "gaussians_baselines", "benchmark", "autoencoder", "latent_ot",
           "style_transfer", "domain_adaptation", "color_transfer")
