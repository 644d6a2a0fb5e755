"""src.plotters.toy: every plot drawn on small real inputs; panels, points, mode circles, axis
limits and scales checked."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection
from matplotlib.patches import Circle

from src.plotters.toy import (_pca2, plot_energy_curves, plot_l2_uvp_vs_dim, plot_mode_shares, plot_pca_maps,
                              plot_pushed_per_seed, plot_toy_maps, plot_uvp_curves)

from .conftest import render


def _points(n=200, seed=0, scale=1.0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed)) * scale


def _circles(ax):
    return [p for p in ax.patches if isinstance(p, Circle)]


def test_toy_maps_four_panels_with_mode_circles_on_the_target_side():
    X, Y = _points(300, 0), _points(300, 1, 3.0)
    centers, stds = torch.tensor([[0.0, 0.0], [4.0, 1.0], [-3.0, 2.0]]), torch.tensor([0.5, 1.0, 0.25])
    fig, axes = plot_toy_maps(X, Y, Y + 0.1, X - 0.1, centers=centers, stds=stds, title="run", radius=2.0)
    render(fig)
    assert len(axes) == 4 and fig._suptitle.get_text() == "run"
    for ax in axes:
        (pts,) = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert pts.get_offsets().shape == (300, 2)
    assert [len(_circles(ax)) for ax in axes] == [0, 3, 3, 0]          # target Y and ∇ψ_θ(X) only
    assert sorted(c.get_radius() for c in _circles(axes[1])) == pytest.approx([0.5, 1.0, 2.0])   # 2 stds
    lim = 1.1 * np.percentile(np.abs(np.concatenate([X.numpy(), Y.numpy()])), 99.9)
    assert axes[0].get_xlim() == pytest.approx((-lim, lim)) and axes[3].get_ylim() == pytest.approx((-lim, lim))
    fig, axes = plot_toy_maps(X.numpy(), Y.numpy(), Y.numpy(), X.numpy(), lim=5.0)   # arrays, no circles
    assert axes[2].get_xlim() == (-5.0, 5.0) and sum(len(_circles(ax)) for ax in axes) == 0


def test_pushed_per_seed_one_panel_per_run():
    centers = np.array([[2.0, 0.0], [-2.0, 0.0]])
    fig, axes = plot_pushed_per_seed({"seed 0": _points(50, 0), "seed 1": _points(50, 1)}, centers, 0.5, radius=3.0)
    render(fig)
    assert axes.shape == (1, 2) and [ax.get_title() for ax in axes[0]] == ["seed 0", "seed 1"]
    assert all(len(_circles(ax)) == 2 for ax in axes[0])
    lim = 2.0 + 1.5 * 3.0 * 0.5                                          # |centre| + 1.5 circle radii
    assert axes[0, 0].get_xlim() == pytest.approx((-lim, lim))


def test_energy_curves_grid_scales_and_hidden_panels():
    curves = {f"run {i}": {"iteration": [1, 10, 100], "forward": [1.0, 0.1, 0.01], "inverse": [2.0, 0.2, 0.02]}
              for i in range(6)}
    curves["noisy"] = {"iteration": [1, 10, 100], "forward": [1.0, 0.0, -1e-5], "inverse": [1.0, 0.1, 0.01]}
    fig, axes = plot_energy_curves(curves, ncols=5)
    render(fig)
    assert axes.shape == (2, 5)
    flat = list(axes.flat)
    assert [ax.get_yscale() for ax in flat[:7]] == ["log"] * 6 + ["symlog"]   # a value ≤ 0: symmetric log
    assert all(not ax.axison for ax in flat[7:]) and all(ax.axison for ax in flat[:7])
    assert flat[0].get_ylabel() == "energy distance" and flat[0].get_legend() is not None
    assert [len(ax.get_lines()) for ax in flat[:7]] == [2] * 7
    fig, axes = plot_energy_curves({"a": curves["run 0"]}, logy=False)
    assert axes.shape == (1, 1) and axes[0, 0].get_yscale() == "linear"


def test_mode_shares_histograms():
    cov = {"shares": [0.25, 0.25, 0.45, 0.05], "expected": [0.25] * 4, "modes_covered": 3, "n_modes": 4}
    fig, axes = plot_mode_shares({"grid": cov, "ring": dict(cov, modes_covered=4)}, ncols=4)
    render(fig)
    assert axes.shape == (1, 2) and axes[0, 0].get_title() == "grid: 3/4 modes"
    counts = [p.get_height() for p in axes[0, 0].patches]
    assert len(counts) == 20 and sum(counts) == 4                        # 21 bin edges, every component counted
    assert [line.get_xdata()[0] for line in axes[0, 0].get_lines()] == [0.2]   # the drop threshold


def test_pca_maps_project_on_the_reference_components():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(400, 5, generator=g)
    Y = X * torch.tensor([5.0, 2.0, 1.0, 0.5, 0.1]) + 3.0
    fig, axes = plot_pca_maps(X, Y, Y + 0.01, Y, X + 0.01, X, title="D = 5", n=300)
    render(fig)
    assert len(axes) == 2 and fig._suptitle.get_text() == "D = 5"
    for ax in axes:
        cols = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(cols) == 3 and all(c.get_offsets().shape == (300, 2) for c in cols)
    ref = np.asarray(axes[0].collections[0].get_offsets())               # Y in its own PCA plane
    assert np.abs(ref.mean(0)).max() < 1e-9
    var = ref.var(0)
    assert var[0] > var[1] and var[0] == pytest.approx(np.linalg.svd(Y[:300].numpy() - Y[:300].numpy().mean(0),
                                                                     compute_uv=False)[0] ** 2 / 300, rel=1e-4)
    proj = _pca2(np.array([[0.0], [1.0], [2.0]]))                       # 1-D data: the second axis is 0
    assert proj(np.array([[3.0]])).shape == (1, 2) and proj(np.array([[3.0]]))[0, 1] == 0.0


def test_uvp_curves_and_uvp_against_dimension():
    curves = {d: {"iteration": [100, 200], "l2_uvp": [10.0, 5.0], "l2_uvp_inverse": [12.0, 6.0]} for d in (2, 4, 8)}
    fig, axes = plot_uvp_curves(curves, ncols=2)
    render(fig)
    assert axes.shape == (2, 2) and [ax.get_title() for ax in axes.flat[:3]] == ["D = 2", "D = 4", "D = 8"]
    assert axes.flat[0].get_yscale() == "log" and not axes.flat[3].axison
    dims = [2, 4, 8, 16]
    fig, ax = plot_l2_uvp_vs_dim(dims, {"ours": {2: 1.0, "4": 2.0, 8: None, 16: 4.0}},
                                 reference={"paper": {2: None, 4: 1.5, 8: 2.5, 16: 3.5}})
    render(fig)
    ours, paper = ax.get_lines()
    assert list(ours.get_xdata()) == [2, 4, 16] and list(ours.get_ydata()) == [1.0, 2.0, 4.0]   # str keys too
    assert list(paper.get_xdata()) == [4, 8, 16] and paper.get_linestyle() == "--"
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ours", "paper"]
