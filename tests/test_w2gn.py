import math

import numpy as np
import pytest
import torch

from src.distributions import NormalSampler, StandardNormalSampler
from src.gaussian import random_gaussian_problem
from src.fast import dense as fast_dense
from src.icnn import DenseICNN, init_normal_
from src.metrics import l2_uvp
from src.w2gn import (CYCLE_VARIANTS, W2GN, NonFiniteLossError, W2GNConfig, load_checkpoint, pretrain_identity, save_checkpoint,
                      train, w2gn_losses)


def tiny_pair(dim=3, seed=0):
    torch.manual_seed(seed)
    D = init_normal_(DenseICNN(dim, [8, 6], rank=2, dropout=0.0, strong_convexity=0.1), 0.5).double()
    Dc = init_normal_(DenseICNN(dim, [8, 6], rank=2, dropout=0.0, strong_convexity=0.1), 0.5).double()
    D.convexify(), Dc.convexify()
    return D, Dc


def grad_at(net, x, create_graph=True):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(net(x).sum(), x, create_graph=create_graph)
    return g


def hand_loss(D, Dc, X, Y, lam, cycle, l1):
    """The W2GN objective written out with plain autograd (independent of src.w2gn)."""
    Y_inv = grad_at(Dc, Y)
    corr = D(X).mean() + (Y_inv.detach() * Y).sum(1).mean() - D(Y_inv.detach()).mean()
    r_y = ((grad_at(D, Y_inv) - Y) ** 2).mean()
    r_x = ((grad_at(Dc, grad_at(D, X)) - X) ** 2).mean()
    reg = {"inverse": r_y, "both_sum": r_x + r_y, "both_mean": (r_x + r_y) / 2}[cycle]
    pen = sum(p.abs().sum() for n in (D, Dc) for p in n.parameters())
    return corr + lam * reg + l1 * pen, corr


@pytest.mark.parametrize("cycle", CYCLE_VARIANTS)
def test_loss_matches_hand_derivation(cycle):
    D, Dc = tiny_pair()
    X, Y = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64) * 2
    out = w2gn_losses(D, Dc, X, Y, lambda_cycle=7.0, cycle=cycle, l1=1e-3)
    ref, corr = hand_loss(D, Dc, X, Y, 7.0, cycle, 1e-3)
    torch.testing.assert_close(out["loss"], ref)
    torch.testing.assert_close(out["correlation"], corr.detach())
    w2 = 0.5 * ((X ** 2).sum(1).mean() + (Y ** 2).sum(1).mean()) - corr
    torch.testing.assert_close(out["w2"], w2.detach())
    # parameter gradients agree too
    params = [*D.parameters(), *Dc.parameters()]
    g1 = torch.autograd.grad(out["loss"], params, allow_unused=True)
    g2 = torch.autograd.grad(ref, params, allow_unused=True)
    for a, b in zip(g1, g2):
        a = torch.zeros(()) if a is None else a
        b = torch.zeros(()) if b is None else b
        torch.testing.assert_close(a.double(), b.double(), rtol=1e-7, atol=1e-10)


def test_correlation_does_not_train_conjugate():
    D, Dc = tiny_pair()
    X, Y = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64)
    out = w2gn_losses(D, Dc, X, Y, lambda_cycle=0.0, cycle="inverse")
    grads = torch.autograd.grad(out["loss"], list(Dc.parameters()), allow_unused=True)
    assert all(g is None or torch.count_nonzero(g) == 0 for g in grads)


def test_config_validation():
    with pytest.raises(ValueError, match="cycle must be one of"):
        W2GNConfig(cycle="forward")
    with pytest.raises(ValueError, match="lambda_cycle"):
        W2GNConfig(lambda_cycle=-1)
    with pytest.raises(ValueError, match="batch_size"):
        W2GNConfig(batch_size=0)


def small_problem(dim=2):
    pb = random_gaussian_problem(dim, seed=3)
    X = NormalSampler(pb.mean_x, pb.cov_x, seed=11)
    Y = NormalSampler(pb.mean_y, pb.cov_y, seed=12)
    return pb, X, Y


def make_nets(dim, seed=0):
    torch.manual_seed(seed)
    h = [32, 32, 16]
    D = init_normal_(DenseICNN(dim, h, rank=1, dropout=0.0, strong_convexity=5e-2), 1 / 20)
    pretrain_identity(D, StandardNormalSampler(dim, seed=5), iterations=400, lr=1e-3, progress=False)
    Dc = DenseICNN(dim, h, rank=1, dropout=0.0, strong_convexity=5e-2)
    Dc.load_state_dict(D.state_dict())
    return D, Dc


def test_seeded_training_reaches_small_uvp():
    pb, X, Y = small_problem(2)
    D, Dc = make_nets(2)
    cfg = W2GNConfig(batch_size=256, lr=3e-3, lambda_cycle=2, cycle="both_sum", iterations=600,
                     log_every=100, progress=False, seed=0)
    hist = train(D, Dc, X, Y, cfg)
    x = X.sample(4096)
    uvp = l2_uvp(D.push_nograd(x), x.double() @ torch.as_tensor(pb.A).T, pb.var_y)
    assert uvp < 1.0, uvp
    assert abs(np.mean(hist["w2"][-3:]) - pb.w2 / 2) < 0.1 * pb.w2 / 2 + 0.05
    # inverse map too
    y = Y.sample(4096)
    uvp_inv = l2_uvp(Dc.push_nograd(y), y.double() @ torch.linalg.inv(torch.as_tensor(pb.A)).T, pb.var_x)
    assert uvp_inv < 2.0, uvp_inv


def test_fit_extends_and_checkpoint_roundtrip(tmp_path):
    pb, X, Y = small_problem(2)
    D, Dc = make_nets(2)
    cfg = W2GNConfig(batch_size=64, lr=1e-3, lambda_cycle=1, cycle="both_mean", iterations=20,
                     log_every=10, progress=False)
    model = W2GN(D, Dc, cfg).fit(X, Y)
    assert model.history["iteration"] == [1, 10, 20]
    model.fit(X, Y, iterations=40)                 # iterations is the run's total: 20 more steps
    assert model.history["iteration"] == [1, 10, 20, 30, 40] and model.config.iterations == 40
    assert model.iteration == 40 and model.opt.state  # optimizer state kept
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, model, note="test")
    raw = torch.load(path, weights_only=True)
    assert raw["iteration"] == 40 and raw["extra"] == {"note": "test"}
    restored = load_checkpoint(path)
    assert type(restored) is W2GN and restored.extra == {"note": "test"}
    x = torch.randn(10, 2)
    torch.testing.assert_close(restored.push(x), model.push(x))
    assert restored.iteration == 40 and restored.config == model.config
    assert restored.fit(X, Y, iterations=45) is restored and restored.iteration == 45
    assert W2GN.load(path).iteration == 40


def test_checkpoint_of_other_architecture_is_refused(tmp_path):
    D, Dc = tiny_pair()
    path = tmp_path / "c.pt"
    W2GN(D, Dc, W2GNConfig(progress=False)).save(path)
    other = DenseICNN(3, [8, 7], rank=2)
    with pytest.raises(ValueError, match="convex_layers.0.0.weight"):
        load_checkpoint(path, D=other, D_conj=DenseICNN(3, [8, 7], rank=2))


class NaNSampler:
    def __init__(self, dim):
        self.dim = dim

    def sample(self, n):
        x = torch.randn(n, self.dim)
        x[0, 0] = float("nan")
        return x


def test_nonfinite_samples_name_the_sampler_and_keep_weights():
    D, Dc = make_nets(2)
    before = {k: v.clone() for k, v in D.state_dict().items()}
    cfg = W2GNConfig(batch_size=16, iterations=5, progress=False)
    with pytest.raises(NonFiniteLossError, match=r"input \(P\) sampler returned non-finite.*NaNSampler"):
        train(D, Dc, NaNSampler(2), StandardNormalSampler(2, seed=1), cfg)
    for k, v in D.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_nonfinite_loss_names_iteration():
    D, Dc = make_nets(2)
    with torch.no_grad():
        D.final_layer.weight.fill_(float("inf"))
    cfg = W2GNConfig(batch_size=16, iterations=3, progress=False)
    with pytest.raises(NonFiniteLossError, match="at iteration 0"):
        train(D, Dc, StandardNormalSampler(2, seed=0), StandardNormalSampler(2, seed=1), cfg)


def test_wrong_sample_shape_is_reported():
    D, Dc = tiny_pair()
    cfg = W2GNConfig(batch_size=8, iterations=1, progress=False)
    with pytest.raises(ValueError, match=r"expected \[N, 3\]"):
        train(D.float(), Dc.float(), StandardNormalSampler(2, seed=0), StandardNormalSampler(3, seed=1), cfg)


class AutogradOnly(torch.nn.Module):
    """A DenseICNN seen through the generic ICNN interface only (autograd push, no fast path)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x)

    def push(self, x):
        return self.net.push_autograd(x)

    def value_and_push(self, x):
        from src.icnn import ICNN
        return ICNN.value_and_push(self.net, x)


@pytest.mark.parametrize("cycle", ["inverse", "both_sum", "both_mean"])
def test_fast_path_equals_generic_autograd_path(cycle):
    D, Dc = tiny_pair()
    X, Y = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64) * 2
    fast = w2gn_losses(D, Dc, X, Y, lambda_cycle=5.0, cycle=cycle, l1=1e-4)
    slow = w2gn_losses(AutogradOnly(D), AutogradOnly(Dc), X, Y, lambda_cycle=5.0, cycle=cycle, l1=1e-4)
    for key in slow:
        torch.testing.assert_close(fast[key], slow[key])
    params = [*D.parameters(), *Dc.parameters()]
    for a, b in zip(torch.autograd.grad(fast["loss"], params), torch.autograd.grad(slow["loss"], params)):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_trainer_step_equals_hand_written_step():
    """One W2GN step = the hand-derived loss, backward, torch's default Adam, convexify."""
    D, Dc = tiny_pair()
    D2, Dc2 = tiny_pair()
    cfg = W2GNConfig(batch_size=8, lr=1e-2, lambda_cycle=3.0, cycle="both_sum", l1=1e-4, progress=False)
    trainer = W2GN(D, Dc, cfg)
    opt = torch.optim.Adam(D2.parameters(), lr=cfg.lr, betas=cfg.betas)
    opt_c = torch.optim.Adam(Dc2.parameters(), lr=cfg.lr, betas=cfg.conj_betas)
    for _ in range(3):
        X, Y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
        trainer.step(X, Y)
        loss, _ = hand_loss(D2, Dc2, X, Y, cfg.lambda_cycle, cfg.cycle, cfg.l1)
        opt.zero_grad(), opt_c.zero_grad()
        loss.backward()
        opt.step(), opt_c.step()
        D2.convexify(), Dc2.convexify()
    for a, b in zip([*D.parameters(), *Dc.parameters()], [*D2.parameters(), *Dc2.parameters()]):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


def test_direct_fused_adam_step_is_adam_step_and_steps_aside_when_it_must():
    """The trainer's direct call of the fused Adam kernel makes exactly ``opt.step()``'s update;
    optimisers it cannot mirror (AMSGrad, step hooks) go through ``opt.step()`` itself."""
    from src.fast.adam import step as _fused_adam_step

    def run(direct, amsgrad=False, hook=False):
        torch.manual_seed(0)
        net = torch.nn.Linear(5, 3)
        opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.8, 0.99), fused=True, amsgrad=amsgrad)
        calls = []
        if hook:
            opt.register_step_post_hook(lambda *args: calls.append(1))
        for _ in range(4):
            loss = net(torch.randn(7, 5)).pow(2).sum()
            opt.zero_grad()
            loss.backward()
            _fused_adam_step(opt) if direct else opt.step()
        return [p.detach().clone() for p in net.parameters()], opt, calls

    for amsgrad in (False, True):
        ref, _, _ = run(False, amsgrad)
        fast, opt, _ = run(True, amsgrad)
        for a, b in zip(ref, fast):
            assert torch.equal(a, b)
        assert [s["step"].item() for s in opt.state.values()] == [4.0, 4.0]
        assert all(("max_exp_avg_sq" in s) == amsgrad for s in opt.state.values())
    _, _, calls = run(True, hook=True)
    assert len(calls) == 4  # the hook ran at every step: the update went through opt.step()
    # an LR scheduler patches opt.step to count calls: that patched step must be the one called
    net = torch.nn.Linear(5, 3)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, fused=True)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    net(torch.randn(7, 5)).pow(2).sum().backward()
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "lr_scheduler.step() before optimizer.step()" would raise
        _fused_adam_step(opt)
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(5e-3)


def composite_losses(D, Dc, X, Y, lam, cycle, l1):
    """The objective from per-pass ``src.fast.dense.value_and_push`` calls with ordinary autograd between them,
    drawing the dropout masks in the order the one-node objective draws them."""
    Y_inv = fast_dense.value_and_push(Dc, Y, need_value=False)[1]
    if cycle == "inverse":
        psi_x = fast_dense.value_and_push(D, X, need_push=False)[0]
        psi_y, Y_cyc = fast_dense.value_and_push(D, Y_inv, value_input_grad=False)
        reg = ((Y_cyc - Y) ** 2).mean()
    else:
        n = X.shape[0]
        value, push = fast_dense.value_and_push(D, torch.cat([X, Y_inv]), value_input_grad=False, const_rows=n)
        psi_x, psi_y = value[:n], value[n:]
        X_cyc = fast_dense.value_and_push(Dc, push[:n], need_value=False)[1]
        reg = ((push[n:] - Y) ** 2).mean() + ((X_cyc - X) ** 2).mean()
        reg = reg / 2 if cycle == "both_mean" else reg
    corr = psi_x.mean() + (Y_inv.detach() * Y).sum(1).mean() - psi_y.mean()
    return corr + lam * reg + l1 * sum(p.abs().sum() for net in (D, Dc) for p in net.parameters())


@pytest.mark.parametrize("cycle", ["inverse", "both_sum"])
@pytest.mark.parametrize("dropout", [0.2, 1e-3])  # dense masks; sparse (1/keep folded into the weights)
def test_one_node_objective_with_dropout_equals_composite(cycle, dropout):
    D, Dc = tiny_pair()
    for net in (D, Dc):
        net.dropout = dropout
    X, Y = torch.randn(40, 3, dtype=torch.float64), torch.randn(40, 3, dtype=torch.float64) * 2
    params = [*D.parameters(), *Dc.parameters()]
    dropped = 0
    for seed in range(4):
        torch.manual_seed(seed)
        draws = []
        draw = DenseICNN._draw
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(DenseICNN, "_draw", lambda self, x: draws.append(draw(self, x)) or draws[-1])
            fast = w2gn_losses(D, Dc, X, Y, lambda_cycle=5.0, cycle=cycle, l1=1e-4)["loss"]
        assert all(d[0] == ("sparse" if dropout < 0.01 else "dense") for d in draws)
        dropped += sum(len(d[1]) if d[0] == "sparse" else int((d[1] == 0).sum()) for d in draws)
        torch.manual_seed(seed)
        slow = composite_losses(D, Dc, X, Y, 5.0, cycle, 1e-4)
        torch.testing.assert_close(fast, slow)
        for a, b in zip(torch.autograd.grad(fast, params), torch.autograd.grad(slow, params)):
            torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert dropped > 0  # the masks did drop units


def test_w2gn_object_fits_pushes_and_round_trips_its_state():
    """W2GN(D, D_conj, config).fit(X, Y) returns the object (as the baselines' solvers do); push /
    push_inverse are the two maps; fit extends the run; state_dict loads into a fresh object."""
    pb, X, Y = small_problem(2)
    D, Dc = make_nets(2)
    cfg = W2GNConfig(batch_size=64, iterations=10, log_every=5, progress=False)
    model = W2GN(D, Dc, cfg)
    assert model.fit(X, Y) is model and model.iteration == 10 and model.history["iteration"] == [1, 5, 10]
    model.fit(X, Y, iterations=15)
    assert model.iteration == 15
    x = torch.randn(7, 2)
    torch.testing.assert_close(model.push(x), D.push_nograd(x))
    torch.testing.assert_close(model.push_inverse(x), Dc.push_nograd(x))
    D2, Dc2 = make_nets(2, seed=5)
    other = W2GN(D2, Dc2, cfg)
    other.load_state_dict(model.state_dict())
    assert other.iteration == 15 and other.history == model.history
    torch.testing.assert_close(other.push(x), model.push(x))


def test_train_is_stateless_and_keeps_nothing_on_the_nets():
    """train() is W2GN(...).fit(...).history: nothing kept on the nets or in the module."""
    import src.w2gn as w2gn

    pb, X, Y = small_problem(2)
    D, Dc = make_nets(2)
    before = set(D.__dict__)
    cfg = W2GNConfig(batch_size=32, iterations=2, log_every=1, progress=False)
    assert train(D, Dc, X, Y, cfg)["iteration"] == [1, 2]
    assert set(D.__dict__) == before
    assert train(D, Dc, X, Y, cfg)["iteration"] == [1, 2]   # a new run from the current weights
    assert not hasattr(w2gn, "_RUNS") and not hasattr(w2gn, "get_trainer") and not hasattr(w2gn, "W2GNTrainer")


def test_config_from_dict_ignores_the_removed_compile_option():
    """Checkpoints written while W2GNConfig had a ``compile`` field still load."""
    d = W2GNConfig(iterations=3).to_dict()
    assert W2GNConfig.from_dict({**d, "compile": False}) == W2GNConfig(iterations=3)


def test_lr_schedule_warmup_then_cosine_reaches_lr_end():
    """scheduled_lr: linear warm-up to lr, then half a cosine down to lr_end at the last step;
    the trainer hands exactly these rates to both optimisers."""
    from src.training import scheduled_lr
    lr, total = 1e-3, 20
    assert scheduled_lr(lr, 0, total, "cosine", warmup=4) == pytest.approx(lr / 4)
    assert scheduled_lr(lr, 3, total, "cosine", warmup=4) == pytest.approx(lr)
    assert scheduled_lr(lr, 12, total, "cosine", warmup=4, lr_end=1e-5) == pytest.approx(1e-5 + (lr - 1e-5) / 2)
    assert scheduled_lr(lr, total, total, "cosine", lr_end=1e-5) == pytest.approx(1e-5)
    assert scheduled_lr(lr, 7, total) == lr
    with pytest.raises(ValueError, match="lr_schedule"):
        W2GNConfig(lr_schedule="step")
    with pytest.raises(ValueError, match="warmup"):
        W2GNConfig(warmup=-1)
    pb, X, Y = small_problem(2)
    D, Dc = make_nets(2)
    cfg = W2GNConfig(batch_size=32, iterations=6, log_every=3, progress=False, lr_schedule="cosine", warmup=2,
                     lr_end=1e-4)
    model = W2GN(D, Dc, cfg).fit(X, Y)
    want = scheduled_lr(cfg.lr, 5, 6, "cosine", 2, 1e-4)
    assert all(g["lr"] == pytest.approx(want) for o in (model.opt, model.opt_conj) for g in o.param_groups)
