"""Plots of the baselines and benchmark experiments: L2-UVP and wall time against the dimension."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def _paper_value(v):
    """Numeric value of a paper table cell ("<1" → 1 as an upper bound, ">50" → 50)."""
    if v is None:
        return np.nan
    s = str(v).strip()
    return float(s.lstrip("<>")) if s else np.nan


def _log_dim_axes(ax, ylabel: str, title: str | None) -> None:
    """Log-log axes against the dimension D, with a grid (and ``title`` when given)."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("dimension D")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)


def plot_uvp_vs_dim(uvp: dict, paper: dict | None = None, title: str | None = "L2-UVP vs dimension",
                    ax=None):
    """L2-UVP % against dimension, one line per method.

    Args:
        uvp: ``{method: {dim (int or str): uvp %}}`` (ours, solid lines with markers).
        paper: optional ``{"dims": [...], method: [cell, ...]}`` (the paper's table, cells such
            as "1.2", "<1", ">50"), drawn dashed in the same colour; "<1"/">50" are drawn at 1/50.
    """
    fig, ax = (plt.subplots(figsize=(6.5, 4.2)) if ax is None else (ax.figure, ax))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (method, values) in enumerate(uvp.items()):
        dims = sorted(int(d) for d in values)
        vals = [values.get(d, values.get(str(d))) for d in dims]
        c = colors[i % len(colors)]
        ax.plot(dims, vals, "o-", color=c, label=f"{method} (ours)")
        if paper is not None and method in paper:
            ax.plot(paper["dims"], [_paper_value(v) for v in paper[method]], "--", color=c, alpha=0.6,
                    label=f"{method} (paper)")
    _log_dim_axes(ax, "L2-UVP, %", title)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig, ax


def plot_time_vs_dim(times: dict, title: str | None = "training wall time", ax=None):
    """Wall time (s) against dimension, one line per method (``{method: {dim: seconds}}``)."""
    fig, ax = (plt.subplots(figsize=(6.5, 4.2)) if ax is None else (ax.figure, ax))
    for method, values in times.items():
        dims = sorted(int(d) for d in values)
        ax.plot(dims, [values.get(d, values.get(str(d))) for d in dims], "o-", label=method)
    _log_dim_axes(ax, "seconds", title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig, ax
