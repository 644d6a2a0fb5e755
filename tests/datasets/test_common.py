"""src.datasets.common: the data root (env W2GN_DATA), MissingDataError and the colour-transfer
photographs."""
import pytest
from PIL import Image

from src.datasets.common import REPO_ROOT, MissingDataError, color_transfer_image, data_root


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("W2GN_DATA", raising=False)
    assert data_root() == REPO_ROOT / "data"
    assert (REPO_ROOT / "src" / "datasets" / "common.py").is_file() and (REPO_ROOT / "pyproject.toml").is_file()
    monkeypatch.setenv("W2GN_DATA", str(tmp_path))
    assert data_root() == tmp_path


def test_missing_data_error_is_a_file_not_found_error():
    assert issubclass(MissingDataError, FileNotFoundError)
    with pytest.raises(FileNotFoundError):
        raise MissingDataError("x")


def test_shipped_colour_transfer_photos_are_found(monkeypatch):
    monkeypatch.delenv("W2GN_DATA", raising=False)
    for name in ("china.jpg", "flower.jpg"):
        path = color_transfer_image(name)
        assert path == REPO_ROOT / "data" / "color_transfer" / name
        with Image.open(path) as im:
            assert im.mode == "RGB" and min(im.size) > 100


def test_colour_transfer_image_lookup_order_and_error(monkeypatch, tmp_path):
    monkeypatch.setenv("W2GN_DATA", str(tmp_path / "root"))
    (tmp_path / "root" / "color_transfer").mkdir(parents=True)
    (tmp_path / "root" / "color_transfer" / "mine.png").write_bytes(b"x")
    assert color_transfer_image("mine.png") == tmp_path / "root" / "color_transfer" / "mine.png"
    direct = tmp_path / "photo.png"
    direct.write_bytes(b"x")
    assert color_transfer_image(str(direct)) == direct               # an existing path is used as it is
    with pytest.raises(MissingDataError) as err:
        color_transfer_image("nothing.jpg")
    msg = str(err.value)
    assert str(tmp_path / "root" / "color_transfer" / "nothing.jpg") in msg and "china.jpg" in msg
