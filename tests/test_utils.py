"""src.utils: where results go (quick runs never into results/), paths as printed, experiment records."""
import json

import pytest
import torch

from src import utils
from src.utils import REPO_ROOT, ExperimentRecord, display_path, is_quick_run, results_dir, scratch_dir


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("W2GN_PROFILE", "W2GN_OVERRIDES", "W2GN_RESULTS_DIR", "W2GN_SCRATCH_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_results_go_to_results_for_full_runs_and_to_scratch_for_quick_ones(clean_env, tmp_path):
    assert results_dir("cpu") == results_dir("paper") == REPO_ROOT / "results"
    assert results_dir("smoke") == REPO_ROOT / "scratch" / "results" and is_quick_run("smoke")
    clean_env.setenv("W2GN_PROFILE", "smoke")
    assert is_quick_run() and results_dir() == REPO_ROOT / "scratch" / "results"
    clean_env.setenv("W2GN_PROFILE", "cpu")
    clean_env.setenv("W2GN_OVERRIDES", '{"seed": 3}')                   # an override is a quick run too
    assert is_quick_run("cpu") and results_dir("cpu") == REPO_ROOT / "scratch" / "results"
    clean_env.setenv("W2GN_SCRATCH_DIR", str(tmp_path / "s"))
    assert scratch_dir() == tmp_path / "s" and results_dir("cpu") == tmp_path / "s" / "results"
    clean_env.setenv("W2GN_RESULTS_DIR", str(tmp_path / "r"))          # named explicitly: used as named
    assert results_dir("smoke") == tmp_path / "r"


def test_display_path_is_relative_inside_the_repository():
    assert display_path(REPO_ROOT / "results" / "toy.json") == "results/toy.json"
    assert display_path(REPO_ROOT / "models" / ".." / "pics" / "a.png") == "pics/a.png"
    outside = display_path("/somewhere/else/x.pt")
    assert outside == "/somewhere/else/x.pt"


def test_experiment_record_prints_where_it_writes_and_records_relative_paths(clean_env, tmp_path, capsys):
    clean_env.setenv("W2GN_SCRATCH_DIR", str(tmp_path))
    rec = ExperimentRecord("probe", "smoke", "cpu", 0, data=f"files from {REPO_ROOT / 'data' / 'x'}")
    shown = capsys.readouterr().out
    assert "results:" in shown and "quick run" in shown and str(REPO_ROOT) not in shown
    record = rec.save({"a": torch.tensor(1.5), "b": 2}, weights=str(REPO_ROOT / ".venv" / "w.pt"))
    written = json.loads((tmp_path / "results" / "probe.json").read_text())
    assert written["wall_time_s"] == record["wall_time_s"] and written["metrics"] == {"a": 1.5, "b": 2}
    assert written["data"] == "files from data/x" and written["weights"] == ".venv/w.pt"
    assert written["profile"] == "smoke" and written["torch_threads"] == torch.get_num_threads()
    assert "wrote " in capsys.readouterr().out
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        rec.save({"bad": object()})


def test_ewma_and_seed():
    out = utils.ewma([1.0, 3.0, 3.0], alpha=0.5)
    assert out.tolist() == pytest.approx([1.0, 2.0, 2.5])
    utils.set_seed(4)
    a = torch.rand(3)
    utils.set_seed(4)
    assert torch.equal(a, torch.rand(3))
