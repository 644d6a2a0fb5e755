"""The hand-written backward pass of DenseICNN (value_and_push / push) and the speed benchmark's
reference pattern agree with plain autograd."""
import pytest
import torch

from conftest import load_script
from src.icnn import DenseICNN, init_normal_


def net_of(hidden, rank, activation, dropout=0.0, sc=1e-2, dim=3, scale=1.0):
    net = DenseICNN(dim, hidden, rank=rank, activation=activation, dropout=dropout, strong_convexity=sc).double()
    init_normal_(net, scale)
    net.convexify()
    return net


def grads_of(loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True)


@pytest.mark.parametrize("activation", ["celu", "softplus"])
@pytest.mark.parametrize("hidden,rank", [([16, 12, 8], 2), ([7], 1), ([5, 6], 3)])
@pytest.mark.parametrize("value_input_grad", [True, False])
@pytest.mark.parametrize("need_push", [True, False])
def test_hand_written_backward_equals_autograd(activation, hidden, rank, value_input_grad, need_push):
    torch.manual_seed(0)
    net = net_of(hidden, rank, activation)
    x = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    a, b = torch.randn(9, 1, dtype=torch.float64), torch.randn(9, 3, dtype=torch.float64)
    params = [*net.parameters(), x]

    def loss_of(v, p):
        return (v * a).sum() + ((p * b).sum() + (p ** 2).sum() if need_push else 0.0)

    v, p = net._value_and_push(x, value_input_grad=value_input_grad, need_push=need_push)
    assert (p is None) == (not need_push)
    # reference: the closed-form push with ordinary autograd ops; value at x or at x.detach()
    v_ref, p_ref = net._run(x, need_grad=True)
    if not value_input_grad:
        v_ref = net._run(x.detach(), need_grad=False)[0]
    torch.testing.assert_close(v, v_ref)
    if need_push:
        torch.testing.assert_close(p, p_ref)
    for g, g_ref, t in zip(grads_of(loss_of(v, p), params), grads_of(loss_of(v_ref, p_ref), params), params):
        zero = torch.zeros_like(t)  # no dependence: autograd says None, the hand-written pass zeros
        torch.testing.assert_close(zero if g is None else g, zero if g_ref is None else g_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dropout,kind", [(0.3, "dense"), (0.05, "sparse")])
def test_hand_written_backward_with_dropout_masks(dropout, kind):
    """Dense masks, and the sparse form (1/keep folded into the parameters, a few units zeroed)
    used when few drops are expected, against autograd through the same dense masks."""
    net = net_of([16, 12, 8], 2, "celu", dropout=dropout)
    net.train()
    x = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    params = [*net.parameters(), x]
    torch.manual_seed(5)
    draw = net._draw(x)
    assert draw[0] == kind and (kind == "dense" or draw[1].numel() > 5)
    torch.manual_seed(5)
    v, p = net.value_and_push(x)
    torch.manual_seed(5)
    v_ref, p_ref = net._run(x, need_grad=True)  # the same masks: same draws in the same order
    torch.testing.assert_close(v, v_ref)
    torch.testing.assert_close(p, p_ref)
    g = grads_of((v ** 2).sum() + (p ** 3).sum(), params)
    g_ref = grads_of((v_ref ** 2).sum() + (p_ref ** 3).sum(), params)
    for u, w in zip(g, g_ref):
        torch.testing.assert_close(u, w, rtol=1e-9, atol=1e-12)


def test_push_matches_double_backprop_of_forward():
    net = net_of([16, 12, 8], 3, "celu")
    x = torch.randn(20, 3, dtype=torch.float64)
    y = net.push(x)
    (gw,) = torch.autograd.grad((y ** 2).sum(), net.quadratic_layers[1][0].quadratic_decomposed)
    xg = x.clone().requires_grad_(True)
    (ya,) = torch.autograd.grad(net(xg).sum(), xg, create_graph=True)
    (gw_ref,) = torch.autograd.grad((ya ** 2).sum(), net.quadratic_layers[1][0].quadratic_decomposed)
    torch.testing.assert_close(gw, gw_ref, rtol=1e-9, atol=1e-12)


def test_push_without_grad_mode_has_no_graph():
    net = net_of([8, 8], 1, "celu")
    with torch.no_grad():
        v, p = net.value_and_push(torch.randn(4, 3, dtype=torch.float64))
    assert not v.requires_grad and not p.requires_grad


def test_sparse_dropout_masks_have_bernoulli_statistics():
    torch.manual_seed(0)
    net = DenseICNN(2, [128, 128, 64], rank=3, dropout=1e-5)  # the toy setting: the sparse draw
    net.train()
    x = torch.randn(1024, 2)
    units, dropped, keep = 0, 0, torch.tensor(1.0) / (1 - 1e-5)
    for _ in range(200):
        masks = net._draw_masks(x)
        flat = torch.cat([m for pair in masks for m in pair if m is not None], dim=1)
        assert flat.shape == (1024, 128 + 128 + 64 + 128 + 64)
        assert bool(((flat == 0) | (flat == keep)).all())
        units += flat.numel()
        dropped += int((flat == 0).sum())
    # 200 draws of 655,360 units at p = 1e-5: ~1311 drops, sd ~36
    assert abs(dropped - units * 1e-5) < 5 * (units * 1e-5) ** 0.5, dropped
    net.eval()
    assert net._draw_masks(x) is None


def test_benchmark_reference_pattern_agrees_with_ours():
    bench = load_script("benchmarks/step_speed.py")
    specs = bench.configs([2, 16])
    for spec in specs:
        loss64, grad64, loss32, _, ref_noise32, ours_noise32 = bench.check(spec)
        assert loss64 <= 1e-10 and grad64 <= 1e-9 and loss32 <= 1e-5, (spec["name"], loss64, grad64, loss32)
        # float32 rounding: ours as accurate as the reference pattern (a regression once made it 4× worse)
        assert ours_noise32 <= 2 * ref_noise32 + 1e-7, (spec["name"], ours_noise32, ref_noise32)


def test_benchmark_script_runs_end_to_end(tmp_path):
    """The timing path of benchmarks/step_speed.py (a tiny run): its JSON has the table's fields,
    ours timed both with src.gemm's default and on torch.mm when oneDNN is in use."""
    import json

    from src import gemm

    bench = load_script("benchmarks/step_speed.py")
    out = tmp_path / "speed.json"
    threads = torch.get_num_threads()
    try:
        bench.main(["--threads", "1", "--dims", "2", "--no-toy", "--reps", "1", "--min-time", "0.01",
                    "--out", str(out)])
    finally:
        torch.set_num_threads(threads)
    record = json.loads(out.read_text())
    (row,) = record["rows"]
    assert row["config"] == "gauss D=2" and row["ref_ms"] > 0 and row["ours_ms"] > 0 and row["ours_gflop"] > 0
    assert record["ours_cpu_matmul"] == gemm.cpu_matmul() and record["matmul_peak_gflops"]["torch.mm"] > 0
    if gemm.cpu_matmul() == "onednn":
        assert row["ours_torch_mm_ms"] > 0 and record["matmul_peak_gflops"]["onednn"] > 0
    assert gemm._state["requested"] == "auto"  # the benchmark's switching left the default in place


def test_compile_option_falls_back_to_eager_with_one_warning(monkeypatch):
    """W2GNConfig(compile=True) when compilation fails: one RuntimeWarning, then the eager
    kernels, with the same loss and weights as a run without the option."""
    import copy

    import src.icnn as icnn
    from src.w2gn import W2GNConfig, W2GNTrainer

    def broken_compile(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no compiler here (test)")
        return run

    monkeypatch.setattr(icnn, "_COMPILED", {})
    monkeypatch.setattr(icnn, "_COMPILE_FAILED", [])
    monkeypatch.setattr(torch, "compile", broken_compile)
    torch.manual_seed(0)
    D = net_of([8, 8], 2, "celu", dropout=0.1, dim=2)
    Dc = net_of([8, 8], 2, "celu", dropout=0.1, dim=2, scale=0.5)
    nets = [copy.deepcopy(n) for n in (D, Dc)]
    X, Y = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 2, dtype=torch.float64)
    cfg = dict(batch_size=16, cycle="both_sum", l1=1e-6, progress=False)
    eager = W2GNTrainer(D, Dc, W2GNConfig(**cfg))
    comp = W2GNTrainer(*nets, W2GNConfig(**cfg, compile=True))
    torch.manual_seed(1)
    l_eager = [eager.step(X, Y)["loss"].item() for _ in range(3)]
    torch.manual_seed(1)
    with pytest.warns(RuntimeWarning, match="torch.compile failed") as record:
        l_comp = [comp.step(X, Y)["loss"].item() for _ in range(3)]
    assert len([w for w in record if "torch.compile" in str(w.message)]) == 1
    assert nets[0].compile and not D.__dict__.get("compile", False)
    assert l_comp == l_eager
    for a, b in zip([*D.parameters(), *Dc.parameters()], [*nets[0].parameters(), *nets[1].parameters()]):
        assert torch.equal(a, b)


def test_compiled_kernels_give_the_eager_loss_and_gradients(monkeypatch):
    """W2GNConfig(compile=True) really compiled (gcc here; ~15 s): the same loss and gradients as
    the eager kernels. (Regression: inductor fused a product followed by ``add_(…, alpha=sc)`` into
    an addmm without alpha — ψ and the input gradient were wrong by ~‖x‖² with compile on.)"""
    import src.icnn as icnn
    from src.w2gn import w2gn_losses

    monkeypatch.setattr(icnn, "_COMPILED", {})
    monkeypatch.setattr(icnn, "_COMPILE_FAILED", [])
    torch.manual_seed(0)
    D, C = (init_normal_(DenseICNN(3, [6, 5], rank=2, dropout=0.0, strong_convexity=0.5), 0.3) for _ in range(2))
    X, Y = torch.randn(16, 3), torch.randn(16, 3)
    params = [*D.parameters(), *C.parameters()]
    out = {}
    for compiled in (False, True):
        for net in (D, C):
            net.__dict__["compile"] = compiled
        loss = w2gn_losses(D, C, X, Y, 2.0, "both_sum", 1e-4)["loss"]
        out[compiled] = (loss, torch.autograd.grad(loss, params))
    if icnn._COMPILE_FAILED:
        pytest.skip(f"torch.compile unavailable on this machine: {icnn._COMPILE_FAILED[0]!r}")
    assert icnn._COMPILED  # the compiled kernels ran
    torch.testing.assert_close(out[True][0], out[False][0])
    for a, b in zip(out[True][1], out[False][1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_nets_stay_deep_copyable_after_training_steps():
    """Nothing with an autograd graph is left on the module (the notebooks deep-copy pretrained
    nets), also with the sparse dropout path."""
    import copy

    from src.w2gn import W2GNConfig, train
    from src.distributions import StandardNormalSampler

    D = DenseICNN(2, [16, 16], rank=2, dropout=1e-5)
    Dc = DenseICNN(2, [16, 16], rank=2, dropout=1e-5)
    train(D, Dc, StandardNormalSampler(2, seed=0), StandardNormalSampler(2, seed=1),
          W2GNConfig(batch_size=64, iterations=3, progress=False))
    D2 = copy.deepcopy(D)
    D.eval(), D2.eval()
    x = torch.randn(5, 2)
    torch.testing.assert_close(D2.push_nograd(x), D.push_nograd(x))


def test_const_rows_skip_only_the_input_gradient_of_those_rows():
    net = net_of([16, 12, 8], 2, "celu")
    x = torch.randn(10, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(10, 3, dtype=torch.float64)
    grads = []
    for const_rows in (0, 4):
        v, p = net._value_and_push(x, value_input_grad=False, const_rows=const_rows)
        grads.append(grads_of((v ** 2).sum() + (p * b).sum(), [x, *net.parameters()]))
    full, part = grads
    torch.testing.assert_close(part[0][4:], full[0][4:])
    assert torch.count_nonzero(part[0][:4]) == 0
    for g, h in zip(full[1:], part[1:]):
        torch.testing.assert_close(g, h)


@pytest.mark.parametrize("activation", ["celu", "softplus"])
def test_push_only_pass_equals_the_full_pass(activation):
    """``need_value=False`` (what W2GN uses where ψ itself is not needed) gives the same ∇ψ and the
    same gradients as the pass that also computes ψ."""
    torch.manual_seed(1)
    net = net_of([9, 7, 5], 2, activation)
    x = torch.randn(11, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(11, 3, dtype=torch.float64)
    v, p = net._value_and_push(x, need_value=False)
    assert v is None
    p_ref = net._value_and_push(x)[1]
    torch.testing.assert_close(p, p_ref)
    params = [*net.parameters(), x]
    for g, g_ref in zip(grads_of((p * b).sum() + (p ** 2).sum(), params),
                        grads_of((p_ref * b).sum() + (p_ref ** 2).sum(), params)):
        torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="nothing to compute"):
        net._value_and_push(x, need_push=False, need_value=False)
