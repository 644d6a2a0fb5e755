"""Plotting helpers for the notebooks (matplotlib, imported by notebooks only — not by the core).
Every function returns ``(fig, axes)``."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

# Each experiment's plotting helpers live in their own section below.

# ==== common ====
# ==== end common ====

# ==== toy / gaussians ====
# ==== end toy / gaussians ====

# ==== color_transfer ====
# ==== end color_transfer ====

# ==== domain_adaptation ====
# ==== end domain_adaptation ====

# ==== latent_ot ====
# ==== end latent_ot ====

# ==== style_transfer ====
# ==== end style_transfer ====

# ==== baselines / benchmark ====
# ==== end baselines / benchmark ====
