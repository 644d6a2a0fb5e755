import importlib
import sys
from pathlib import Path

import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

# the repository's packages beside src (`scripts`, `benchmarks`) and the tests' helper modules
# (`fake_data`, `conftest`) import normally, whatever pytest's import mode and working directory
for _folder in (str(ROOT), str(TESTS)):
    if _folder not in sys.path:
        sys.path.insert(0, _folder)


def load_script(relative: str):
    """The module of a script of the repository, ``"benchmarks/step_speed.py"`` →
    ``benchmarks.step_speed`` (an ordinary import: ``from benchmarks import step_speed`` is the same)."""
    path = Path(relative)
    if path.suffix != ".py" or path.is_absolute():
        raise ValueError(f"expected a path like 'scripts/name.py' relative to the repository, got {relative!r}")
    return importlib.import_module(".".join(path.with_suffix("").parts))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
