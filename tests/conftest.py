from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str):
    """Import a script of the repository (benchmarks/, scripts/) as a module."""
    from src.utils import load_file_module

    return load_file_module(ROOT / relative)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
