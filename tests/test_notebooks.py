"""Every notebook runs top to bottom in the `smoke` profile, and the committed notebooks are clean."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_is_clean(path):
    nb = json.loads(path.read_text())
    code = _code_cells(nb)
    assert code, "no code cells"
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), f"execution counts {counts} are not 1..{len(code)}"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"error outputs: {[e.get('ename') for e in errors]}"
    text = json.dumps(nb)
    assert "profile:" in text, "the preserved outputs do not say which profile produced them"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile(path, tmp_path, monkeypatch):
    monkeypatch.setenv("W2GN_PROFILE", "smoke")
    monkeypatch.setenv("W2GN_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("W2GN_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    results = list((tmp_path / "results").glob("*.json"))
    assert results, "the notebook wrote no results/<experiment>.json"
    for r in results:
        record = json.loads(r.read_text())
        assert record["profile"] == "smoke"
        assert {"experiment", "device", "torch", "seed", "data", "wall_time_s", "cpu_time_s", "metrics"} <= set(record)
        if record["experiment"] == "toy":  # every training seed of the 100-Gaussian run is reported
            m = record["metrics"]["100g"]
            seeds = m["seeds"]
            assert [s["seed"] for s in seeds] == [0, 1, 2]
            assert all({"seed", "modes_covered", "weakest_share", "mass_in_modes"} <= set(s) for s in seeds)
            assert seeds[0]["weakest_share"] == m["weakest_share"] and seeds[0]["modes_covered"] == m["modes_covered"]


_MACHINE_PATH = re.compile(r"(?<![\w.~])/(?:home|root|work|tmp|Users|opt|usr|mnt|var)/[\w.\-/]+")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_names_no_folder_of_the_machine_it_ran_on(path):
    """Paths in the preserved outputs are relative to the repository (src.utils.display_path)."""
    nb = json.loads(path.read_text())
    texts = ["".join(o.get("text", "")) + json.dumps(o.get("data", {}).get("text/plain", ""))
             for c in _code_cells(nb) for o in c.get("outputs", [])]
    found = sorted({m for t in texts for m in _MACHINE_PATH.findall(t)})
    assert not found, f"absolute paths in the outputs: {found[:5]}"


def test_a_quick_run_leaves_notebooks_results_and_figures_alone(tmp_path):
    """run_notebooks.py in the smoke profile executes a copy into the scratch folder, writes the
    results there and draws no figures; the notebook itself is left byte for byte."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "from src.utils import ExperimentRecord\n"
        "rec = ExperimentRecord('probe', 'smoke', 'cpu', 0, data='none')\n"
        "rec.save({'x': 1})")]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    before = path.read_bytes()
    env = {k: v for k, v in os.environ.items() if k not in ("W2GN_RESULTS_DIR", "W2GN_OVERRIDES")}
    env.update(W2GN_PROFILE="smoke", W2GN_SCRATCH_DIR=str(tmp_path / "scratch"), PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), str(path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert path.read_bytes() == before
    copy = nbformat.read(tmp_path / "scratch" / "notebooks" / "probe.ipynb", as_version=4)
    shown = "".join(o.get("text", "") for o in copy.cells[0].outputs)
    assert "results:" in shown and "quick run" in shown
    assert json.loads((tmp_path / "scratch" / "results" / "probe.json").read_text())["metrics"] == {"x": 1}
    assert not (ROOT / "results" / "probe.json").exists()
    assert "pics/ and poster/ not regenerated" in proc.stdout
