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
