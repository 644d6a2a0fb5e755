"""src.plotters.domain_adaptation beyond tests/experiments/test_domain_adaptation.py: PCA against a
known direction, the digit canvas pixel by pixel, the shared PCA coordinates of the panels, the
accuracy lines and their labels."""
import numpy as np
import pytest
import torch

from src.plotters.domain_adaptation import fit_pca, plot_digit_domains, plot_knn_accuracy, plot_pca_domains

from .conftest import render


def test_fit_pca_finds_the_main_direction():
    rng = np.random.default_rng(0)
    t = rng.normal(size=500) * 5
    direction = np.array([0.6, 0.8, 0.0])
    X = 1.0 + t[:, None] * direction + 0.01 * rng.normal(size=(500, 3))
    mean, comps = fit_pca(torch.from_numpy(X).float(), n_components=1)
    assert comps.shape == (1, 3) and comps.dtype == np.float64
    np.testing.assert_allclose(mean, X.mean(0), atol=1e-5)
    assert abs(comps[0] @ direction) == pytest.approx(1.0, abs=1e-4)


def test_digit_canvas_places_the_first_images_of_each_class():
    X = torch.zeros(25, 1, 3, 3)
    y = torch.arange(25) % 10                                             # classes 0..4 thrice, 5..9 twice
    for i in range(25):
        X[i] = (i + 1) / 25
    fig, axes = plot_digit_domains({"src": (X, y), "tgt": (X, y)}, n_per_class=3)
    render(fig)
    assert [ax.get_title() for ax in axes] == ["src", "tgt"]
    canvas = axes[0].images[0].get_array()
    assert canvas.shape == (3 * 3, 10 * 3)
    for c in range(10):
        for r, i in enumerate(np.flatnonzero(y.numpy() == c)[:3]):
            np.testing.assert_allclose(canvas[3 * r:3 * r + 3, 3 * c:3 * c + 3], (i + 1) / 25, rtol=1e-6)
    assert np.all(canvas[6:, 15:] == 1.0)                                 # classes 5..9 have 2 images: blank row
    assert [t.get_text() for t in axes[0].get_xticklabels()] == [str(c) for c in range(10)]


def test_pca_panels_share_the_first_panels_coordinates():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(60, 5, generator=g) * torch.tensor([3.0, 2.0, 1.0, 1.0, 1.0])
    labels = torch.arange(60) % 10
    panels = {"target": (f, labels), "source": (f + 10.0, labels), "mapped": (f * 0.5, labels)}
    fig, axes = plot_pca_domains(panels, n=40, ncols=2)
    render(fig)
    assert axes.shape == (2, 2) and not axes[1, 1].axison and axes[1, 0].get_title() == "mapped"
    mean, comps = fit_pca(f)                      # every panel in the coordinates of the first one's PCA
    for ax, (feats, _) in zip(axes.flat, panels.values()):
        shown = np.asarray(ax.collections[0].get_offsets())
        expected = (feats.double().numpy() - mean) @ comps.T
        assert shown.shape == (40, 2)                                        # a random subset of n points
        dist = np.linalg.norm(shown[:, None, :] - expected[None, :, :], axis=2).min(1)
        assert dist.max() < 1e-4
    assert len(fig.axes) == 5                                                # 4 panels + the colour bar
    assert axes[0, 0].get_ylabel() == "PC 2" and axes[1, 0].get_ylabel() == "PC 2"


def test_knn_accuracy_lines_and_labels():
    hist = {"iteration": [1, 500, 1000], "test": [0.5, 0.7, 0.8], "train": [0.6, 0.8, 0.9]}
    fig, ax = plot_knn_accuracy(hist, baselines={"no transport": 0.4}, paper={"W2GN": 0.85})
    render(fig)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["W2GN (test)", "W2GN (train)", "no transport: 0.400"]
    lines = ax.get_lines()
    assert list(lines[0].get_ydata()) == [0.5, 0.7, 0.8] and len(lines) == 4    # 2 curves, 2 horizontal lines
    assert [t.get_text() for t in ax.texts] == ["paper W2GN 0.850"]
    fig, ax = plot_knn_accuracy({"iteration": [], "test": []})               # no points yet: still draws
    render(fig)
