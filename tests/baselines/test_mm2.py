"""src.baselines.mm2: MM-2 fits a 2-D Gaussian problem; each half-step moves only its own network,
against the objective written out; sampling per outer step; config checks."""
import pytest
import torch

from src.baselines.common import negative_weight_penalty
from src.baselines.mm2 import MM2, MM2Config, fit_mm2
from src.distributions import StandardNormalSampler
from src.icnn import DenseICNN

from ._problem import evaluate_l2_uvp, problem_samplers

D = 2


def test_mm2_fits_2d_gaussian(problem, pretrained):
    X, Y = problem_samplers(problem, seed=4)
    f, g = pretrained(), pretrained()
    model = MM2(f, g, MM2Config(batch_size=128, lr=3e-3, iterations=150, inner_iterations=3, progress=False))
    model.fit(X, Y)
    uvp = evaluate_l2_uvp(model, problem, n=4096)
    assert uvp < 3.0, uvp
    # ∇g inverts ∇f on Q's samples after the game
    y = Y.sample(1024)
    with torch.no_grad():
        err = ((model.push(model.inverse(y)) - y) ** 2).sum(1).mean() / problem.var_y
    assert err < 0.05, err


def _pair(seed=0):
    torch.manual_seed(seed)
    f = DenseICNN(D, [8, 8], dropout=0.0, strong_convexity=1.0)
    g = DenseICNN(D, [8, 8], dropout=0.0, strong_convexity=1.0)
    f.convexify()
    with torch.no_grad():                        # g with some negative weights, which MM-2 only penalises
        g.final_layer.weight.sub_(1.0)
    return f, g


def _copy(net):
    return [p.detach().clone() for p in net.parameters()]


def _same(net, params):
    return all(torch.equal(a, b) for a, b in zip(net.parameters(), params))


def test_g_step_moves_only_g_and_reports_the_objective():
    f, g = _pair()
    model = MM2(f, g, MM2Config(lr=1e-2, neg_penalty=0.5, progress=False))
    Y = torch.randn(16, D)
    with torch.no_grad():
        inv = g.push(Y)
        value = ((inv * Y).sum(1) - f(inv)[:, 0]).mean()      # <∇g(y), y> − f(∇g(y))
        penalty = negative_weight_penalty(g)
    f0, g0 = _copy(f), _copy(g)
    logs = model.g_step(Y)
    assert logs["g_objective"] == pytest.approx(value.item(), rel=1e-5)
    assert logs["neg_penalty"] == pytest.approx(penalty.item(), rel=1e-6) and penalty > 0
    assert _same(f, f0) and not _same(g, g0)
    assert (g.final_layer.weight < 0).any()                     # g is never clamped


def test_f_step_moves_only_f_then_convexifies_and_reports_w2():
    f, g = _pair()
    with torch.no_grad():
        f.convex_layers[0][0].weight.fill_(1e-4)                 # small: Adam's first step (±lr) pushes some below 0
    model = MM2(f, g, MM2Config(lr=0.5, progress=False))
    X, Y = torch.randn(16, D), torch.randn(16, D)
    with torch.no_grad():
        inv = g.push(Y)
        corr = f(X).mean() + (inv * Y).sum(1).mean() - f(inv).mean()
        w2 = 0.5 * ((X * X).sum(1).mean() + (Y * Y).sum(1).mean()) - corr
        loss = f(X).mean() - f(inv).mean()
    f0, g0 = _copy(f), _copy(g)
    logs = model.f_step(X, Y)
    assert logs["loss"] == pytest.approx(loss.item(), rel=1e-5)
    assert logs["w2"] == pytest.approx(w2.item(), rel=1e-5)
    assert _same(g, g0) and not _same(f, f0)
    assert (f.final_layer.weight >= 0).all() and all((s[0].weight >= 0).all() for s in f.convex_layers)
    assert (f.convex_layers[0][0].weight == 0).any()            # ... and convexify clamped them to 0


class _Counting:
    def __init__(self, seed):
        self.inner, self.sizes = StandardNormalSampler(D, seed=seed), []

    def sample(self, n):
        self.sizes.append(n)
        return self.inner.sample(n)


def test_fit_draws_inner_batches_and_restores_f_gradients():
    f, g = _pair()
    X, Y = _Counting(0), _Counting(1)
    model = fit_mm2(f, g, X, Y, MM2Config(batch_size=8, iterations=2, inner_iterations=3, log_every=1,
                                          progress=False))
    assert X.sizes == [8, 8]
    assert Y.sizes == [8] * 8                   # per outer step: 3 batches for g, 1 for f
    assert all(p.requires_grad for p in f.parameters())       # frozen during the g steps only
    assert model.history["iteration"] == [1, 2]
    assert set(model.history) >= {"loss", "w2", "g_objective", "neg_penalty", "time_s"}
    y = torch.randn(4, D)
    torch.testing.assert_close(model.inverse(y), g.push(y))
    torch.testing.assert_close(model.push(y), f.push(y))


def test_learning_rates_of_the_two_optimisers():
    f, g = _pair()
    assert MM2(f, g, MM2Config(lr=1e-3)).opt_g.param_groups[0]["lr"] == 1e-3       # conj_lr=None: lr
    both = MM2(f, g, MM2Config(lr=1e-3, conj_lr=5e-2, betas=[0.9, 0.9]))
    assert both.opt_g.param_groups[0]["lr"] == 5e-2 and both.opt_f.param_groups[0]["lr"] == 1e-3
    assert both.opt_f.param_groups[0]["betas"] == (0.9, 0.9) and both.config.to_dict()["betas"] == (0.9, 0.9)


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch_size"), (dict(log_every=0), "log_every"),
    (dict(inner_iterations=0), "inner_iterations"), (dict(iterations=-1), "iterations"),
    (dict(lr=0.0), "lr"), (dict(conj_lr=-1.0), "conj_lr"), (dict(neg_penalty=-0.1), "neg_penalty"),
])
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MM2Config(**kwargs)
