"""src.layers: the activation registry (σ, σ', σ'' and the fast kernels' forms agree with each
other and with autograd, for every registered activation; an unknown name is a ValueError) and
the convex layers (convex in the input for any weights; every layer of the module is tested)."""
import inspect

import pytest
import torch
import torch.nn.functional as F

import src.layers as layers
from src.layers import ACTIVATIONS, ConvexQuadratic, ConvexQuadraticConv2d, activation, activation_grad, get_activation


def points(n=400):
    """Inputs on both sides of every bend, far out included (float64), none at a bend itself
    (CELU's at 0, F.softplus's switch to the identity at 20), where derivatives jump."""
    torch.manual_seed(0)
    x = torch.cat([torch.randn(n, dtype=torch.float64) * 4, torch.linspace(-40.25, 39.75, 81, dtype=torch.float64)])
    return x[(x.abs() > 1e-4) & ((x - 20).abs() > 1e-4)]


#: (name, alpha) pairs under test: every registered activation, at α = 1 and, if α is its parameter, others
CASES = [(name, alpha) for name, act in ACTIVATIONS.items() for alpha in ((1.0, 0.3, 2.5) if act.uses_alpha else (1.0,))]


@pytest.mark.parametrize("name,alpha", CASES)
def test_activation_derivatives_are_autograd_of_the_value(name, alpha):
    act = get_activation(name)
    assert act.name == name
    x = points().requires_grad_(True)
    value = act.value(x, alpha)
    (d1,) = torch.autograd.grad(value.sum(), x)
    grad = act.grad(x, alpha)
    # (torch's own CELU backward is float32-accurate only for α ≠ 1: ~5e-7 relative, in float64)
    torch.testing.assert_close(grad.detach(), d1, rtol=1e-6, atol=1e-9)
    with torch.no_grad():  # central differences: independent of any backward formula
        h = 1e-5
        fd = (act.value(x + h, alpha) - act.value(x - h, alpha)) / (2 * h)
    torch.testing.assert_close(grad.detach(), fd, rtol=1e-6, atol=1e-8)
    (d2,) = torch.autograd.grad(grad.sum(), x)  # σ' is differentiable (the readable ∇ψ is differentiated)
    torch.testing.assert_close(act.grad2(x, alpha).detach(), d2, rtol=1e-10, atol=1e-12)
    # convex and non-decreasing: what keeps the ICNNs convex
    assert (grad >= 0).all() and (act.grad2(x, alpha) >= 0).all()
    # the module-level helpers are the registry's
    torch.testing.assert_close(activation(name, x, alpha), value)
    torch.testing.assert_close(activation_grad(name, x, alpha), grad)


@pytest.mark.parametrize("name,alpha", CASES)
def test_activation_kernel_forms_agree_with_the_definitions(name, alpha):
    """``value_and_grad_`` (which may overwrite its input) and ``grad2_from_grad`` (σ'' from σ'
    alone), where given, are σ, σ' and σ''."""
    act = get_activation(name)
    if act.value_and_grad_ is None:
        assert act.grad2_from_grad is None, "give both kernel forms or neither"
        pytest.skip(f"{name} has no kernel forms (the fast path does not run it)")
    x = points()
    z, d1 = act.value_and_grad_(x.clone(), alpha)
    torch.testing.assert_close(z, act.value(x, alpha), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(d1, act.grad(x, alpha), rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(act.grad2_from_grad(d1, alpha), act.grad2(x, alpha), rtol=1e-10, atol=1e-13)
    with torch.no_grad():  # float32 too (the kernels' usual dtype): finite, close
        x32 = x.float() * 3
        z32, d32 = act.value_and_grad_(x32.clone(), alpha)
        assert torch.isfinite(z32).all() and torch.isfinite(d32).all()
        torch.testing.assert_close(d32, act.grad(x32, alpha), rtol=1e-5, atol=1e-6)


def test_unknown_activation_names_raise():
    x = torch.randn(3)
    for bad in ("relu", "CELU", "", None):
        with pytest.raises(ValueError, match="unknown activation"):
            get_activation(bad)
        with pytest.raises(ValueError, match="unknown activation"):
            activation(bad, x)
        with pytest.raises(ValueError, match="unknown activation"):
            activation_grad(bad, x)


# ---------------------------------------------------------------------- layers

#: a factory of each convex layer of src.layers (float64, random weights) and an input of it
LAYERS = {
    ConvexQuadratic: lambda: (ConvexQuadratic(4, 5, rank=3), torch.randn(64, 4)),
    ConvexQuadraticConv2d: lambda: (ConvexQuadraticConv2d(2, 3, kernel_size=3, rank=2), torch.randn(16, 2, 6, 6)),
}


def test_every_layer_of_the_module_is_tested():
    """A layer added to ``src.layers.__all__`` must be added to ``LAYERS`` above (and so to the
    convexity test below)."""
    modules = [getattr(layers, name) for name in layers.__all__]
    modules = {m for m in modules if inspect.isclass(m) and issubclass(m, torch.nn.Module)}
    assert modules == set(LAYERS), f"layers without a test in tests/test_layers.py::LAYERS: {modules - set(LAYERS)}"


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda c: c.__name__)
def test_layer_is_convex_in_its_input_for_any_weights(cls):
    torch.manual_seed(1)
    layer, x = LAYERS[cls]()
    layer = layer.double()
    with torch.no_grad():
        for p in layer.parameters():
            p.normal_(0.0, 2.0)  # signs of every kind: no clamping needed
        a, b = x.double() * 3, torch.randn_like(x, dtype=torch.float64) * 3
        t = torch.rand(a.shape[0], *[1] * (a.dim() - 1), dtype=torch.float64)
        lhs = layer(t * a + (1 - t) * b)
        rhs = t * layer(a) + (1 - t) * layer(b)
    assert (lhs <= rhs + 1e-9 * (1 + rhs.abs())).all()


def test_convex_quadratic_formula():
    layer = ConvexQuadratic(3, 4, rank=2).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    A = layer.quadratic_decomposed
    expected = torch.einsum("ni,irj->nrj", x, A).pow(2).sum(1) + x @ layer.weight.T + layer.bias
    torch.testing.assert_close(layer(x), expected)
    assert torch.isfinite(ConvexQuadratic(3, 4).bias).all()
    with pytest.raises(ValueError, match="positive sizes"):
        ConvexQuadratic(3, 0)


def test_convex_quadratic_conv2d_formula():
    torch.manual_seed(2)
    layer = ConvexQuadraticConv2d(2, 3, kernel_size=3, rank=2, stride=2, padding=1).double()
    x = torch.randn(4, 2, 7, 7, dtype=torch.float64)
    w = layer.quadratic.weight  # [rank·out, in, k, k]: the r-th factor of every output in rows r·out … (r+1)·out
    expected = sum(F.conv2d(x, w[3 * r:3 * (r + 1)], None, 2, 1) ** 2 for r in range(2)) + layer.linear(x)
    torch.testing.assert_close(layer(x), expected)


@pytest.mark.parametrize("args, kwargs, needle", [
    ((3, 4.5), {}, "out_features"), (("3", 4), {}, "in_features"), ((3, 4), {"rank": 0}, "positive sizes"),
    ((3, 4), {"rank": 2.2}, "rank"), ((3, 4), {"bias": "yes"}, "bias"), ((True, 4), {}, "in_features"),
])
def test_convex_quadratic_refuses_bad_arguments(args, kwargs, needle):
    with pytest.raises((TypeError, ValueError), match=needle):
        ConvexQuadratic(*args, **kwargs)


@pytest.mark.parametrize("kwargs, needle", [
    ({"kernel_size": 0}, "kernel_size"), ({"stride": 0}, "stride"), ({"padding": -1}, "padding"),
    ({"rank": 1.5}, "rank"), ({"out_channels": 0}, "out_channels"),
])
def test_convex_quadratic_conv2d_refuses_bad_arguments(kwargs, needle):
    with pytest.raises((TypeError, ValueError), match=needle):
        ConvexQuadraticConv2d(**{"in_channels": 2, "out_channels": 3, **kwargs})


def test_argument_checks():
    import numpy as np

    assert layers.check_integer(np.int64(5), "n") == 5 and layers.check_integer(16.0, "n") == 16
    for bad, error in (("64", TypeError), (16.9, ValueError), (True, TypeError), (None, TypeError),
                       (float("nan"), ValueError)):
        with pytest.raises(error, match="n must be an integer"):
            layers.check_integer(bad, "n")
    with pytest.raises(ValueError, match="n must be ≥ 1"):
        layers.check_integer(0, "n", 1)
    assert layers.check_real(np.float32(0.5), "x", 0, 1) == 0.5
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="x must be finite"):
            layers.check_real(bad, "x")
    with pytest.raises(ValueError, match="x must be > 0"):
        layers.check_real(0.0, "x", 0.0, min_open=True)
    with pytest.raises(TypeError, match="x must be a real number"):
        layers.check_real("1", "x")
