"""src.plotters.style_transfer: the image grid pixel by pixel (value range, grey to RGB, padding),
and every plot drawn on small real inputs."""
import numpy as np
import pytest
import torch

from src.plotters.style_transfer import (_st_grid, plot_distance_bars, plot_style_history, plot_transport_grid,
                                         plot_unpaired_domains)

from .conftest import render


def test_grid_layout_range_and_padding():
    x = torch.stack([torch.full((3, 2, 2), v) for v in (0.0, 0.5, 1.0)])   # pixels in [0, 1]
    x[1, 0] = 2.0                                                         # out of range: clipped
    grid = _st_grid(x, nrow=2, value_range=(0.0, 1.0))
    assert grid.shape == (4, 4, 3)                                        # 2 rows of 2 tiles, no separators
    assert np.all(grid[:2, :2] == 0.0) and np.all(grid[2:, :2] == 1.0)
    assert np.all(grid[:2, 2:, 0] == 1.0) and np.all(grid[:2, 2:, 1:] == 0.5)
    assert np.all(grid[2:, 2:] == 1.0)                                    # the missing 4th tile is white
    grey = _st_grid(np.zeros((1, 1, 3, 3)), nrow=1)                       # default range [-1, 1]: 0 is mid grey
    assert grey.shape == (3, 3, 3) and np.all(grey == 0.5)


def test_unpaired_domains_and_transport_grid():
    a, b = torch.rand(12, 3, 4, 4), torch.rand(12, 3, 4, 4)
    fig, axes = plot_unpaired_domains(a, b, names=("photos", "paintings"), n=8, nrow=4, value_range=(0, 1))
    render(fig)
    assert [ax.get_title() for ax in axes] == ["photos", "paintings"]
    assert axes[0].images[0].get_array().shape == (8, 16, 3)
    fig, axes = plot_transport_grid(a, a, b, b, n=5, title="step 10", names=("summer", "winter"), value_range=(0, 1))
    render(fig)
    assert len(axes) == 4 and [ax.get_ylabel() for ax in axes] == ["A", "∇ψ_θ(A)", "B", "∇ψ_ω(B)"]
    assert all(ax.images[0].get_array().shape == (4, 20, 3) for ax in axes)
    assert fig._suptitle.get_text() == "step 10\nA = summer, B = winter"


def test_style_history_smooths_and_uses_log_scales_for_cycles():
    hist = {"iteration": [1, 2, 3, 4], "w2": [4.0, 2.0, 2.0, 0.0], "cycle_x": [1.0, 0.1, 0.01, 0.001]}
    fig, axes = plot_style_history(hist, smooth=0.5)
    render(fig)
    assert axes.shape == (1, 2) and [ax.get_title() for ax in axes[0]] == ["w2", "cycle_x"]   # cycle_y absent
    raw, smooth = axes[0, 0].get_lines()
    assert list(raw.get_ydata()) == hist["w2"]
    assert list(smooth.get_ydata()) == pytest.approx([4.0, 3.0, 2.5, 1.25])   # EWMA with α = 0.5
    assert axes[0, 0].get_yscale() == "linear" and axes[0, 1].get_yscale() == "log"


def test_distance_bars_skip_missing_metrics_and_label_the_values():
    before = {"FID": 120.0, "SW": 0.25, "KID": None}
    after = {"FID": 60.0, "SW": 0.125, "KID": 1.0}
    fig, axes = plot_distance_bars(before, after, title="A → B")
    render(fig)
    assert axes.shape == (1, 2) and [ax.get_title() for ax in axes[0]] == ["FID", "SW"]
    heights = [[p.get_height() for p in ax.patches] for ax in axes[0]]
    assert heights == [[120.0, 60.0], [0.25, 0.125]]
    assert [t.get_text() for t in axes[0, 0].texts] == ["120", "60"]   # bar labels, 3 significant digits
    assert fig._suptitle.get_text() == "A → B"
