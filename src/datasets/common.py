"""Where the data sets live (:func:`data_root`), the error a missing one raises, and the shipped
colour-transfer photographs."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def data_root() -> Path:
    """Where data sets live: env ``W2GN_DATA`` or ``data/`` in the repository."""
    return Path(os.environ.get("W2GN_DATA", REPO_ROOT / "data"))


class MissingDataError(FileNotFoundError):
    """A data set is not where it should be; the message says where and how to get it."""



def color_transfer_image(name: str) -> Path:
    """Path of a colour-transfer photo: ``name`` itself if it is an existing file, else
    ``data_root()/color_transfer/name`` (the shipped ``china.jpg`` and ``flower.jpg``, see the
    README there).

    Raises:
        MissingDataError: neither exists.
    """
    direct = Path(name)
    if direct.is_file():
        return direct
    path = data_root() / "color_transfer" / name
    if not path.is_file():
        raise MissingDataError(
            f"colour-transfer image not found: {path} (nor {direct}). The repository ships "
            "china.jpg and flower.jpg in data/color_transfer/ (copies of scikit-learn's sample "
            "images: `python -c \"import sklearn.datasets as d, os; print(os.path.dirname(d.__file__))\"`"
            "/images/); or pass the path of any RGB photo.")
    return path
