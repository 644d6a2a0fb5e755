"""src.checkpoint: checksummed files, the random states they carry, the checks of a resume."""
import random

import numpy as np
import pytest
import torch

from src.checkpoint import (CheckpointError, check_same_run, digest, global_rng_state, load_sampler_states,
                            read_checkpoint, sampler_states, set_global_rng_state, write_checkpoint)
from src.distributions import NormalSampler, StandardNormalSampler


def test_write_read_round_trip_and_a_changed_byte_is_caught(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "n": 3, "nested": {"b": [1, 2.5, "x"]}}
    path = tmp_path / "c.pt"
    write_checkpoint(path, state)
    back = read_checkpoint(path)
    assert torch.equal(back["w"], state["w"]) and back["nested"] == state["nested"] and back["n"] == 3
    raw = torch.load(path, weights_only=True)
    raw["w"][0, 0] = 99.0                                   # content changed, checksum kept
    torch.save(raw, path)
    with pytest.raises(CheckpointError):
        read_checkpoint(path)


def test_digest_sees_dtype_shape_values_and_order_of_lists():
    a = torch.zeros(4)
    assert digest({"a": a, "b": 1}) == digest({"b": 1, "a": a.clone()})      # dict order is irrelevant
    assert digest(a) != digest(a.double()) and digest(a) != digest(a.reshape(2, 2))
    assert digest([1, 2]) != digest([2, 1]) and digest([1, 2]) != digest((1, 2))


def test_global_rng_state_round_trip():
    state = global_rng_state()
    x = (torch.rand(2), np.random.rand(2), random.random())
    set_global_rng_state(state)
    y = (torch.rand(2), np.random.rand(2), random.random())
    assert torch.equal(x[0], y[0]) and np.array_equal(x[1], y[1]) and x[2] == y[2]


def test_sampler_states_resume_draws_and_refuse_another_sampler_class():
    s = StandardNormalSampler(2, seed=0)
    saved = sampler_states({"X": s})
    first = s.sample(3)
    load_sampler_states({"X": s}, saved)
    assert torch.equal(first, s.sample(3))
    with pytest.raises(CheckpointError, match="StandardNormalSampler sampler for X, now it is a NormalSampler"):
        load_sampler_states({"X": NormalSampler([0.0, 0.0], np.eye(2), seed=0)}, saved)


def test_check_same_run_names_the_differences():
    check_same_run("p.pt", {"lr": 1e-3, "seed": 0}, {"lr": 1e-3, "seed": 0}, "training run")
    with pytest.raises(CheckpointError, match=r"p.pt was written by a training run with other settings \(lr: "
                                              r"checkpoint 0.001 vs now 0.002\)"):
        check_same_run("p.pt", {"lr": 1e-3, "seed": 0}, {"lr": 2e-3, "seed": 0}, "training run")
