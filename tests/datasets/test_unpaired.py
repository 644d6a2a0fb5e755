"""src.datasets.unpaired beyond tests/experiments/test_style_transfer.py: listing image folders,
random photo crops (spread, flips, seeds), the folder sampler's RNG hygiene and checks, the
clamping wrapper, the evaluation transform, CycleGAN names, and the offline photographs."""
import copy
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

import src.datasets.unpaired as unpaired
from src.datasets.unpaired import (ClampedSampler, ImageFolderSampler, MissingDataError, cyclegan_domains,
                                   cyclegan_folder, eval_transform, list_images, random_photo_crops)
from src.distributions import TensorDatasetSampler


def _save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_list_images_sorted_by_name_images_only(tmp_path):
    for name in ("b.png", "a.JPG", "c.webp"):
        _save(tmp_path / name, np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub.png").mkdir()                                         # a folder, despite its name
    _save(tmp_path / "deeper" / "d.png", np.zeros((4, 4, 3), np.uint8))  # not directly in the folder
    assert [p.name for p in list_images(tmp_path)] == ["a.JPG", "b.png", "c.webp"]
    with pytest.raises(MissingDataError, match="no image files"):
        list_images(tmp_path / "sub.png")
    with pytest.raises(MissingDataError, match="image folder not found"):
        list_images(tmp_path / "missing")


def test_random_photo_crops_spread_flip_and_seed():
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 255
    blue = np.zeros((40, 40, 3), np.uint8)
    blue[..., 2] = 255
    crops = random_photo_crops([red, blue], 6, 8, seed=0)
    assert crops.shape == (6, 3, 8, 8) and crops.min() >= 0 and crops.max() <= 1
    assert crops[0::2, 0].min() > 0.999 and crops[1::2, 2].min() > 0.999   # photo i % 2: red, blue, red, …
    assert crops[0::2, 2].max() < 1e-3 and crops[1::2, 0].max() < 1e-3
    # a photo dark on the left, white on the right; whole-photo crops (scale 1) show both flips
    half = np.zeros((16, 16, 3), np.uint8)
    half[:, 8:] = 255
    crops = random_photo_crops([half], 40, 16, scale=(1.0, 1.0), seed=1)
    left = crops[:, :, :, :8].mean((1, 2, 3))
    flipped = left > 0.5
    assert 5 < flipped.sum() < 35                                          # about half of them flipped
    assert torch.equal(crops[~flipped][0], torch.from_numpy(half).permute(2, 0, 1).float() / 255)
    assert torch.equal(crops[flipped][0], crops[~flipped][0].flip(-1))
    assert torch.equal(random_photo_crops([half], 5, 8, seed=3), random_photo_crops([half], 5, 8, seed=3))
    assert not torch.equal(random_photo_crops([half], 5, 8, seed=3), random_photo_crops([half], 5, 8, seed=4))
    big = np.random.default_rng(0).integers(0, 256, (900, 700, 3), dtype=np.uint8)   # shrunk first
    assert random_photo_crops([big], 3, 8, seed=0).shape == (3, 3, 8, 8)


def _folder(tmp_path, n=3):
    rng = np.random.default_rng(0)
    for i in range(n):
        _save(tmp_path / f"{i}.png", rng.integers(0, 256, (24, 20, 3), dtype=np.uint8))
    return tmp_path


def test_folder_sampler_draws_without_touching_the_global_rng(tmp_path):
    folder = _folder(tmp_path)
    sampler = ImageFolderSampler(folder, image_size=8, transform=eval_transform(8, crop=16), noise_std=0.0, seed=2)
    assert len(sampler) == 3 and sampler.shape == (3, 8, 8)
    fixed = sampler.images(range(3))
    assert fixed.shape == (3, 3, 8, 8) and set(sampler.cache) == {0, 1, 2}
    state = torch.get_rng_state()
    draws = sampler.sample(10)
    assert torch.equal(torch.get_rng_state(), state)                      # the sampler's own generators
    for img in draws:                                                       # no noise: one of the images
        assert any(torch.equal(img, f) for f in fixed)
    noisy = ImageFolderSampler(folder, 8, transform=eval_transform(8, crop=16), noise_std=0.5, seed=2, cache=False)
    x = noisy.sample(4)
    assert x.min() >= 0 and x.max() <= 1 and noisy.cache is None          # noise clamped to [0, 1]
    wrong = ImageFolderSampler(folder, 8, transform=eval_transform(6, crop=16))
    with pytest.raises(ValueError, match=r"transform returned images of shape \[3, 6, 6\], expected \[3, 8, 8\]"):
        wrong.sample(1)


def test_eval_transform_is_deterministic_centre_crop_and_resize(tmp_path):
    arr = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    img = Image.fromarray(arr)
    t = eval_transform(10, crop=10)
    a, b = t(img), t(img)
    assert torch.equal(a, b) and a.shape == (3, 10, 10)
    torch.testing.assert_close(a, torch.from_numpy(arr[10:20, 15:25].copy()).permute(2, 0, 1).float() / 255)


def test_clamped_sampler_clamps_and_delegates():
    data = torch.tensor([[-0.5, 0.2], [0.9, 1.7]])
    inner = TensorDatasetSampler(data, seed=0)
    s = ClampedSampler(inner, 0.0, 1.0)
    x = s.sample(50)
    rows = {tuple(r) for r in x.tolist()}
    assert rows == {tuple(r) for r in data.clamp(0, 1).tolist()}          # both rows drawn, each clamped
    assert len(s) == 2 and s.data is inner.data                           # attributes of the wrapped sampler
    for make_copy in (copy.deepcopy, lambda obj: pickle.loads(pickle.dumps(obj))):   # no __getattr__ loop
        clone = make_copy(s)
        assert torch.equal(clone.sample(5), s.sample(5))                  # the same generator state
        assert clone.low == 0.0 and clone.high == 1.0
    with pytest.raises(AttributeError):
        s.not_an_attribute


def test_cyclegan_names_and_train_images_for_evaluation(tmp_path, monkeypatch):
    monkeypatch.setenv("W2GN_DATA", str(tmp_path / "data"))
    assert cyclegan_folder("photo2cezanne") == tmp_path / "data" / "cyclegan" / "photo2cezanne"
    root = tmp_path / "s2w"
    for d in "AB":
        _folder(root / f"train{d}", n=2)
    dom = cyclegan_domains("summer2winter_yosemite", root=root, image_size=8, n_eval=5)
    assert (dom.name_a, dom.name_b) == ("summer", "winter_yosemite")
    assert dom.eval_a.shape == (2, 3, 8, 8)                                # no testA/: the train images
    assert "summer2winter_yosemite" in dom.description and str(root) in dom.description


def test_offline_photographs_and_the_retina_cut(monkeypatch):
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None:
        pytest.skip("scikit-image is not installed")
    from pathlib import Path

    with Image.open(Path(list(spec.submodule_search_locations)[0]) / "data" / "retina.jpg") as im:
        w, h = im.size
    retina = unpaired._load_offline_photo("skimage", "data/retina.jpg")
    s = int(0.64 * min(h, w))
    assert retina.shape == (s, s, 3) and retina.dtype == np.uint8 and retina.flags["C_CONTIGUOUS"]
    assert unpaired._load_offline_photo("skimage", "data/coffee.png").shape[2] == 3
    with pytest.raises(MissingDataError, match="not shipped"):
        unpaired._load_offline_photo("skimage", "data/no_such_photo.png")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MissingDataError, match="pip install scikit-image"):
        unpaired._load_offline_photo("skimage", "data/astronaut.png")


def test_known_map_domains_unpaired_styled_and_labelled():
    from src.datasets import known_map_domains
    from src.style_maps import default_style_map

    dom = known_map_domains(image_size=8, n_train=16, n_eval=6, noise_std=0.0, seed=0)
    assert "OFFLINE SUBSTITUTE with a known optimal map" in dom.description
    assert dom.eval_a.shape == dom.eval_b.shape == dom.eval_b_source.shape == (6, 3, 8, 8)
    # B is exactly T of its held-out source crops, and those are not A's crops (independent draws)
    assert torch.allclose(dom.eval_b, default_style_map()(dom.eval_b_source))
    assert not torch.allclose(dom.eval_a, dom.eval_b_source)
    train_a, train_b = dom.sampler_a.data, dom.sampler_b.data
    assert train_a.shape == train_b.shape == (16, 3, 8, 8)
    assert 0 <= float(train_b.min()) and float(train_b.max()) <= 1
    assert not torch.allclose(default_style_map()(train_a), train_b)
    again = known_map_domains(image_size=8, n_train=16, n_eval=6, noise_std=0.0, seed=0)
    assert torch.equal(again.eval_b, dom.eval_b)
