"""python -m src.experiments.run: an experiment trained by a script (one process, or under
torchrun), whose finished checkpoints the notebook's code then loads instead of retraining."""
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
OVERRIDES = {"dims": [2], "w2gn": {"iterations": 40, "batch_size": 64}, "pretrain": {"iterations": 50},
             "eval_every": 20, "n_eval": 256}


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("W2GN_")}
    return dict(env, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", W2GN_PROFILE="smoke")


def _evaluate_like_the_notebook(folder, monkeypatch):
    from src.configs import apply_overrides, get_config
    from src.experiments.gaussians import GaussiansConfig, run_gaussian_dim

    monkeypatch.setenv("W2GN_CHECKPOINT_DIR", str(folder))
    cfg = apply_overrides(get_config(GaussiansConfig, "smoke"), OVERRIDES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_gaussian_dim(2, cfg)
    assert any("nothing to train" in str(w.message) for w in caught), "the finished run was trained again"
    return result


@pytest.mark.parametrize("launcher", ["python", "torchrun"])
def test_the_script_trains_into_the_folder_the_notebook_then_loads(tmp_path, monkeypatch, launcher):
    folder = tmp_path / "ck"
    args = ["-m", "src.experiments.run", "gaussians", "--profile", "smoke", "--overrides", json.dumps(OVERRIDES),
            "--checkpoint-dir", str(folder)]
    if launcher == "python":
        cmd = [sys.executable, *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    proc = subprocess.run(cmd, cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"on {1 if launcher == 'python' else 2} process(es)" in proc.stdout and "D = 2: forward L2-UVP" in proc.stdout
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["GaussiansConfig_smoke_d2_40.pt", "GaussiansConfig_smoke_d2_pretrain.pt"]
    state = torch.load(folder / files[0], weights_only=True)
    assert state["iteration"] == 40 and state.get("world_size", 1) == (1 if launcher == "python" else 2)
    result = _evaluate_like_the_notebook(folder, monkeypatch)      # loads, evaluates, trains nothing
    printed = float(proc.stdout.split("forward L2-UVP ")[1].split(" %")[0])
    assert round(result.l2_uvp, 3) == printed


def test_bad_overrides_are_refused_clearly(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "src.experiments.run", "benchmark", "--overrides", "{nope"],
                          cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.startswith("error: --overrides is not a JSON object")
