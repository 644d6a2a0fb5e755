"""src.fast.gemm: the kernels' matrix products on oneDNN or torch.mm give torch.mm's results."""
import warnings

import pytest
import torch

from src.fast import gemm
from src.icnn import DenseICNN, init_normal_
from src.w2gn import w2gn_losses


@pytest.fixture
def backend():
    """Restores the process-wide backend (and the probe's result) after a test."""
    saved = dict(gemm._state)
    yield
    gemm._state.clear()
    gemm._state.update(saved)


def _operands(g):
    """(a, b) pairs of large-enough products in the layouts the kernels use: contiguous,
    transposed, column blocks of wider tensors, transposed column blocks."""
    wide = torch.randn(300, 700, generator=g)
    z = torch.randn(300, 128, generator=g)
    V = torch.randn(96, 128, generator=g)
    return {
        "plain": (z, V.mT),
        "b transposed": (z, torch.randn(128, 96, generator=g)),
        "a column block": (wide[:, 200:328], V.mT),
        "a transposed": (z.mT, torch.randn(300, 64, generator=g)),
        "a transposed column block": (wide[:, 200:328].mT, z),  # ~1000× slow on oneDNN as it is: copied
        "b column block": (z, wide[:128, 10:74]),
    }


@pytest.mark.parametrize("name", ["plain", "b transposed", "a column block", "a transposed",
                                  "a transposed column block", "b column block"])
def test_products_equal_torch(name, backend):
    g = torch.Generator().manual_seed(0)
    a, b = _operands(g)[name]
    want = a @ b
    c = torch.randn(want.shape, generator=g)
    tol = dict(rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(gemm.mm(a, b), want, **tol)
    torch.testing.assert_close(gemm.addmm(c, a, b), c + want, **tol)
    torch.testing.assert_close(gemm.addmm(c, a, b, beta=0.3), 0.3 * c + want, **tol)
    # into a strided view, and accumulated into c itself
    big = torch.zeros(want.shape[0], want.shape[1] + 7)
    gemm.mm(a, b, out=big[:, 3:3 + want.shape[1]])
    torch.testing.assert_close(big[:, 3:3 + want.shape[1]], want, **tol)
    assert big[:, :3].abs().max() == 0 and big[:, 3 + want.shape[1]:].abs().max() == 0
    c2 = c.clone()
    r = gemm.addmm(c2, a, b, out=c2)
    assert r.data_ptr() == c2.data_ptr()
    torch.testing.assert_close(c2, c + want, **tol)
    torch.testing.assert_close(gemm.addmm(c.clone(), a, b, reuse=True), c + want, **tol)


def test_which_products_go_to_onednn(backend):
    if gemm.cpu_matmul() != "onednn":
        pytest.skip("oneDNN not usable in this torch build")
    g = torch.Generator().manual_seed(0)
    ops = _operands(g)
    for name, (a, b) in ops.items():
        a2, b2 = gemm._onednn_operands(a, b)
        # layouts oneDNN runs at speed are passed as they are; the others (measured ~1000× slower) as copies
        copied_a, copied_b = name == "a transposed column block", name == "b column block"
        assert (a2.data_ptr() != a.data_ptr()) == copied_a and (b2.data_ptr() != b.data_ptr()) == copied_b, name
        for t in (a2, b2):
            assert t.is_contiguous() or t.mT.is_contiguous() or (t is a2 and t.stride(1) == 1), name
    # small or thin products, other dtypes, batched products
    assert not gemm._use_onednn(torch.randn(64, 64), torch.randn(64, 64))         # 2**18 < 2**20
    assert not gemm._use_onednn(torch.randn(2, 1024), torch.randn(1024, 1280))    # 2 rows
    assert not gemm._use_onednn(torch.randn(1024, 1280), torch.randn(2, 1280).mT)  # 2 columns
    assert not gemm._use_onednn(*(t.double() for t in ops["plain"]))
    assert not gemm._use_onednn(torch.randn(2, 300, 128), torch.randn(2, 128, 96))
    with torch.enable_grad():  # recorded by autograd: torch's differentiable operator
        a = ops["plain"][0].clone().requires_grad_()
        assert not gemm._use_onednn(a, ops["plain"][1])
    with gemm.use_cpu_matmul("torch"):
        assert gemm.cpu_matmul() == "torch" and not gemm._use_onednn(*ops["plain"])
    assert gemm.cpu_matmul() == "onednn"  # restored after the block


def test_bad_backend_and_unusable_onednn(backend, monkeypatch):
    with pytest.raises(ValueError, match="one of"):
        gemm.set_cpu_matmul("blas")
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    gemm._state.update(requested="auto", on=None, usable=None)
    with pytest.warns(RuntimeWarning, match="oneDNN matrix products unavailable"):
        assert gemm.cpu_matmul() == "torch"
    a, b = torch.randn(300, 128), torch.randn(128, 96)
    torch.testing.assert_close(gemm.mm(a, b), a @ b)
    gemm._state.update(usable=None)
    with pytest.raises(RuntimeError, match="not usable here"):
        gemm.set_cpu_matmul("onednn")


def _nets(seed=0):
    torch.manual_seed(seed)
    nets = [init_normal_(DenseICNN(48, (128, 128, 64), rank=2, strong_convexity=0.05), 0.05) for _ in range(2)]
    for n in nets:
        n.convexify()
    return nets


def test_w2gn_objective_same_on_both_backends(backend):
    """The one-node W2GN objective (all DenseICNN kernels, dropout 0.03 with the masks drawn from
    the same seed in every run) gives the same loss and gradients whichever library multiplies
    (float32 rounding apart), measured against float64."""
    g = torch.Generator().manual_seed(1)
    X, Y = torch.randn(256, 48, generator=g), 1.5 * torch.randn(256, 48, generator=g)

    def run(mode, dtype):
        gemm.set_cpu_matmul(mode)
        D, C = (n.to(dtype) for n in _nets())
        loss = w2gn_losses(D, C, X.to(dtype), Y.to(dtype), 10.0, "both_sum", 1e-10)["loss"]
        loss.backward()
        return loss.item(), [p.grad.double() for n in (D, C) for p in n.parameters()]

    l64, g64 = run("torch", torch.float64)
    errors = {}
    for mode in ("torch", "auto"):
        loss, grads = run(mode, torch.float32)
        assert abs(loss - l64) <= 1e-5 * abs(l64), mode
        errors[mode] = max(((a - b).norm() / b.norm()).item() for a, b in zip(grads, g64))
    assert errors["auto"] <= 3 * errors["torch"] + 1e-6, errors


def test_push_same_on_both_backends(backend):
    D = _nets()[0].eval()  # no dropout: the two calls must see the same net
    x = torch.randn(512, 48)
    gemm.set_cpu_matmul("torch")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v0, p0 = D.value_and_push(x)
    gemm.set_cpu_matmul("auto")
    v1, p1 = D.value_and_push(x)
    torch.testing.assert_close(v1, v0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(p1, p0, rtol=1e-5, atol=1e-5)
