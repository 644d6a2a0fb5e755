"""src.plotters.latent_ot: the image grid pixel by pixel, and every plot drawn on small real inputs
(titles, images, smoothing, scales, bars)."""
import numpy as np
import pytest
import torch
from matplotlib.image import AxesImage

from src.plotters.latent_ot import (_image_grid, plot_fid_bars, plot_generated_comparison, plot_image_grid,
                                    plot_latent_pca, plot_loss_curves, plot_reconstructions)

from .conftest import render


def test_image_grid_layout_by_hand():
    x = torch.tensor([-1.0, 0.0, 1.0]).view(3, 1, 1, 1).expand(3, 1, 2, 2)   # black, grey, white 2×2 images
    grid = _image_grid(x, nrow=2)
    # 2 columns, 2 rows, 1-pixel white separators between tiles; the empty 4th tile stays white
    assert grid.shape == (5, 5)
    assert np.all(grid[:2, :2] == 0.0) and np.all(grid[:2, 3:] == 0.5) and np.all(grid[3:, :2] == 1.0)
    assert np.all(grid[2, :] == 1.0) and np.all(grid[:, 2] == 1.0) and np.all(grid[3:, 3:] == 1.0)
    rgb = _image_grid(np.full((2, 3, 4, 3), 3.0), nrow=4)                 # clipped to [0, 1], RGB last
    assert rgb.shape == (4, 4 * (3 + 1) - 1, 3) and rgb.max() == 1.0   # 1 row of 4 tiles of 4×3


def test_plot_image_grid_grey_and_colour():
    fig, ax = plot_image_grid(torch.rand(5, 1, 4, 4) * 2 - 1, nrow=3, title="codes")
    render(fig)
    (im,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
    assert im.get_array().shape == (9, 14) and im.get_cmap().name == "gray"
    assert ax.get_title() == "codes" and not ax.axison
    fig, ax = plot_image_grid(torch.rand(2, 3, 4, 4) * 2 - 1, nrow=2)
    assert ax.images[0].get_array().shape == (4, 9, 3)


def test_reconstructions_and_generated_comparison():
    a, b = torch.rand(20, 1, 4, 4) * 2 - 1, torch.rand(20, 1, 4, 4) * 2 - 1
    fig, axes = plot_reconstructions(a, b, n=6, nrow=3)
    render(fig)
    assert [ax.get_title() for ax in axes] == ["originals", "reconstructions"]
    assert axes[0].images[0].get_array().shape == (2 * 5 - 1, 3 * 5 - 1)   # only the first 6 images
    fig, axes = plot_generated_comparison(a[:4], b[:4], nrow=2, titles=("raw", "mapped"))
    render(fig)
    assert [ax.get_title() for ax in axes] == ["raw", "mapped"]


def test_loss_curves_smooth_long_histories_and_pick_the_scale():
    it = list(range(1, 61))
    hist = {"iteration": it, "loss": [1.0 / i for i in it], "w2": [np.sin(i) for i in it]}
    fig, axes = plot_loss_curves(hist, keys=("loss", "w2", "absent"), title="AE")
    render(fig)
    assert axes.shape == (1, 2) and [ax.get_title() for ax in axes[0]] == ["loss", "w2"]   # missing keys skipped
    assert [len(ax.get_lines()) for ax in axes[0]] == [2, 2]             # raw + EWMA (60 ≥ 50 points)
    assert axes[0, 0].get_yscale() == "log" and axes[0, 1].get_yscale() == "linear"   # negative values: linear
    smooth = axes[0, 0].get_lines()[1].get_ydata()
    assert smooth[0] == 1.0 and smooth[1] == pytest.approx(0.2 * 0.5 + 0.8 * 1.0)      # EWMA, α = 0.2
    assert fig._suptitle.get_text() == "AE"
    short = {"iteration": [1, 2, 3], "loss": [3.0, 2.0, 1.0]}
    fig, axes = plot_loss_curves(short, logy=False)
    assert len(axes[0, 0].get_lines()) == 1 and axes[0, 0].get_yscale() == "linear"   # too short to smooth


def test_latent_pca_centres_the_codes():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(300, 6, generator=g) * torch.tensor([4.0, 1, 1, 1, 1, 0.5]) + 2.0
    noise = torch.randn(300, 6, generator=g)
    fig, axes = plot_latent_pca(codes, noise, noise * 2 + 2, n=200)
    render(fig)
    assert [ax.get_title() for ax in axes] == ["codes vs raw noise", "codes vs transported noise"]
    for ax in axes:
        assert [c.get_offsets().shape for c in ax.collections] == [(200, 2), (200, 2)]
    pc = np.asarray(axes[0].collections[0].get_offsets())
    assert np.abs(pc.mean(0)).max() < 1e-9 and pc[:, 0].var() > 4 * pc[:, 1].var()
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["latent codes of data", "∇ψ_ω(noise) (W2GN)"]


def test_fid_bars_with_missing_values_and_the_paper():
    fig, ax = plot_fid_bars({"w2gn": 40.0, "raw": None, "recon": 20.0}, paper={"w2gn": 50.0})
    render(fig)
    ours, paper = ax.containers
    assert [b.get_height() for b in ours][0] == 40.0 and np.isnan(ours[1].get_height())
    assert paper[0].get_height() == 50.0 and np.isnan(paper[2].get_height())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["w2gn", "raw", "recon"]
    fig, ax = plot_fid_bars({"w2gn": 40.0})
    assert len(ax.containers) == 1 and ax.containers[0][0].get_width() == pytest.approx(0.6)
