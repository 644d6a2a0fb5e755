"""The Wasserstein-2 benchmark pair Mix3toMix10 is re-created faithfully (src.benchmark)."""
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from src.benchmark import (Mix3ToMix10, PUBLISHED_LINEAR_L2_UVP, RandomGaussianMixtureSampler,
                           ensure_checkpoints)
from src.datasets import MissingDataError

# the benchmark's checkpoints (D = 2 … 128) ship with the repository (data/w2bench)
W2BENCH = Path(__file__).resolve().parents[1] / "data" / "w2bench"


@pytest.fixture(scope="module")
def bench16():
    return Mix3ToMix10(16, root=W2BENCH)


@pytest.mark.parametrize("dim", [2, 16])
def test_linear_baseline_matches_published_uvp(dim, bench16):
    bench = bench16 if dim == 16 else Mix3ToMix10(dim, root=W2BENCH)
    scores = bench.score_linear()
    published = PUBLISHED_LINEAR_L2_UVP[dim]
    assert abs(scores["l2_uvp_fwd"] - published) / published < 0.05, (scores, published)
    assert 0.5 < scores["cos_fwd"] < 1.0
    assert scores["l2_uvp_inv"] > 0 and 0.5 < scores["cos_inv"] < 1.0


def test_mixture_uses_numpy_legacy_global_rng_seeded_0():
    dim = 6
    state = np.random.get_state()
    try:
        np.random.seed(0)
        centers = np.zeros((3, dim))
        for d in range(dim):
            centers[:, d] = np.random.choice(range(3), 3, replace=False)
        maps = np.random.normal(size=(3, dim, dim))
    finally:
        np.random.set_state(state)
    centers -= 1.0
    maps /= np.sqrt((maps ** 2).sum(axis=2, keepdims=True))
    mult = np.sqrt((centers ** 2).sum(axis=1).mean() + dim * 0.4 ** 2) / np.sqrt(dim)
    s = RandomGaussianMixtureSampler(dim, seed=3)
    np.testing.assert_allclose(s.centers_np, centers / mult, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(s.maps_np, maps / mult, rtol=1e-4, atol=1e-6)
    # standardised: zero mean, total variance D (exact moments and a sample agree)
    assert abs(np.trace(s.cov) - dim) < 1e-4 and np.abs(s.mean).max() < 1e-6
    x = s.sample(100_000).double()
    assert abs(float(x.var(0).sum()) - dim) < 0.1
    np.testing.assert_allclose(np.cov(x.numpy().T), s.cov, atol=0.03)


def test_output_is_standardised_and_map_is_monotone(bench16):
    y = bench16.output_sampler.sample(20_000).double()
    assert y.mean(0).abs().max() < 0.1
    assert abs(float(y.var(0).sum()) - 16) < 0.5
    assert abs(bench16.var_y - 16) < 1e-6
    x1, x2 = bench16.input_sampler.sample(2000), bench16.input_sampler.sample(2000)
    inner = ((bench16.map_fwd(x1) - bench16.map_fwd(x2)) * (x1 - x2)).sum(1)
    assert (inner >= -1e-4).all()            # gradient of a convex potential
    assert float(inner.min()) > 0            # strictly (the potentials are strongly convex)


def test_score_of_the_true_map_is_perfect(bench16):
    s = bench16.score(bench16.map_fwd)
    assert s["l2_uvp_fwd"] < 1e-8 and abs(s["cos_fwd"] - 1) < 1e-6
    assert s["l2_uvp_inv"] is None
    identity = bench16.score(lambda x: x, lambda y: y)
    assert identity["l2_uvp_fwd"] > 50          # the identity is far from T*


def test_missing_files_fail_with_a_clear_message(tmp_path, monkeypatch):
    with pytest.raises(MissingDataError, match=r"16_v1\.pt.*16_v2\.pt") as info:
        Mix3ToMix10(16, root=tmp_path, download=False)
    assert str(tmp_path) in str(info.value)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(MissingDataError, match="Download failed") as info:
        ensure_checkpoints(4, root=tmp_path)
    assert str(tmp_path / "Mix3toMix10") in str(info.value)
    assert not list((tmp_path / "Mix3toMix10").glob("*.part"))


def test_download_fills_the_cache_folder(tmp_path, monkeypatch):
    # the real download code, pointed at a local copy through a file:// URL (CI is offline)
    monkeypatch.setattr("src.benchmark.URL_TEMPLATES", ((W2BENCH / "Mix3toMix10").as_uri() + "/{name}",))
    monkeypatch.setattr("src.benchmark.BRANCHES", ("main",))
    monkeypatch.setenv("W2GN_W2BENCH", str(tmp_path / "cache"))
    paths = ensure_checkpoints(2)                      # root=None: the cache folder (env W2GN_W2BENCH)
    assert [p.name for p in paths] == ["2_v1.pt", "2_v2.pt"]
    assert all(p.parent == tmp_path / "cache" / "Mix3toMix10" and p.is_file() for p in paths)
    bench = Mix3ToMix10(2)                             # loads from the filled cache
    assert bench.root == tmp_path / "cache" / "Mix3toMix10"
    assert abs(bench.score_linear()["l2_uvp_fwd"] - PUBLISHED_LINEAR_L2_UVP[2]) < 1.0


def test_shipped_copy_is_the_default(monkeypatch):
    """A clone is self-contained: without env W2GN_W2BENCH the files come from data/w2bench."""
    from src.benchmark import locate_root

    monkeypatch.delenv("W2GN_W2BENCH", raising=False)
    assert locate_root() == W2BENCH and (W2BENCH / "LICENSE.txt").is_file()
    assert all(p.parent == W2BENCH / "Mix3toMix10" for p in ensure_checkpoints(128, download=False))
