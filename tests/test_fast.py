"""src.fast: the fast path computes what the readable one does — DenseICNN's value and push
(hand-written backward pass) and the W2GN objective of two DenseICNNs — for every activation
and cycle variant it lists (src.fast.SUPPORTED_*), engages for nothing else (a subclass of
DenseICNN, another activation or cycle variant runs the readable definitions), and the speed
benchmark's reference pattern agrees with plain autograd."""
import pytest
import torch
import torch.nn.functional as F

from conftest import load_script
from src import fast
from src.fast import dense as fast_dense, kernels as fast_kernels, objective as fast_objective
from src.icnn import DenseICNN, init_normal_
from src.layers import ACTIVATIONS as REGISTRY
from src.w2gn import CYCLE_VARIANTS, w2gn_losses


#: activations under test: a name, or (name, CELU α) — every one the kernels implement
ACTIVATIONS = [*fast.SUPPORTED_ACTIVATIONS] + [(a, 0.3) for a in fast.SUPPORTED_ACTIVATIONS if REGISTRY[a].uses_alpha]


def fused(out) -> bool:
    """Whether a ``w2gn_losses`` result came from the fused objective (src.fast.objective)."""
    return type(out["loss"].grad_fn).__name__ == "DenseObjectiveBackward"


def net_of(hidden, rank, activation, dropout=0.0, sc=1e-2, dim=3, scale=1.0):
    activation, alpha = activation if isinstance(activation, tuple) else (activation, 1.0)
    net = DenseICNN(dim, hidden, rank=rank, activation=activation, dropout=dropout, strong_convexity=sc,
                    celu_alpha=alpha).double()
    init_normal_(net, scale)
    net.convexify()
    return net


def grads_of(loss, params):
    return torch.autograd.grad(loss, params, allow_unused=True)


@pytest.mark.parametrize("activation", ACTIVATIONS)
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

    v, p = fast_dense.value_and_push(net, x, value_input_grad=value_input_grad, need_push=need_push)
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


def test_celu_alpha_push_is_the_gradient_of_the_value():
    """With CELU α ≠ 1 the closed-form push (readable and fast) is ∇ of the forward, and α = 1 is
    the default net."""
    torch.manual_seed(4)
    net = net_of([10, 8], 2, ("celu", 0.2))
    x = torch.randn(6, 3, dtype=torch.float64)
    auto = net.push_autograd(x)
    torch.testing.assert_close(net.push(x), auto)
    with fast.disabled():
        torch.testing.assert_close(net.push(x), auto)
    assert DenseICNN(3, [4]).celu_alpha == 1.0 and DenseICNN(3, [4], celu_alpha=0.5).config()["celu_alpha"] == 0.5
    with pytest.raises(ValueError, match="celu_alpha"):
        DenseICNN(3, [4], celu_alpha=0.0)
    with pytest.raises(ValueError, match="celu_alpha"):
        DenseICNN(3, [4], activation="softplus", celu_alpha=0.5)


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
    ours timed both with src.fast.gemm's default and on torch.mm when oneDNN is in use."""
    import json

    from src.fast import gemm

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
        v, p = fast_dense.value_and_push(net, x, value_input_grad=False, const_rows=const_rows)
        grads.append(grads_of((v ** 2).sum() + (p * b).sum(), [x, *net.parameters()]))
    full, part = grads
    torch.testing.assert_close(part[0][4:], full[0][4:])
    assert torch.count_nonzero(part[0][:4]) == 0
    for g, h in zip(full[1:], part[1:]):
        torch.testing.assert_close(g, h)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_push_only_pass_equals_the_full_pass(activation):
    """``need_value=False`` (what W2GN uses where ψ itself is not needed) gives the same ∇ψ and the
    same gradients as the pass that also computes ψ."""
    torch.manual_seed(1)
    net = net_of([9, 7, 5], 2, activation)
    x = torch.randn(11, 3, dtype=torch.float64, requires_grad=True)
    b = torch.randn(11, 3, dtype=torch.float64)
    v, p = fast_dense.value_and_push(net, x, need_value=False)
    assert v is None
    p_ref = fast_dense.value_and_push(net, x)[1]
    torch.testing.assert_close(p, p_ref)
    params = [*net.parameters(), x]
    for g, g_ref in zip(grads_of((p * b).sum() + (p ** 2).sum(), params),
                        grads_of((p_ref * b).sum() + (p_ref ** 2).sum(), params)):
        torch.testing.assert_close(g, g_ref, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="nothing to compute"):
        fast_dense.value_and_push(net, x, need_push=False, need_value=False)


def _objective_and_grads(D, C, X, Y, cycle, l1):
    out = w2gn_losses(D, C, X, Y, 3.0, cycle, l1)
    params = [*D.parameters(), *C.parameters()]
    return out, torch.autograd.grad(out["loss"], params)


@pytest.mark.parametrize("cycle", fast.SUPPORTED_CYCLES)
@pytest.mark.parametrize("l1", [0.0, 1e-3])
def test_fast_objective_equals_the_readable_one(cycle, l1):
    """The fused objective (src.fast.objective, on by default) and w2gn_losses' readable
    definition (with src.fast disabled: plain autograd through DenseICNN._run) give the same loss,
    logged terms and parameter gradients, float64, for every cycle variant the fused objective
    implements, with and without L1."""
    torch.manual_seed(0)
    D, C = net_of([10, 8, 6], 2, "celu", dim=4, scale=0.5), net_of([9, 7], 1, "softplus", dim=4, scale=0.5)
    X, Y = torch.randn(12, 4, dtype=torch.float64), torch.randn(10, 4, dtype=torch.float64)
    assert fast.enabled()
    out, grads = _objective_and_grads(D, C, X, Y, cycle, l1)
    assert fused(out)
    with fast.disabled():
        assert not fast.enabled()
        ref, ref_grads = _objective_and_grads(D, C, X, Y, cycle, l1)
        assert not fused(ref)
    assert fast.enabled()
    assert set(out) == set(ref)
    for k in ref:
        torch.testing.assert_close(out[k], ref[k].detach(), rtol=1e-12, atol=1e-12)
    for g, h in zip(grads, ref_grads):
        torch.testing.assert_close(g, h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fast_value_and_push_equal_the_readable_ones(activation):
    """DenseICNN.value_and_push / push on the fast path and on the readable one (src.fast
    disabled): the same ψ, ∇ψ and gradients (weights and input), float64."""
    torch.manual_seed(2)
    net = net_of([12, 9, 7], 2, activation)
    x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    a, b = torch.randn(8, 1, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    params = [*net.parameters(), x]
    results = []
    for on in (True, False):
        fast.set_enabled(on)
        try:
            v, p = net.value_and_push(x)
            torch.testing.assert_close(net.push(x), p)
            results.append((v, p, grads_of((v * a).sum() + (p * b).sum() + (p ** 2).sum(), params)))
        finally:
            fast.set_enabled(True)
    (v, p, g), (v_ref, p_ref, g_ref) = results
    torch.testing.assert_close(v, v_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(p, p_ref, rtol=1e-12, atol=1e-12)
    for u, w in zip(g, g_ref):
        torch.testing.assert_close(u, w, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------- where the fast path engages


class LogSumExpICNN(DenseICNN):
    """A subclass whose ψ is not the parent's: ψ_DenseICNN(x) + logsumexp(x) (still convex)."""

    def forward(self, x):
        return super().forward(x) + torch.logsumexp(x, dim=1, keepdim=True)


class SameICNN(DenseICNN):
    """A subclass that keeps ψ but does not opt in to the kernels."""


class OptedInICNN(DenseICNN):
    """A subclass that keeps ψ and says so: the kernels serve it."""

    _fast_path = True


def autograd_push(net, x):
    xg = x.detach().requires_grad_(True)
    return torch.autograd.grad(net(xg).sum(), xg)[0]


def test_the_kernels_serve_only_the_classes_that_opt_in_themselves():
    """``src.fast.supports``: DenseICNN and a subclass that sets ``_fast_path = True`` in its own
    body; not a subclass that inherits the attribute, an instance whose ``forward`` is replaced,
    an activation outside SUPPORTED_ACTIVATIONS, or something that is not a DenseICNN at all."""
    kw = dict(in_dim=3, hidden_layer_sizes=[6, 5], rank=2, dropout=0.0)
    assert fast.supports(DenseICNN(**kw)) and fast.supports(OptedInICNN(**kw))
    assert not fast.supports(SameICNN(**kw)) and not fast.supports(LogSumExpICNN(**kw))
    patched = DenseICNN(**kw)
    patched.forward = lambda x: DenseICNN.forward(patched, x) * 2
    assert not fast.supports(patched)
    changed = DenseICNN(**kw)
    changed.activation = "relu"
    assert not fast.supports(changed)
    assert not fast.supports(torch.nn.Linear(3, 1)) and not fast.supports(object())
    # the class that keeps ψ without opting in gets the readable closed form: the same ∇ψ
    torch.manual_seed(0)
    net, same = net_of([6, 5], 2, "celu"), SameICNN(**kw, strong_convexity=1e-2).double()
    same.load_state_dict(net.state_dict())
    x = torch.randn(7, 3, dtype=torch.float64)
    torch.testing.assert_close(same.push(x), net.push(x))


def test_a_subclass_overriding_forward_trains_with_the_gradient_of_its_own_forward():
    """A DenseICNN subclass with its own ψ: push is autograd of its forward (not the parent's
    closed form, fast or readable), and a few W2GN steps (w2gn_losses + backward + Adam) run the
    readable objective on its ψ, with ∇ψ still the gradient of ψ afterwards."""
    torch.manual_seed(0)
    kw = dict(in_dim=3, hidden_layer_sizes=[8, 6], rank=2, dropout=0.0, strong_convexity=1e-2)
    D, C = LogSumExpICNN(**kw).double(), LogSumExpICNN(**kw).double()
    for net in (D, C):
        init_normal_(net, 0.5)
        net.convexify()
    x = torch.randn(9, 3, dtype=torch.float64)
    parent_push = DenseICNN._run(D, x, need_grad=True)[1].detach()
    assert (D.push(x).detach() - parent_push).abs().max() > 1e-3  # a parent's ∇ψ would be caught
    opt = torch.optim.Adam([*D.parameters(), *C.parameters()], lr=1e-2)
    for cycle in fast.SUPPORTED_CYCLES:  # one step with each variant
        X, Y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64) * 2
        for net in (D, C):
            torch.testing.assert_close(net.push(x), autograd_push(net, x), rtol=1e-10, atol=1e-12)
        out = w2gn_losses(D, C, X, Y, 2.0, cycle)
        assert not fused(out)
        # the correlation is the one of the subclass's own ψ and ∇ψ
        Y_inv = autograd_push(C, Y)
        corr = D(X).mean() + (Y_inv * Y).sum(1).mean() - D(Y_inv).mean()
        torch.testing.assert_close(out["correlation"], corr.detach(), rtol=1e-10, atol=1e-12)
        opt.zero_grad()
        out["loss"].backward()
        grads = [p.grad for p in [*D.parameters(), *C.parameters()]]
        assert all(g is not None and torch.isfinite(g).all() for g in grads)
        assert any(g.abs().sum() > 0 for g in grads)
        opt.step()
        D.convexify(), C.convexify()
    for net in (D, C):
        torch.testing.assert_close(net.push(x), autograd_push(net, x), rtol=1e-10, atol=1e-12)


def test_a_replaced_forward_on_an_instance_is_differentiated_by_autograd():
    torch.manual_seed(1)
    net = net_of([6, 5], 2, "softplus")
    net.forward = lambda x: DenseICNN.forward(net, x) + F.softplus(x).sum(1, keepdim=True)
    x = torch.randn(5, 3, dtype=torch.float64)
    torch.testing.assert_close(net.push(x), autograd_push(net, x))


def test_the_fused_objective_applies_to_supported_nets_batches_and_cycles_only():
    torch.manual_seed(0)
    D, C = net_of([6, 5], 2, "celu"), net_of([6], 1, "softplus")
    X, Y = torch.randn(5, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    assert fast_objective.applies(D, C, X, Y)  # the older call without the cycle
    for cycle in fast.SUPPORTED_CYCLES:
        assert fast_objective.applies(D, C, X, Y, cycle)
    assert not fast_objective.applies(D, C, X, Y, "toy") and not fast_objective.applies(D, C, X, Y, cycle="")
    assert not fast_objective.applies(D, C, X.requires_grad_(True), Y, "inverse")
    X.requires_grad_(False)
    sub = LogSumExpICNN(3, [6, 5], rank=2).double()
    assert not fast_objective.applies(sub, C, X, Y, "inverse") and not fast_objective.applies(D, sub, X, Y, "inverse")
    handle = D.register_forward_hook(lambda module, inputs, output: output * 2)
    assert not fast_objective.applies(D, C, X, Y, "inverse")  # the readable objective runs the hook
    handle.remove()
    assert fast_objective.applies(D, C, X, Y, "inverse")


def test_the_fused_objective_refuses_a_cycle_variant_it_does_not_implement():
    """Every listed variant has its form; any other name raises in ``losses`` itself (never
    computed as another variant), whatever ``applies`` was asked."""
    for cycle in fast.SUPPORTED_CYCLES:
        both, factor = fast_objective.cycle_form(cycle)
        assert isinstance(both, bool) and factor > 0
    assert set(fast.SUPPORTED_CYCLES) <= set(CYCLE_VARIANTS)
    D, C = net_of([6, 5], 2, "celu"), net_of([6], 1, "celu")
    X = torch.randn(5, 3, dtype=torch.float64)
    for cycle in ("toy", "both", None):
        with pytest.raises(ValueError, match="does not implement cycle variant"):
            fast_objective.losses(D, C, X, X, 1.0, cycle, 0.0, torch.tensor(0.0))


def test_the_kernels_refuse_an_activation_they_do_not_implement():
    net = net_of([6, 5], 2, "celu")
    x = torch.randn(5, 3, dtype=torch.float64)
    net.activation = "relu"
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        fast_dense.value_and_push(net, x)
    opt = fast_dense.options(net)
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        fast_kernels.forward(opt, None, x, *fast_dense.params(net))
    assert set(fast.SUPPORTED_ACTIVATIONS) <= set(REGISTRY)
    for name in fast.SUPPORTED_ACTIVATIONS:
        assert fast_kernels.kernel_forms(name) is REGISTRY[name]
