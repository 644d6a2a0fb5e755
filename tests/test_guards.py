"""Bad settings and inputs fail early with clear messages; the non-finite guard restores finite
weights; dropout draws never hang."""
import math
import signal

import pytest
import torch

from src.distributions import StandardNormalSampler
from src.fast.dropout import uniform_subset as _uniform_subset
from src.icnn import DenseICNN
from src.w2gn import NonFiniteLossError, W2GN, W2GNConfig, w2gn_losses


@pytest.mark.parametrize("field,value", [
    ("lr", math.inf), ("lr", math.nan), ("lr", 0.0), ("weight_decay", math.inf), ("weight_decay", -1.0),
    ("l1", math.nan), ("lambda_cycle", math.inf), ("batch_size", True), ("batch_size", 2.5), ("batch_size", 0),
    ("iterations", 10.0), ("iterations", -1), ("seed", 1.5), ("seed", True), ("log_every", False),
    ("checkpoint_every", 0), ("betas", (0.9, math.nan)), ("checkpoint_path", ""),
])
def test_config_rejects(field, value):
    with pytest.raises(ValueError, match=field):
        W2GNConfig(**{field: value})


def test_config_accepts_numpy_integers():
    import numpy as np

    cfg = W2GNConfig(batch_size=np.int64(8), seed=np.int32(3), iterations=np.int64(2))
    assert cfg.batch_size == 8 and type(cfg.batch_size) is int


def _trainer(**cfg):
    torch.manual_seed(0)
    D = DenseICNN(2, [8, 8])
    with torch.no_grad():
        D.final_layer.weight.fill_(2.0)  # |w| = 2: weight_decay·w overflows to inf for weight_decay 3e38
    return W2GN(D, DenseICNN(2, [8, 8]), W2GNConfig(progress=False, batch_size=32, **cfg))


def _weights(t):
    return [p.detach().clone() for p in t._params]


def test_update_that_breaks_the_weights_is_undone():
    """weight_decay 3e38 is finite, but its gradient term overflows: the update writes NaN."""
    t = _trainer()
    X, Y = torch.randn(32, 2), torch.randn(32, 2)
    t.step(X, Y)
    before = _weights(t)
    t.set_config(W2GNConfig(progress=False, batch_size=32, weight_decay=3e38))
    t.step(X, Y)
    assert not t._weights_finite()  # the broken update happened ...
    with pytest.raises(NonFiniteLossError, match="restored"):
        t.step(X, Y)               # ... and is detected at the next step
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(t)))


def test_fit_checks_the_final_weights():
    t = _trainer(weight_decay=3e38)
    with pytest.raises(NonFiniteLossError, match="end of training.*restored"):
        t.fit(StandardNormalSampler(2, seed=0), StandardNormalSampler(2, seed=1), iterations=1)
    assert t._weights_finite()


def test_nonfinite_loss_with_finite_weights_says_they_are_kept():
    t = _trainer()
    with pytest.raises(NonFiniteLossError, match="sampler returned non-finite"):
        t.step(torch.full((32, 2), math.nan), torch.randn(32, 2))
    assert t._weights_finite()


def test_clear_errors_for_bad_inputs():
    D = DenseICNN(2, [8])
    for x in (torch.randn(4, 2, dtype=torch.float64), torch.ones(4, 2, dtype=torch.int64)):
        with pytest.raises(TypeError, match="float32 weights"):
            D.push(x)
        with pytest.raises(TypeError, match="float32 weights"):
            D(x)
    with pytest.raises(ValueError, match="same shape"):
        W2GN(DenseICNN(2, [8]), DenseICNN(3, [8]), W2GNConfig())
    with pytest.raises(ValueError, match="non-empty"):
        w2gn_losses(D, DenseICNN(2, [8]), torch.randn(0, 2), torch.randn(4, 2), 1.0)
    t = _trainer()
    with pytest.raises(TypeError, match="dtype"):
        t.fit(StandardNormalSampler(2, seed=0, dtype=torch.float64), StandardNormalSampler(2, seed=1), iterations=1)


class _Timeout(Exception):
    pass


def _alarm(*_):
    raise _Timeout


@pytest.mark.parametrize("hidden,rate", [([64], 0.9), ([32, 32, 32], 0.4), ([16], 0.09), ([16, 16], 0.999)])
def test_dropout_draws_never_hang(hidden, rate):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)
    try:
        D = DenseICNN(2, hidden, dropout=rate).train()
        for n in (1, 2, 7):
            out = D.push(torch.randn(n, 2))
            assert out.shape == (n, 2) and torch.isfinite(out).all()
    except _Timeout:
        pytest.fail(f"DenseICNN(2, {hidden}, dropout={rate}).push hangs")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("rate,n", [(0.05, 1), (0.05, 8), (0.9, 1), (0.4, 64), (0.09, 1)])
def test_dropout_rate_is_exact(rate, n):
    """The fraction of dropped units matches the rate (sparse and dense draws alike)."""
    D = DenseICNN(2, [16, 16], dropout=rate).train()
    x = torch.randn(n, 2)
    dropped = total = 0
    for _ in range(4000 // n):
        masks = D._draw_masks(x)
        flat = torch.cat([m for pair in masks for m in pair if m is not None], dim=1)
        dropped += int((flat == 0).sum())
        total += flat.numel()
    sd = math.sqrt(rate * (1 - rate) / total)
    assert abs(dropped / total - rate) < 5 * sd


@pytest.mark.parametrize("n,k", [(10, 3), (10, 9), (6, 6), (5, 0)])
def test_uniform_subset_is_distinct_and_uniform(n, k):
    counts = torch.zeros(n)
    reps = 3000
    for _ in range(reps):
        idx = _uniform_subset(n, k)
        assert idx.numel() == k and len(set(idx.tolist())) == k and (idx >= 0).all() and (idx < n).all()
        counts[idx] += 1
    if 0 < k < n:
        p = k / n
        assert ((counts / reps - p).abs() < 5 * math.sqrt(p * (1 - p) / reps)).all()


def test_an_exploding_update_is_undone_when_the_next_loss_is_not_finite():
    """A huge lr makes the weights finite but useless (|w| ~ 1e6); the loss turns non-finite one
    step later. The guard restores the weights of the last step whose loss was finite."""
    torch.manual_seed(0)
    D, C = DenseICNN(2, [8, 8]), DenseICNN(2, [8, 8])
    t = W2GN(D, C, W2GNConfig(progress=False, batch_size=32, lr=1e-3))
    X, Y = torch.randn(32, 2), torch.randn(32, 2)
    t.step(X, Y)
    good = _weights(t)
    # the update of this step explodes the weights (finite), as lr = 1e30 does
    t.set_config(W2GNConfig(progress=False, batch_size=32, lr=1e30))
    t.step(X, Y)
    assert t._weights_finite() and max(p.abs().max().item() for p in t._params) > 1e6
    with pytest.raises(NonFiniteLossError, match="before the update of iteration 1 .* are restored"):
        for _ in range(5):
            t.step(X, Y)
    assert all(torch.equal(a, b) for a, b in zip(good, _weights(t)))
