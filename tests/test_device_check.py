"""scripts/device_check.py refuses clearly without CUDA (and writes nothing)."""
import os
import subprocess
import sys

from conftest import ROOT


def test_device_check_without_cuda_exits_2_with_a_message(tmp_path):
    out = tmp_path / "device_check.json"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=str(ROOT))  # hides any GPU
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "device_check.py"), "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "no CUDA device is available" in proc.stderr
    assert "nothing was run or written" in proc.stderr
    assert not out.exists()
