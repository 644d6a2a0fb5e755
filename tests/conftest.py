import os
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("W2GN_SHARED", ROOT.parent / "shared"))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
