"""scripts/device_check.py refuses clearly without CUDA (and writes nothing); its CPU dry run prepares the
fake data of its notebooks check."""
import os
import subprocess
import sys
from pathlib import Path

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


def test_conv_icnn_computes_the_map_without_tf32_on_cuda():
    import torch

    from src.icnn import ConvICNN128, DenseICNN, _CudnnTF32

    assert ConvICNN128.conv_tf32 is False and DenseICNN.conv_tf32 is None
    before = torch.backends.cudnn.allow_tf32
    with _CudnnTF32(not before):
        assert torch.backends.cudnn.allow_tf32 is (not before)
    assert torch.backends.cudnn.allow_tf32 is before
    with _CudnnTF32(None):
        assert torch.backends.cudnn.allow_tf32 is before


def test_dry_run_prepares_the_fake_data_from_any_folder(tmp_path):
    """The notebooks check imports tests/fake_data.py as a module (not by file path) and writes the
    fake real-format data, also when started outside the repository (--dry-run-on-cpu: the
    script's logic only, no notebook run)."""
    import json

    out = tmp_path / "record.json"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TMPDIR=str(tmp_path), PYTHONPATH="")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "device_check.py"), "--dry-run-on-cpu", "--only",
                           "notebooks", "--notebooks", "none", "--out", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check = json.loads(out.read_text())["checks"]["notebooks"]
    assert check["ok"] and check["runs"] == {}
    work = Path(check["work_folder"])
    assert work.parent == tmp_path
    assert (work / "fake_data" / "celeba" / "list_eval_partition.txt").is_file()
    assert (work / "fake_w2bench" / "Mix3toMix10" / "16_v1.pt").is_file()
