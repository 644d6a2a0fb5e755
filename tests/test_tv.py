"""src.tv: torchvision imports (with the CPU-torch shim where needed) in a fresh process and in
this one, and the pieces the library uses work."""
import subprocess
import sys
import textwrap

import torch

from conftest import ROOT

_FRESH = textwrap.dedent("""
    import sys, torch
    from src.tv import import_torchvision
    import src.tv as tv_module
    tv = import_torchvision()
    assert tv is sys.modules["torchvision"] and import_torchvision() is tv
    # the shim is defined only for CPU torch builds, and only when the plain import failed
    shim = tv_module._lib is not None
    assert not shim or torch.version.cuda is None
    assert hasattr(torch.ops.torchvision, "nms")
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).view(1, 2, 4, 4)
    y = tv.transforms.functional.hflip(x)
    assert torch.equal(y, x.flip(-1))
    print("ok", shim, tv.__version__)
""")


def test_fresh_process_imports_torchvision():
    proc = subprocess.run([sys.executable, "-c", _FRESH], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("ok ")


def test_import_torchvision_is_idempotent_here():
    from src.tv import import_torchvision

    tv = import_torchvision()
    assert import_torchvision() is tv
    T = tv.transforms
    img = torch.rand(3, 8, 6)
    out = T.Compose([T.CenterCrop(4), T.Resize(2, antialias=True)])(img)
    assert out.shape == (3, 2, 2)
    torch.testing.assert_close(T.CenterCrop(4)(img), img[:, 2:6, 1:5])
