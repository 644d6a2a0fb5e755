"""The tests docs/extending.md names: each catches one part of an extension that was forgotten
(an objective argument the step does not pass or the fused objective ignores, a cycle variant
without its formula, an activation without its derivatives, a class the kernels would take over).
The first test keeps the guide itself true: every file, name and test it cites exists."""
import importlib
import inspect
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import src.w2gn as w2gn
from src import fast
from src.fast import dense as fast_dense, objective as fast_objective
from src.icnn import ICNN, DenseICNN, init_normal_
from src.layers import ACTIVATIONS, Activation, activation, activation_grad, get_activation

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "extending.md"


def fused(out) -> bool:
    return type(out["loss"].grad_fn).__name__ == "DenseObjectiveBackward"


def pair(activation="celu", dim=3, seed=0):
    torch.manual_seed(seed)
    nets = []
    for hidden in ([8, 6], [7, 5]):
        net = init_normal_(DenseICNN(dim, hidden, rank=2, activation=activation, dropout=0.0,
                                     strong_convexity=1e-2).double(), 0.5)
        net.convexify()
        nets.append(net)
    return nets


def batches(dim=3, n=12, m=10):
    return torch.randn(n, dim, dtype=torch.float64), torch.randn(m, dim, dtype=torch.float64) * 1.5


# ---------------------------------------------------------------------- the guide itself


def _defines(text: str, name: str) -> bool:
    """Whether a module's source defines ``name`` (``Class.method`` for a method) at top level."""
    if "." in name:
        cls, method = name.split(".", 1)
        return _defines(text, cls) and re.search(rf"^\s+def {re.escape(method)}\b", text, re.M) is not None
    return re.search(rf"^(class|def) {re.escape(name)}\b|^{re.escape(name)}\s*[:=]", text, re.M) is not None


def test_the_guide_cites_files_names_and_tests_that_exist():
    """docs/extending.md: every `path` exists; every `path` (`Name`, …) defines those names; every
    `tests/file.py::test_name` is a test of that file; every `src.module.NAME` imports."""
    guide = GUIDE.read_text(encoding="utf-8")
    paths = set(re.findall(r"`((?:src|tests|docs|benchmarks)/[\w/.]+?)(?:::\w+)?`", guide))
    assert paths, "the guide cites no files"
    for path in sorted(paths):
        assert (ROOT / path).exists(), f"docs/extending.md cites {path}, which does not exist"
    placed = re.findall(r"`(src/[\w/]+\.py)` \(((?:`[\w.]+`(?:, )?)+)\)", guide)
    assert placed, "the guide places no names in files"
    for path, names in placed:
        text = (ROOT / path).read_text(encoding="utf-8")
        for name in re.findall(r"`([\w.]+)`", names):
            assert _defines(text, name), f"docs/extending.md says {path} defines {name}; it does not"
    tests = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", guide)
    assert tests, "the guide names no tests"
    for path, name in tests:
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(encoding="utf-8"), re.M), \
            f"docs/extending.md names {path}::{name}, which does not exist"
    for dotted in set(re.findall(r"`(src(?:\.\w+)+)`", guide)):
        parts = dotted.split(".")
        for k in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
            try:
                obj = importlib.import_module(".".join(parts[:k]))
            except ImportError:
                continue
            for attr in parts[k:]:
                obj = getattr(obj, attr)
            break
        else:
            pytest.fail(f"docs/extending.md cites {dotted}, which does not import")


# ---------------------------------------------------------------------- terms of the objective

#: a value other than the default of each argument of w2gn_losses (add one for a new argument)
NON_DEFAULT = {"lambda_cycle": 2.5, "cycle": "both_mean", "l1": 1e-4}


def objective_arguments() -> list[str]:
    names = list(inspect.signature(w2gn.w2gn_losses).parameters)
    assert names[:4] == ["D", "D_conj", "X", "Y"], names
    return names[4:]


def test_the_fused_objective_accounts_for_every_objective_argument():
    """A new argument (term) of w2gn_losses must be implemented by the fused objective or keep
    w2gn_losses from calling it while the term is on, then be listed in src.fast.OBJECTIVE_ARGUMENTS."""
    missing = set(objective_arguments()) - set(fast.OBJECTIVE_ARGUMENTS)
    assert not missing, (f"w2gn_losses has arguments the fused objective (src/fast/objective.py) does not account "
                         f"for: {sorted(missing)}; see docs/extending.md, 'A term of the objective'")
    assert set(fast.OBJECTIVE_ARGUMENTS) <= set(objective_arguments())


def test_every_objective_argument_is_a_config_field_the_step_passes(monkeypatch):
    """Each argument of w2gn_losses is a W2GNConfig field of the same name, and W2GN.step passes
    the config's value (spied on one step with non-default values)."""
    names = objective_arguments()
    fields = set(w2gn.W2GNConfig.__dataclass_fields__)
    assert set(names) <= fields, f"w2gn_losses arguments without a W2GNConfig field: {set(names) - fields}"
    assert set(names) <= set(NON_DEFAULT), f"add a non-default value of {set(names) - set(NON_DEFAULT)} to NON_DEFAULT"
    config = w2gn.W2GNConfig(batch_size=8, iterations=1, progress=False, **{k: NON_DEFAULT[k] for k in names})
    defaults = w2gn.W2GNConfig()
    assert all(getattr(config, k) != getattr(defaults, k) for k in names)
    seen, real = [], w2gn.w2gn_losses

    def spy(*args, **kwargs):
        seen.append(inspect.signature(real).bind(*args, **kwargs).arguments)
        return real(*args, **kwargs)

    monkeypatch.setattr(w2gn, "w2gn_losses", spy)
    D, C = pair()
    model = w2gn.W2GN(D, C, config)
    model.step(*batches())
    (bound,) = seen
    for k in names:
        assert bound.get(k, inspect.signature(real).parameters[k].default) == getattr(config, k), k


# ---------------------------------------------------------------------- cycle variants


def hand_cycle_terms(D, C, X, Y):
    """mean((∇ψ_θ(∇ψ_ω(y)) − y)²) and mean((∇ψ_ω(∇ψ_θ(x)) − x)²) by autograd of the nets' ψ."""
    def grad(net, v):
        v = v.detach().requires_grad_(True)
        return torch.autograd.grad(net(v).sum(), v)[0]

    return ((grad(D, grad(C, Y)) - Y) ** 2).mean(), ((grad(C, grad(D, X)) - X) ** 2).mean()


#: each cycle variant's regulariser R from (y-side term, x-side term): add a new variant's here
HAND_R = {
    "inverse": lambda ry, rx: ry,
    "both_sum": lambda ry, rx: ry + rx,
    "both_mean": lambda ry, rx: (ry + rx) / 2,
}


@pytest.mark.parametrize("cycle", w2gn.CYCLE_VARIANTS)
def test_every_cycle_variant_has_a_hand_derived_regulariser(cycle):
    """The readable w2gn_losses computes each variant's R as written in HAND_R (from the nets' ψ by
    autograd), on the fast path and off it: a variant added to CYCLE_VARIANTS without its formula
    there fails here instead of running as another variant."""
    assert cycle in HAND_R, f"add the regulariser of cycle variant {cycle!r} to HAND_R (tests/test_extending.py)"
    D, C = pair()
    X, Y = batches()
    ry, rx = hand_cycle_terms(D, C, X, Y)
    for on in (True, False):
        fast.set_enabled(on)
        try:
            out = w2gn.w2gn_losses(D, C, X, Y, 3.0, cycle)
        finally:
            fast.set_enabled(True)
        torch.testing.assert_close(out["cycle"], HAND_R[cycle](ry, rx).detach(), rtol=1e-10, atol=1e-12)


def test_every_cycle_variant_is_fused_or_runs_the_readable_objective():
    D, C = pair()
    X, Y = batches()
    assert set(fast.SUPPORTED_CYCLES) <= set(w2gn.CYCLE_VARIANTS)
    for cycle in w2gn.CYCLE_VARIANTS:
        assert fast_objective.applies(D, C, X, Y, cycle) == (cycle in fast.SUPPORTED_CYCLES)
        assert fused(w2gn.w2gn_losses(D, C, X, Y, 1.0, cycle)) == (cycle in fast.SUPPORTED_CYCLES)


def test_a_new_cycle_variant_runs_the_readable_objective(monkeypatch):
    """A variant the fused objective does not implement (here a toy name added to CYCLE_VARIANTS)
    goes to the readable definition — never the fused one, which refuses it; and the readable one
    refuses a name it has no formula for (step 2 forgotten) instead of computing another variant."""
    import src.objective as objective
    import src.training as training

    for module in (w2gn, training, objective):
        if hasattr(module, "CYCLE_VARIANTS"):
            monkeypatch.setattr(module, "CYCLE_VARIANTS", (*module.CYCLE_VARIANTS, "toy"))
    D, C = pair()
    X, Y = batches()
    assert not fast_objective.applies(D, C, X, Y, "toy")
    with pytest.raises(NotImplementedError, match="cycle variant 'toy' has no definition"):
        w2gn.w2gn_losses(D, C, X, Y, 1.0, "toy")
    with pytest.raises(ValueError, match="does not implement cycle variant 'toy'"):
        fast_objective.losses(D, C, X, Y, 1.0, "toy", 0.0, torch.tensor(0.0))


# ---------------------------------------------------------------------- activations


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_every_activation_builds_a_convex_dense_icnn_whose_push_is_its_gradient(name):
    """Each registered activation: a DenseICNN with it is convex along random segments, its push
    (fast path if the kernels implement the activation, else readable) is ∇ψ by autograd, and the
    kernels take it exactly when it is in src.fast.SUPPORTED_ACTIVATIONS."""
    D, _ = pair(name)
    assert fast.supports(D) == (name in fast.SUPPORTED_ACTIVATIONS)
    x, b = torch.randn(40, 3, dtype=torch.float64) * 2, torch.randn(40, 3, dtype=torch.float64) * 2
    t = torch.rand(40, 1, dtype=torch.float64)
    assert (D(t * x + (1 - t) * b) <= t * D(x) + (1 - t) * D(b) + 1e-9).all()
    auto = D.push_autograd(x)
    torch.testing.assert_close(D.push(x), auto, rtol=1e-9, atol=1e-11)
    with fast.disabled():
        torch.testing.assert_close(D.push(x), auto, rtol=1e-9, atol=1e-11)


def _half_softplus_of_double(x, alpha):
    return F.softplus(2 * x) / 2


def test_a_registered_activation_outside_the_kernels_runs_the_readable_path(monkeypatch):
    """An activation added to the registry without kernel forms (or not yet listed in
    SUPPORTED_ACTIVATIONS) builds nets, trains through the readable definitions, and the
    kernels refuse it."""
    toy = Activation("toy", _half_softplus_of_double, lambda x, a: torch.sigmoid(2 * x),
                     lambda x, a: 2 * torch.sigmoid(2 * x) * (1 - torch.sigmoid(2 * x)))
    monkeypatch.setitem(ACTIVATIONS, "toy", toy)
    D, C = pair("toy")
    assert not fast.supports(D)
    x = torch.randn(6, 3, dtype=torch.float64)
    torch.testing.assert_close(D.push(x), D.push_autograd(x))
    X, Y = batches()
    out = w2gn.w2gn_losses(D, C, X, Y, 1.0, "inverse")
    assert not fused(out)
    out["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in D.parameters())
    with pytest.raises(ValueError, match="not implemented by the fast kernels"):
        fast_dense.value_and_push(D, x)


def test_unknown_activation_raises_everywhere():
    """A name not in the registry is a ValueError in every place that reads one — never run as
    another activation."""
    x = torch.randn(5, 3, dtype=torch.float64)
    for call in (lambda: get_activation("relu"), lambda: activation("relu", x), lambda: activation_grad("relu", x),
                 lambda: DenseICNN(3, [4], activation="relu")):
        with pytest.raises(ValueError, match="unknown activation 'relu'"):
            call()
    D, C = pair()
    D.activation = "relu"  # changed after construction
    X, Y = batches()
    for on in (True, False):
        fast.set_enabled(on)
        try:
            for call in (lambda: D(x), lambda: D.push(x), lambda: D.value_and_push(x), lambda: D.push_nograd(x),
                         lambda: w2gn.w2gn_losses(D, C, X, Y, 1.0, "inverse"),
                         lambda: w2gn.w2gn_losses(C, D, X, Y, 1.0, "both_sum")):
                with pytest.raises(ValueError, match="unknown activation 'relu'"):
                    call()
        finally:
            fast.set_enabled(True)
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        fast_dense.value_and_push(D, x)


# ---------------------------------------------------------------------- potential classes


def test_only_dense_icnn_opts_in_to_the_kernels():
    """The classes of the package that set src.fast.MARKER in their own body: DenseICNN only (the
    kernels compute its ψ and ∇ψ, and tests/test_fast.py compares them with its readable
    definitions). A class added here needs those comparisons too."""
    found, todo = set(), [ICNN]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.startswith("src.") and vars(sub).get(fast.MARKER) is True:
                found.add(sub)
    assert found == {DenseICNN}
