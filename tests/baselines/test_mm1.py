"""src.baselines.mm1: MM-1 fits a 2-D Gaussian problem; the batched conjugate solver (L-BFGS and
Adam) against an ICNN and against a quadratic's closed form; the warm-start pool; config checks."""
import pytest
import torch

from src.baselines.mm1 import MM1, MM1Config, fit_mm1, solve_conjugate
from src.distributions import StandardNormalSampler
from src.icnn import DenseICNN

from ._problem import evaluate_l2_uvp, problem_samplers

D = 2


def test_mm1_fits_2d_gaussian(problem, pretrained):
    X, Y = problem_samplers(problem, seed=3)
    model = MM1(pretrained(), MM1Config(batch_size=128, lr=1e-3, iterations=250, progress=False))
    model.fit(X, Y)
    uvp = evaluate_l2_uvp(model, problem, n=4096)
    assert uvp < 2.0, uvp
    assert max(model.history["inner_grad"][-3:]) < 1e-2   # inner problems actually solved


@pytest.mark.parametrize("solver", ["lbfgs", "adam"])
def test_solve_conjugate_inverts_the_gradient(solver):
    torch.manual_seed(0)
    psi = DenseICNN(3, [16, 16], rank=2, dropout=0.0, strong_convexity=0.5)
    psi.convexify()
    y = torch.randn(64, 3)
    iters = 50 if solver == "lbfgs" else 2000
    x, info = solve_conjugate(psi, y, solver=solver, iterations=iters, tol=1e-4, lr=2e-2)
    with torch.no_grad():
        assert (psi.push(x) - y).norm(dim=1).max() < 1e-3
        # x* maximises <x, y> − ψ(x): no random perturbation does better
        obj = lambda z: (z * y).sum(1) - psi(z)[:, 0]
        assert (obj(x + 0.05 * torch.randn_like(x)) <= obj(x) + 1e-5).all()
    assert info["grad_norm"] < 1e-3


def test_config_rejects_an_unknown_inner_solver():
    with pytest.raises(ValueError, match="inner_solver"):
        MM1Config(inner_solver="newton")


class _Quadratic:
    """ψ(x) = ½ xᵀAx (A symmetric positive definite): x*(y) = A⁻¹y in closed form."""

    def __init__(self, A):
        self.A = A

    def value_and_push(self, x):
        g = x @ self.A
        return 0.5 * (g * x).sum(1, keepdim=True), g


@pytest.mark.parametrize("solver,iterations", [("lbfgs", 40), ("adam", 3000)])
def test_solve_conjugate_of_a_quadratic_is_the_linear_solve(solver, iterations):
    g = torch.Generator().manual_seed(1)
    Q, _ = torch.linalg.qr(torch.randn(4, 4, generator=g, dtype=torch.float64))
    A = Q @ torch.diag(torch.tensor([0.5, 1.0, 2.0, 5.0], dtype=torch.float64)) @ Q.T   # condition number 10
    y = torch.randn(32, 4, generator=g, dtype=torch.float64)
    x, info = solve_conjugate(_Quadratic(A), y, solver=solver, iterations=iterations, tol=1e-8, lr=0.05)
    exact = torch.linalg.solve(A, y.T).T
    torch.testing.assert_close(x, exact, atol=1e-6, rtol=0)
    assert info["grad_norm"] < 1e-6 and info["grad_norm_mean"] <= info["grad_norm"]
    assert 0 < info["iterations"] < iterations                   # stopped at the tolerance, not the cap
    # started at the solution: no step at all, the start is returned (as a copy)
    x0 = exact.clone()
    again, info = solve_conjugate(_Quadratic(A), y, x0=x0, solver=solver, iterations=5, tol=1e-6)
    assert info["iterations"] == 0 and torch.equal(again, exact) and again is not x0
    with pytest.raises(ValueError, match="solver"):
        solve_conjugate(_Quadratic(A), y, solver="newton")


class _Counting:
    """A sampler that records the sizes it is asked for."""

    def __init__(self, seed):
        self.inner, self.sizes = StandardNormalSampler(D, seed=seed), []

    def sample(self, n):
        self.sizes.append(n)
        return self.inner.sample(n)


def _icnn(seed=0):
    torch.manual_seed(seed)
    net = DenseICNN(D, [8, 8], dropout=0.0, strong_convexity=1.0)
    net.convexify()
    return net


def test_warm_start_pool_replaces_a_fraction_of_a_batch_each_step():
    X, Y = _Counting(0), _Counting(1)
    cfg = MM1Config(batch_size=8, iterations=3, pool_batches=2, fresh_fraction=0.5, lr=1e-4, log_every=1,
                    progress=False)
    model = fit_mm1(_icnn(), X, Y, cfg)
    assert X.sizes == [8, 8, 8]
    assert Y.sizes == [16, 4, 4]                # the pool (2 batches), then half a batch of new samples a step
    assert model._pool_y.shape == model._pool_x.shape == (16, D)
    assert not torch.equal(model._pool_x, model._pool_y)           # solutions x* kept for the next starts
    assert model.history["iteration"] == [1, 2, 3]
    for key in ("loss", "w2", "inner_iterations", "inner_grad", "inner_grad_mean"):
        assert len(model.history[key]) == 3
    # without a pool every step draws a fresh batch, started at x = y
    X, Y = _Counting(0), _Counting(1)
    model = MM1(_icnn(), MM1Config(batch_size=8, iterations=2, pool_batches=0, progress=False)).fit(X, Y)
    assert Y.sizes == [8, 8] and model._pool_y is None


def test_fit_trains_psi_and_keeps_it_convex_and_inverse_inverts_push():
    net = _icnn()
    before = [p.detach().clone() for p in net.parameters()]
    model = MM1(net, MM1Config(batch_size=16, iterations=3, lr=1e-2, progress=False))
    model.fit(StandardNormalSampler(D, seed=0), StandardNormalSampler(D, seed=1), iterations=2)
    assert model.iteration == 2                                   # the iterations argument wins
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert all((w >= 0).all() for w in [net.final_layer.weight] + [s[0].weight for s in net.convex_layers])
    y = torch.randn(10, D)
    with torch.no_grad():
        torch.testing.assert_close(model.push(model.inverse(y, tol=1e-6)), y, atol=1e-5, rtol=0)


@pytest.mark.parametrize("kwargs", [
    dict(batch_size=0), dict(history_size=0), dict(log_every=0), dict(iterations=-1), dict(inner_iterations=0),
    dict(pool_batches=-1), dict(fresh_fraction=0.0), dict(fresh_fraction=1.5), dict(lr=0.0), dict(inner_lr=0.0),
    dict(inner_tol=-1.0),
])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        MM1Config(**kwargs)
    assert MM1Config(betas=[0.5, 0.9]).betas == (0.5, 0.9) and MM1Config().to_dict()["inner_solver"] == "lbfgs"
