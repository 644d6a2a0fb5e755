"""src.training: the settings of a run, progress bars, sample checks, the evaluation helpers."""
import io
import sys

import numpy as np
import pytest
import torch

from src.distributions import StandardNormalSampler
from src.icnn import DenseICNN
from src.training import (W2GNConfig, apply_map, estimate_samples, eval_mode, progress_bar, sample_checked,
                          scheduled_lr)


def test_config_round_trips_and_names_its_defaults():
    cfg = W2GNConfig(iterations=7, betas=[0.5, 0.9], checkpoint_path=None)
    assert cfg.betas == (0.5, 0.9) and W2GNConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.progress is None                       # bars where a person watches, by default


def test_progress_bar_modes(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())            # not a terminal
    quiet = progress_bar(range(3), None, total=3)
    assert not quiet.disable and quiet.mininterval == 60.0
    assert progress_bar(range(3), True, total=3).mininterval < 1
    assert progress_bar(range(3), False).disable


def test_sample_checked_names_the_role_and_the_problem():
    net = DenseICNN(2, [4])
    with pytest.raises(ValueError, match=r"input \(P\) sampler .* shape \[5, 3\], expected \[N, 2\]"):
        sample_checked(StandardNormalSampler(3, seed=0), 5, net, "input (P)")
    with pytest.raises(TypeError, match="float64 samples for a net with torch.float32"):
        sample_checked(StandardNormalSampler(2, dtype=torch.float64, seed=0), 5, net, "input (P)")
    assert sample_checked(StandardNormalSampler(2, seed=0), 5, net, "x").shape == (5, 2)


def test_eval_mode_and_estimate_samples_leave_things_as_they_were():
    a, b = DenseICNN(2, [4], dropout=0.1).train(), DenseICNN(2, [4], dropout=0.1).eval()
    with eval_mode(a, b):
        assert not a.training and not b.training
    assert a.training and not b.training
    s = StandardNormalSampler(2, seed=1)
    first = estimate_samples(s, 4, a)
    assert torch.equal(first, s.sample(4))                          # the sampler's state is put back
    arr = np.ones((3, 2))
    assert estimate_samples(arr, 99, a).shape == (3, 2)             # arrays: all their rows
    with pytest.raises(ValueError, match="n must be"):
        estimate_samples(s, 0, a)
    out = apply_map(a, arr, 2, grad=False)
    assert isinstance(out, np.ndarray) and out.shape == (3, 2) and a.training


def test_scheduled_lr_constant_and_warmup():
    assert scheduled_lr(1e-3, 5, 10) == 1e-3
    assert scheduled_lr(1e-3, 0, 10, "constant", warmup=2) == pytest.approx(5e-4)
