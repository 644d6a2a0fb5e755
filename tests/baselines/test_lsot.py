"""src.baselines.lsot: LSOT fits a 2-D Gaussian problem (both regularisers); its dual objective,
plan density and barycentric loss against the formulas; config and input checks."""
import math

import pytest
import torch

from src.baselines.lsot import LSOT, MLP, LSOTConfig, fit_lsot
from src.distributions import StandardNormalSampler
from ._problem import evaluate_l2_uvp, problem_samplers

D = 2


def test_lsot_fits_2d_gaussian(problem):
    X, Y = problem_samplers(problem, seed=1)
    cfg = LSOTConfig(regularization="l2", epsilon=0.01, batch_size=128, iterations=250, map_iterations=250,
                     lr=3e-3, map_lr=3e-3, hidden_layer_sizes=[64, 64, 32], progress=False, seed=0)
    model = LSOT(D, cfg).fit(X, Y)
    uvp = evaluate_l2_uvp(model, problem, n=4096)
    assert uvp < 5.0, uvp                       # identity map: ≈ 90 %
    assert model.history["phase"][0] == "dual" and model.history["phase"][-1] == "map"
    assert model.push(torch.zeros(3, D)).shape == (3, D)


def test_lsot_entropic_variant_runs_and_improves(problem):
    # the entropic dual converges much more slowly than the L2 one (exp of the slack); a short
    # run must still raise the dual and beat the identity map (≈ 102 %) clearly
    X, Y = problem_samplers(problem, seed=2)
    cfg = LSOTConfig(regularization="entropy", epsilon=0.5, batch_size=128, iterations=300, lr=1e-2,
                     map_lr=3e-3, hidden_layer_sizes=[32, 32], progress=False)
    model = LSOT(D, cfg).fit(X, Y)
    uvp = evaluate_l2_uvp(model, problem, n=4096)
    assert math.isfinite(uvp) and uvp < 60.0, uvp
    duals = [d for d in model.history["dual"] if d == d]
    assert duals[-1] > duals[0] + 1.0
    H = model.plan_density(X.sample(64), Y.sample(64))
    assert (H >= 0).all() and torch.isfinite(H).all()


def test_bad_inputs_raise(problem):
    with pytest.raises(ValueError, match="regularization"):
        LSOTConfig(regularization="kl")
    X, _ = problem_samplers(problem, seed=0)
    model = LSOT(D, LSOTConfig(batch_size=16, iterations=1, map_iterations=1, progress=False))
    with pytest.raises(ValueError, match=r"expected \[16, 2\]"):
        model.fit(X, StandardNormalSampler(3, seed=0))


# ------------------------------------------------------------------ the objective, by hand
def _batch(seed=0, n=5, m=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, D, generator=g, dtype=torch.float64), torch.randn(m, D, generator=g, dtype=torch.float64)


def _slacks(model, X, Y):
    """u(x_i) + v(y_j) − ‖x_i − y_j‖², pair by pair (a plain loop)."""
    u, v = model.u(X)[:, 0], model.v(Y)[:, 0]
    t = torch.empty(len(X), len(Y), dtype=X.dtype)
    for i in range(len(X)):
        for j in range(len(Y)):
            t[i, j] = u[i] + v[j] - float(((X[i] - Y[j]) ** 2).sum())
    return u, v, t


@pytest.mark.parametrize("reg,eps", [("l2", 0.3), ("entropy", 0.7)])
def test_dual_objective_and_plan_density_match_the_formulas(reg, eps):
    model = LSOT(D, LSOTConfig(regularization=reg, epsilon=eps, hidden_layer_sizes=[8], progress=False),
                 dtype=torch.float64)
    X, Y = _batch()
    with torch.no_grad():
        out = model.dual_objective(X, Y)
        u, v, t = _slacks(model, X, Y)
    F = (lambda s: eps * torch.exp(s / eps)) if reg == "entropy" else (lambda s: torch.relu(s) ** 2 / (4 * eps))
    reg_value = F(t).mean()
    torch.testing.assert_close(out["reg"], reg_value)
    torch.testing.assert_close(out["dual"], u.mean() + v.mean() - reg_value)
    torch.testing.assert_close(out["loss"], -out["dual"])
    # the plan density is F_ε'(slack): compare with autograd's derivative of F_ε
    s = t.clone().requires_grad_(True)
    (dF,) = torch.autograd.grad(F(s).sum(), s)
    H = model.plan_density(X, Y)
    assert H.shape == (5, 4) and not H.requires_grad
    torch.testing.assert_close(H, dF)


def test_map_loss_is_the_plan_weighted_squared_error():
    model = LSOT(D, LSOTConfig(regularization="l2", epsilon=10.0, hidden_layer_sizes=[8], normalize_plan=False,
                               progress=False), dtype=torch.float64)
    with torch.no_grad():
        model.u[-1].bias.fill_(4.0)             # raise u: positive slack, mass on most pairs of the batch
    X, Y = _batch(1)
    H = model.plan_density(X, Y)
    assert (H > 0).float().mean() > 0.5 and (H == 0).any()   # the L2 plan is sparse: some pairs get none
    fx = model.f(X).detach()
    expected = sum(H[i, j] * ((fx[i] - Y[j]) ** 2).sum() for i in range(5) for j in range(4)) / 20
    out = model.map_loss(X, Y)
    torch.testing.assert_close(out["loss"].detach(), expected)
    torch.testing.assert_close(out["plan_mass"], H.mean())
    model.config.normalize_plan = True          # a change of scale only: divided by the mean mass
    torch.testing.assert_close(model.map_loss(X, Y)["loss"].detach(), expected / H.mean())
    # the loss trains f only: gradients reach f, never the potentials
    model.map_loss(X, Y)["loss"].backward()
    assert all(p.grad is not None for p in model.f.parameters())
    assert all(p.grad is None for p in [*model.u.parameters(), *model.v.parameters()])


# ------------------------------------------------------------------ structure, config, errors
def test_mlp_layers_and_default_widths():
    mlp = MLP(3, [5, 7], 2)
    linears = [m for m in mlp if isinstance(m, torch.nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(3, 5), (5, 7), (7, 2)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in mlp) == 2 and isinstance(mlp[-1], torch.nn.Linear)
    model = LSOT(200, LSOTConfig(progress=False))
    widths = [m.out_features for m in model.u if isinstance(m, torch.nn.Linear)]
    assert widths == [200, 200, 200, 1]         # [max(128, D), max(128, D), max(64, D)] then the output
    assert [m.out_features for m in model.f if isinstance(m, torch.nn.Linear)][-1] == 200


@pytest.mark.parametrize("kwargs,match", [
    (dict(epsilon=0.0), "epsilon"), (dict(epsilon=math.inf), "epsilon"), (dict(batch_size=0), "batch_size"),
    (dict(batch_size=2.5), "batch_size"), (dict(iterations=-1), "iterations"), (dict(log_every=0), "log_every"),
    (dict(lr=0.0), "lr"), (dict(map_lr=-1e-3), "map_lr"),
])
def test_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LSOTConfig(**kwargs)


def test_config_normalises_betas_and_to_dict():
    cfg = LSOTConfig(betas=[0.5, 0.9], iterations=0)
    assert cfg.betas == (0.5, 0.9) and cfg.to_dict()["betas"] == (0.5, 0.9) and cfg.to_dict()["iterations"] == 0


def test_push_checks_shape_and_seed_fixes_the_init():
    with pytest.raises(ValueError, match="dim"):
        LSOT(0, LSOTConfig())
    a, b = LSOT(D, LSOTConfig(seed=3)), LSOT(D, LSOTConfig(seed=3))
    x = torch.randn(6, D)
    torch.testing.assert_close(a.push(x), b.push(x))
    assert not torch.equal(LSOT(D, LSOTConfig(seed=4)).push(x), a.push(x))
    with pytest.raises(ValueError, match=r"LSOT.push expects inputs of shape \[N, 2\], got \[6, 3\]"):
        a.push(torch.zeros(6, 3))


def test_fit_runs_both_stages_and_state_dict_restores_the_map():
    cfg = LSOTConfig(batch_size=8, iterations=4, map_iterations=None, log_every=2, hidden_layer_sizes=[8],
                     progress=False)
    model = fit_lsot(StandardNormalSampler(D, seed=0), StandardNormalSampler(D, seed=1), D, cfg)
    # map_iterations=None: the map stage is as long as the dual stage; logged at 1 and every 2 steps
    assert model.iteration == 8
    assert model.history["iteration"] == [1, 2, 4, 6, 8]
    assert model.history["phase"] == ["dual", "dual", "dual", "map", "map"]
    state = model.state_dict()
    assert state["dim"] == D and state["iteration"] == 8 and state["config"]["batch_size"] == 8
    fresh = LSOT(D, LSOTConfig(hidden_layer_sizes=[8], seed=99, progress=False))
    fresh.f.load_state_dict(state["f"])
    x = torch.randn(5, D)
    torch.testing.assert_close(fresh.push(x), model.push(x))
    # a callback returning False ends the stage it is called in
    stopped = LSOT(D, cfg).fit(StandardNormalSampler(D, seed=0), StandardNormalSampler(D, seed=1),
                               callback=lambda it, solver, logs: False)
    assert stopped.history["iteration"] == [1, 2] and stopped.history["phase"] == ["dual", "map"]
