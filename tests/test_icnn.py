import pytest
import torch

from src.icnn import ICNN, ConvICNN, ConvICNN128, DenseICNN, init_normal_


def wild_dense(dim=3, activation="celu", rank=2, dropout=0.0, sc=1e-3):
    net = DenseICNN(dim, [16, 12, 8], rank=rank, activation=activation, dropout=dropout, strong_convexity=sc)
    init_normal_(net, 2.0)  # wild weights, many negative before convexify
    net.convexify()
    return net.double()


@pytest.mark.parametrize("activation", ["celu", "softplus"])
def test_dense_convex_along_random_segments(activation):
    net = wild_dense(4, activation)
    a, b = torch.randn(200, 4, dtype=torch.float64) * 3, torch.randn(200, 4, dtype=torch.float64) * 3
    t = torch.rand(200, 1, dtype=torch.float64)
    lhs = net(t * a + (1 - t) * b)
    rhs = t * net(a) + (1 - t) * net(b)
    assert (lhs <= rhs + 1e-9 * (1 + rhs.abs())).all()


def test_convexify_makes_convex_from_non_convex():
    net = DenseICNN(2, [8, 8], rank=1, dropout=0.0).double()
    init_normal_(net, 3.0)
    for seq in net.convex_layers:  # make it clearly non-convex first
        seq[0].weight.data = -seq[0].weight.data.abs()
    net.convexify()
    assert all((seq[0].weight >= 0).all() for seq in net.convex_layers)
    assert (net.final_layer.weight >= 0).all()


@pytest.mark.parametrize("dim", [2, 3])
def test_hessian_psd(dim):
    net = wild_dense(dim)
    for x in torch.randn(10, dim, dtype=torch.float64) * 2:
        H = torch.autograd.functional.hessian(lambda v: net(v[None]).sum(), x)
        assert torch.linalg.eigvalsh((H + H.T) / 2).min() > -1e-8


@pytest.mark.parametrize("activation", ["celu", "softplus"])
def test_push_equals_autograd_and_finite_differences(activation):
    net = wild_dense(3, activation, rank=3)
    x = torch.randn(32, 3, dtype=torch.float64)
    g = net.push(x)
    torch.testing.assert_close(g, net.push_autograd(x), rtol=1e-7, atol=1e-8)
    eps = 1e-6
    fd = torch.stack([(net(x + eps * e) - net(x - eps * e))[:, 0] / (2 * eps) for e in torch.eye(3, dtype=torch.float64)], 1)
    torch.testing.assert_close(g, fd, rtol=1e-5, atol=1e-6)


def test_push_is_differentiable_in_weights_without_input_grad():
    net = wild_dense(3)
    x = torch.randn(8, 3, dtype=torch.float64)
    assert not x.requires_grad
    y = net.push(x)
    assert y.requires_grad
    (gw,) = torch.autograd.grad(y.pow(2).sum(), net.final_layer.weight)
    # compare with double backprop through autograd
    xg = x.clone().requires_grad_(True)
    (ya,) = torch.autograd.grad(net(xg).sum(), xg, create_graph=True)
    (gw_ref,) = torch.autograd.grad(ya.pow(2).sum(), net.final_layer.weight)
    torch.testing.assert_close(gw, gw_ref)


def test_push_nograd_batches_and_value_and_push():
    net = wild_dense(3)
    x = torch.randn(1000, 3, dtype=torch.float64)
    out = net.push_nograd(x, batch_size=97)
    assert not out.requires_grad
    torch.testing.assert_close(out, net.push(x).detach())
    v, g = net.value_and_push(x[:5])
    torch.testing.assert_close(v, net(x[:5]))
    torch.testing.assert_close(g, net.push(x[:5]))


def test_dropout_push_consistent_with_value_in_train_mode():
    net = wild_dense(3, dropout=0.3)
    net.train()
    x = torch.randn(16, 3, dtype=torch.float64)
    torch.manual_seed(1)
    v, g = net.value_and_push(x)
    torch.manual_seed(1)
    g_ref = net.push_autograd(x)  # same masks: same RNG draws in the same order
    torch.testing.assert_close(g, g_ref)
    net.eval()
    torch.testing.assert_close(net.push(x), net.push(x))


def reference_state_dict(dim, hidden, rank, prefix_zero=True):
    z = ".0" if prefix_zero else ""
    sd = {}
    for i, h in enumerate(hidden):
        sd[f"quadratic_layers.{i}{z}.quadratic_decomposed"] = torch.randn(dim, rank, h)
        sd[f"quadratic_layers.{i}{z}.weight"] = torch.randn(h, dim)
        sd[f"quadratic_layers.{i}{z}.bias"] = torch.randn(h)
    for i, (a, b) in enumerate(zip(hidden[:-1], hidden[1:])):
        sd[f"convex_layers.{i}{z}.weight"] = torch.rand(b, a)
    sd["final_layer.weight"] = torch.rand(1, hidden[-1])
    return sd


def manual_forward(sd, x, hidden, sc, z=".0"):
    def quad(i):
        A = sd[f"quadratic_layers.{i}{z}.quadratic_decomposed"]
        return (torch.einsum("ni,irj->nrj", x, A) ** 2).sum(1) + x @ sd[f"quadratic_layers.{i}{z}.weight"].T + sd[f"quadratic_layers.{i}{z}.bias"]

    out = quad(0)
    for i in range(1, len(hidden)):
        out = torch.celu(out @ sd[f"convex_layers.{i-1}{z}.weight"].T + quad(i))
    return out @ sd["final_layer.weight"].T + 0.5 * sc * (x ** 2).sum(1, keepdim=True)


@pytest.mark.parametrize("prefix_zero", [True, False])
def test_reference_layout_state_dict_loads(prefix_zero):
    hidden = [6, 5, 4]
    sd = reference_state_dict(3, hidden, 2, prefix_zero)
    net = DenseICNN(3, hidden, rank=2, dropout=0.0, strong_convexity=0.1)
    net.load_state_dict(sd)
    if prefix_zero:
        assert set(net.state_dict()) == set(sd)
    x = torch.randn(10, 3)
    sd0 = net.state_dict()
    torch.testing.assert_close(net(x), manual_forward(sd0, x, hidden, 0.1), rtol=1e-5, atol=1e-5)


def test_wrong_architecture_checkpoint_names_keys():
    net = DenseICNN(3, [6, 5, 4], rank=2)
    sd = reference_state_dict(3, [6, 5], 2)
    with pytest.raises(ValueError, match="missing keys.*quadratic_layers.2"):
        net.load_state_dict(sd)
    sd = reference_state_dict(3, [6, 5, 7], 2)
    with pytest.raises(ValueError, match=r"checkpoint \[7, 3\] vs model \[4, 3\]"):
        net.load_state_dict(sd)


def test_bad_input_dimension():
    net = DenseICNN(3, [4, 4])
    with pytest.raises(ValueError, match=r"expects inputs of shape \[N, 3\], got \[5, 2\]"):
        net.push(torch.randn(5, 2))
    with pytest.raises(ValueError, match="activation"):
        DenseICNN(3, activation="relu")


def test_conv_icnn_convex_and_push():
    net = ConvICNN(channels=1, image_size=16, width=4).double()
    init_normal_(net, 0.5)
    net.convexify()
    a, b = torch.randn(6, 1, 16, 16, dtype=torch.float64), torch.randn(6, 1, 16, 16, dtype=torch.float64)
    for t in (0.25, 0.5, 0.75):
        assert (net(t * a + (1 - t) * b) <= t * net(a) + (1 - t) * net(b) + 1e-9).all()
    g = net.push(a)
    assert g.shape == a.shape and g.requires_grad
    g2 = net.push_nograd(a, batch_size=4)
    torch.testing.assert_close(g.detach(), g2)
    with pytest.raises(ValueError, match="expects inputs"):
        net(torch.randn(2, 3, 16, 16, dtype=torch.float64))


def test_conv_icnn128_shapes():
    net = ConvICNN128(channels=3)
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net.convex) == 5 and net.convex[13].in_features == 128 * 16
    assert net(torch.randn(1, 3, 128, 128)).shape == (1,)


# ---------------------------------------------------------------------- every potential class

#: a factory of each potential class of src.icnn that defines its own ψ, ∇ψ or convexify: (net, inputs)
POTENTIALS = {
    DenseICNN: lambda: (DenseICNN(3, [8, 6, 5], rank=2, dropout=0.0, strong_convexity=1e-3), torch.randn(24, 3)),
    ConvICNN: lambda: (ConvICNN(channels=1, image_size=8, width=4), torch.randn(8, 1, 8, 8)),
}

#: the methods that make a class a potential of its own (a class defining none of them, like
#: ConvICNN128 — ConvICNN with fixed sizes — is tested through its parent)
OWN_METHODS = ("forward", "push", "value_and_push", "convexify")


def potential_classes() -> set:
    """The ICNN subclasses defined in src.icnn that define one of :data:`OWN_METHODS` themselves."""
    found, todo = set(), [ICNN]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__ == "src.icnn" and any(name in vars(sub) for name in OWN_METHODS):
                found.add(sub)
    return found


def test_every_potential_class_is_tested():
    """A potential class added to src.icnn must be added to ``POTENTIALS`` above (and so to the
    convexity and gradient test below)."""
    missing = potential_classes() - set(POTENTIALS)
    assert not missing, f"potential classes without an entry in tests/test_icnn.py::POTENTIALS: {missing}"


@pytest.mark.parametrize("cls", list(POTENTIALS), ids=lambda c: c.__name__)
def test_potential_is_convex_after_convexify_and_push_is_its_gradient(cls):
    """For wild weights made admissible by ``convexify``: ψ convex along random segments, ``push``
    of the input's shape and equal to ψ's directional derivatives (central differences)."""
    torch.manual_seed(3)
    net, x = POTENTIALS[cls]()
    net = init_normal_(net.double(), 0.5)
    net.convexify()
    x = x.double()

    def psi(v):
        return net(v).reshape(v.shape[0])

    b = torch.randn_like(x)
    t = torch.rand(x.shape[0], dtype=torch.float64)
    tb = t.reshape(-1, *[1] * (x.dim() - 1))
    with torch.no_grad():
        lhs, rhs = psi(tb * x + (1 - tb) * b), t * psi(x) + (1 - t) * psi(b)
    assert (lhs <= rhs + 1e-9 * (1 + rhs.abs())).all()
    g = net.push(x)
    assert g.shape == x.shape
    d, h = torch.randn_like(x), 1e-6
    with torch.no_grad():
        fd = (psi(x + h * d) - psi(x - h * d)) / (2 * h)
    torch.testing.assert_close((g * d).flatten(1).sum(1).detach(), fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kwargs, error, needle", [
    ({"hidden_layer_sizes": "64"}, TypeError, "hidden_layer_sizes"),       # not the widths [6, 4]
    ({"hidden_layer_sizes": 64}, TypeError, "hidden_layer_sizes"),
    ({"hidden_layer_sizes": [16.9]}, ValueError, "hidden_layer_sizes\\[0\\]"),  # not truncated to 16
    ({"hidden_layer_sizes": [16, True]}, TypeError, "hidden_layer_sizes\\[1\\]"),
    ({"hidden_layer_sizes": []}, ValueError, "non-empty"),
    ({"in_dim": 2.5}, ValueError, "in_dim"),
    ({"in_dim": "3"}, TypeError, "in_dim"),
    ({"rank": 0}, ValueError, "rank"),
    ({"rank": 1.5}, ValueError, "rank"),
    ({"strong_convexity": float("nan")}, ValueError, "strong_convexity must be finite"),
    ({"strong_convexity": float("inf")}, ValueError, "strong_convexity"),
    ({"strong_convexity": -1e-3}, ValueError, "strong_convexity"),
    ({"dropout": float("nan")}, ValueError, "dropout"),
    ({"dropout": 1.0}, ValueError, "dropout"),
    ({"dropout": "0.1"}, TypeError, "dropout"),
    ({"celu_alpha": float("inf")}, ValueError, "celu_alpha"),
    ({"celu_alpha": 0.0}, ValueError, "celu_alpha"),
])
def test_dense_icnn_refuses_bad_arguments(kwargs, error, needle):
    args = {"in_dim": 3, "hidden_layer_sizes": [8, 8], **kwargs}
    with pytest.raises(error, match=needle):
        DenseICNN(**args)


def test_dense_icnn_accepts_integer_like_arguments_unchanged():
    import numpy as np

    a = DenseICNN(np.int64(3), np.array([8, 4]), rank=np.int32(2), dropout=0, strong_convexity=0)
    b = DenseICNN(3, (8.0, 4), rank=2, dropout=0.0, strong_convexity=0.0)
    assert a.config() == b.config() == DenseICNN(3, [8, 4], rank=2, dropout=0.0, strong_convexity=0.0).config()
    assert type(a.in_dim) is int and all(type(h) is int for h in a.hidden_layer_sizes)


@pytest.mark.parametrize("kwargs, needle", [
    ({"channels": 0}, "channels"), ({"channels": 2.5}, "channels"), ({"image_size": 12}, "image_size"),
    ({"image_size": 16.5}, "image_size"), ({"width": 0}, "width"),
    ({"strong_convexity": float("nan")}, "strong_convexity"),
])
def test_conv_icnn_refuses_bad_arguments(kwargs, needle):
    with pytest.raises((TypeError, ValueError), match=needle):
        ConvICNN(**{"channels": 1, "image_size": 8, "width": 4, **kwargs})


def test_init_normal_refuses_a_nan_scale():
    with pytest.raises(ValueError, match="scale"):
        init_normal_(DenseICNN(2, [4]), float("nan"))
