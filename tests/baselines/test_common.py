"""src.baselines.common: sample checks, the non-negative weights of ICNNs and their penalty, the
fitted-map object (batched push, the training loop's history / callback / NaN stop), seeding."""
import math

import numpy as np
import pytest
import torch

from src.baselines.common import (FittedMap, NonFiniteLossError, check_finite, negative_weight_penalty,
                                  nonnegative_weights, sample_checked, seed_once)
from src.icnn import ConvICNN, DenseICNN


class _Fixed:
    """A sampler that returns a given array-like, whatever ``n`` is."""

    def __init__(self, value):
        self.value = value

    def sample(self, n):
        return self.value


def test_sample_checked_passes_good_samples_and_names_the_problem():
    x = torch.randn(4, 3)
    assert sample_checked(_Fixed(x), 4, 3, "input (P)") is x
    assert sample_checked(_Fixed(x), 4, None, "input (P)") is x          # any dimension
    with pytest.raises(TypeError, match=r"input \(P\) sampler _Fixed.sample must return a torch.Tensor, got ndarray"):
        sample_checked(_Fixed(np.zeros((4, 3))), 4, 3, "input (P)")
    with pytest.raises(ValueError, match=r"shape \[4, 3\], expected \[4, 2\]"):
        sample_checked(_Fixed(x), 4, 2, "output (Q)")
    with pytest.raises(ValueError, match=r"shape \[4, 3\], expected \[5, D\]"):
        sample_checked(_Fixed(x), 5, None, "output (Q)")
    with pytest.raises(ValueError, match=r"expected \[12, 1\]"):
        sample_checked(_Fixed(torch.zeros(4, 3, 1)), 12, 1, "output (Q)")
    bad = x.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match="output \\(Q\\) sampler _Fixed returned non-finite samples"):
        sample_checked(_Fixed(bad), 4, 3, "output (Q)")


def test_nonnegative_weights_are_the_ones_convexify_clamps():
    net = DenseICNN(3, [8, 6, 4], rank=1)
    weights = nonnegative_weights(net)
    assert len(weights) == len(net.convex_layers) + 1 == 3       # z -> z layers (2) + the final layer
    assert weights[-1] is net.final_layer.weight
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(-1.0)
    net.convexify()
    assert all((w == 0).all() for w in weights)                   # exactly these were clamped
    others = [p for p in net.parameters() if all(p is not w for w in weights)]
    assert others and all((p == -1).all() for p in others)        # nothing else was touched
    conv = ConvICNN(3, 16, 4)
    assert [id(w) for w in nonnegative_weights(conv)] == [id(w) for w in conv.nonnegative_weights()]
    with pytest.raises(TypeError, match="Linear"):
        nonnegative_weights(torch.nn.Linear(2, 2))


def test_negative_weight_penalty():
    net = DenseICNN(2, [8, 8], rank=1)
    net.convexify()
    assert negative_weight_penalty(net).item() == 0.0
    with torch.no_grad():
        net.final_layer.weight.fill_(-1.0)
    assert negative_weight_penalty(net).item() == pytest.approx(8.0)
    net.convexify()
    assert negative_weight_penalty(net).item() == 0.0


def test_negative_weight_penalty_is_the_squared_negative_part_and_differentiable():
    net = DenseICNN(2, [3, 3], rank=1)
    w_conv, w_final = nonnegative_weights(net)
    with torch.no_grad():
        w_conv.copy_(torch.tensor([[-2.0, 1.0, 0.0], [0.5, -0.5, 3.0], [0.0, 0.0, 0.0]]))
        w_final.copy_(torch.tensor([[-1.0, 2.0, -3.0]]))
    pen = negative_weight_penalty(net)
    assert pen.item() == pytest.approx(4 + 0.25 + 1 + 9)
    pen.backward()
    # d/dw min(w, 0)² = 2·min(w, 0)
    torch.testing.assert_close(w_final.grad, torch.tensor([[-2.0, 0.0, -6.0]]))
    torch.testing.assert_close(w_conv.grad, 2 * w_conv.detach().clamp(max=0))


class _Doubler(FittedMap):
    dim = 2

    def __init__(self):
        super().__init__()
        self.calls = []

    def push(self, x):
        self.calls.append(x.shape[0])
        return 2 * x


def test_fitted_map_push_nograd_is_batched_without_a_graph():
    m = _Doubler()
    x = torch.randn(10, 2, requires_grad=True)
    out = m.push_nograd(x, batch_size=4)
    assert m.calls == [4, 4, 2]
    assert not out.requires_grad
    torch.testing.assert_close(out, 2 * x.detach())
    assert m.push_nograd(torch.zeros(0, 2)).shape == (0, 2)
    assert m.history == {} and m.iteration == 0 and m.train_time_s == 0.0


def test_calling_a_fitted_map_is_its_push():
    m = _Doubler()
    x = torch.randn(3, 2, requires_grad=True)
    out = m(x)                                                    # documented: __call__ = push
    assert out.requires_grad
    torch.testing.assert_close(out, 2 * x)


def test_loop_logs_every_n_steps_and_the_first_and_stops_on_callback_false():
    m = _Doubler()
    losses = iter([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.25])
    m._loop(7, "test", False, lambda: {"loss": next(losses)}, log_every=3, callback=None, phase="dual")
    assert m.iteration == 7
    assert m.history["iteration"] == [1, 3, 6] and m.history["loss"] == [5.0, 3.0, 0.5]
    assert m.history["phase"] == ["dual"] * 3
    assert m.history["time_s"] == sorted(m.history["time_s"]) and m.train_time_s >= m.history["time_s"][-1]
    # the iteration count goes on across calls; returning False from the callback ends the loop
    seen = []

    def callback(it, solver, logs):
        seen.append((it, logs["loss"]))
        return False if it >= 9 else None

    m._loop(10, "test", False, lambda: {"loss": 1.0}, log_every=3, callback=callback)
    assert seen == [(9, 1.0)] and m.iteration == 9
    assert m.history["iteration"] == [1, 3, 6, 9] and len(m.history["phase"]) == 3   # no phase given


def test_loop_stops_on_a_non_finite_loss_with_the_iteration():
    m = _Doubler()
    losses = iter([1.0, 1.0, math.nan])
    with pytest.raises(NonFiniteLossError, match="at iteration 3"):
        m._loop(5, "MM-x", False, lambda: {"loss": next(losses)}, log_every=1, callback=None)
    assert m.iteration == 3 and m.history["iteration"] == [1, 2] and m.train_time_s > 0


def test_check_finite_raises_before_a_step_only_on_nan_or_inf():
    check_finite(torch.tensor(1e30), "here", 0)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(NonFiniteLossError, match="here: loss is .* at iteration 5"):
            check_finite(torch.tensor(bad), "here", 4)


def test_seed_once_seeds_the_global_rng_the_first_time_only():
    class Obj:
        pass

    obj = Obj()
    seed_once(obj, 7)
    a = torch.rand(3)
    seed_once(obj, 7)                      # already seeded: no reseed, the stream goes on
    b = torch.rand(3)
    torch.manual_seed(7)
    assert torch.equal(torch.rand(3), a) and not torch.equal(a, b)
    other = Obj()
    state = torch.get_rng_state()
    seed_once(other, None)                 # None: leaves the RNG alone
    assert torch.equal(torch.get_rng_state(), state) and not hasattr(other, "_seeded")
