"""The W2GN object as a researcher uses it: arrays in, maps that are functions, runs that extend,
one object and one stateless function, quiet logs, a ready pair, W2 estimates, a complete
package declaration."""
import ast
import os
import subprocess
import sys
import textwrap
import tomllib
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from src.distributions import NormalSampler, StandardNormalSampler, TensorDatasetSampler
from src.gaussian import random_gaussian_problem
from src.icnn import DenseICNN
from src.metrics import exact_w2, sliced_wasserstein
from src.training import progress_bar
from src.w2gn import W2GN, CheckpointError, W2GNConfig, load_checkpoint, make_pair, train

ROOT = Path(__file__).resolve().parents[1]


def nets(dim=2, dropout=0.0, seed=0):
    torch.manual_seed(seed)
    D = DenseICNN(dim, [16, 16], dropout=dropout)
    C = DenseICNN(dim, [16, 16], dropout=dropout)
    C.load_state_dict(D.state_dict())
    return D, C


def weights(model):
    return torch.cat([p.detach().flatten() for p in [*model.D.parameters(), *model.D_conj.parameters()]])


def data(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) * [2.0, 0.5] + [1.0, -1.0]


# ------------------------------------------------------------------ maps are functions
def test_push_is_a_function_eval_mode_no_graph_batched_mode_kept():
    D, C = nets(dropout=0.3)
    model = W2GN(D, C, W2GNConfig(progress=False))
    D.train()
    x = torch.randn(50, 2)
    a, b = model.push(x), model.push(x)
    assert torch.equal(a, b) and not a.requires_grad and a.grad_fn is None    # no dropout, no graph
    torch.testing.assert_close(model.push(x, batch_size=7), a, rtol=1e-5, atol=1e-6)   # batches: the same map
    assert D.training                                                           # the mode it found
    D.eval()
    assert torch.equal(model.push(x), a) and not D.training
    inv = model.push_inverse(x)
    C.eval()
    assert torch.equal(inv, C.push_nograd(x)) and C.training is False
    xg = x.clone().requires_grad_(True)
    model.push(xg, grad=True).sum().backward()                                  # the differentiable map
    assert xg.grad is not None and next(D.parameters()).grad is not None
    out = model.push(x.numpy())                                                 # NumPy in, NumPy out
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and np.array_equal(out, a.numpy())
    with pytest.raises(ValueError, match="batch_size"):
        model.push(x, batch_size=0)
    with pytest.raises(TypeError, match="tensor or a NumPy array"):
        model.push([[0.0, 1.0]])


# ------------------------------------------------------------------ arrays in
@pytest.mark.parametrize("kind", ["numpy", "tensor"])
def test_fit_on_arrays_and_tensors_resamples_with_the_run_seed(kind):
    X, Y = data()
    if kind == "tensor":
        X, Y = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(Y, dtype=torch.float32)
    cfg = W2GNConfig(iterations=6, batch_size=32, log_every=2, progress=False, seed=3)
    a = W2GN(*nets(), cfg).fit(X, Y)
    b = W2GN(*nets(), cfg).fit(X, Y)
    assert a.iteration == 6 and torch.equal(weights(a), weights(b))             # seeded: reproducible
    c = W2GN(*nets(), W2GNConfig(iterations=6, batch_size=32, progress=False, seed=4)).fit(X, Y)
    assert not torch.equal(weights(a), weights(c))


def test_fit_refuses_what_is_no_data():
    with pytest.raises(TypeError, match="X must be a sampler"):
        W2GN(*nets(), W2GNConfig(iterations=1, progress=False)).fit([[0.0, 0.0]], np.zeros((4, 2)))
    with pytest.raises(ValueError, match="two nets"):
        D = DenseICNN(2, [8])
        W2GN(D, D, W2GNConfig())


# ------------------------------------------------------------------ runs that extend
def test_extending_a_run_is_bit_identical_to_a_straight_run():
    X, Y = data()
    cfg = dict(batch_size=32, log_every=5, progress=False, seed=0)
    straight = W2GN(*nets(dropout=0.05), W2GNConfig(iterations=30, **cfg)).fit(X, Y)
    parts = W2GN(*nets(dropout=0.05), W2GNConfig(iterations=12, **cfg)).fit(X, Y)
    torch.rand(7)                                   # the user's own draws between the calls
    parts.fit(X, Y, iterations=30)
    assert torch.equal(weights(straight), weights(parts))
    drop_time = lambda h: {k: v for k, v in h.items() if k != "time_s"}  # noqa: E731
    assert drop_time(straight.history) == drop_time(parts.history)


def test_a_finished_run_says_so_and_trains_nothing():
    X, Y = data()
    model = W2GN(*nets(), W2GNConfig(iterations=4, batch_size=16, progress=False)).fit(X, Y)
    before = weights(model)
    with pytest.warns(UserWarning, match="nothing to train; raise iterations"):
        model.fit(X, Y)
    assert model.iteration == 4 and torch.equal(before, weights(model))


def test_a_checkpointed_run_extends_in_process_and_from_its_file(tmp_path):
    X, Y = StandardNormalSampler(2, seed=1), NormalSampler([1.0, -1.0], [[4.0, 0.0], [0.0, 0.25]], seed=2)
    path = tmp_path / "run.pt"
    cfg = W2GNConfig(iterations=10, batch_size=32, log_every=5, progress=False, seed=0, checkpoint_path=str(path),
                     checkpoint_every=4)
    model = W2GN(*nets(dropout=0.05), cfg).fit(X, Y)
    with pytest.warns(UserWarning, match="nothing to train"):
        model.fit(X, Y)                                           # fit again: says why not
    model.fit(X, Y, iterations=16)                                # same process: 6 more steps
    assert model.iteration == 16 and torch.load(path, weights_only=True)["iteration"] == 16
    copy = tmp_path / "copy.pt"
    copy.write_bytes(path.read_bytes())

    # a new process would build fresh nets and samplers: the file's run is extended to 22 steps
    X2, Y2 = StandardNormalSampler(2, seed=1), NormalSampler([1.0, -1.0], [[4.0, 0.0], [0.0, 0.25]], seed=2)
    resumed = W2GN(*nets(dropout=0.05, seed=9), W2GNConfig(**{**cfg.to_dict(), "iterations": 22,
                                                              "checkpoint_path": str(copy)}))
    resumed.fit(X2, Y2)
    model.fit(X, Y, iterations=22)
    assert resumed.iteration == 22 and torch.equal(weights(resumed), weights(model))

    straight_X, straight_Y = StandardNormalSampler(2, seed=1), NormalSampler([1.0, -1.0], [[4.0, 0.0], [0.0, 0.25]],
                                                                             seed=2)
    straight = W2GN(*nets(dropout=0.05), W2GNConfig(iterations=22, batch_size=32, log_every=5, progress=False,
                                                    seed=0)).fit(straight_X, straight_Y)
    assert torch.equal(weights(straight), weights(model))        # = one uninterrupted run of 22 steps

    with pytest.raises(CheckpointError, match="lr"):               # any other setting: still refused
        W2GN(*nets(), W2GNConfig(**{**cfg.to_dict(), "lr": 2e-3})).fit(X2, Y2)
    # an object whose run is not the file's (e.g. another writer advanced the file): refused
    stale = W2GN(*nets(dropout=0.05), W2GNConfig(iterations=3, batch_size=32, progress=False)).fit(X2, Y2)
    stale.set_config(W2GNConfig(**{**cfg.to_dict(), "iterations": 30}))
    with pytest.raises(CheckpointError, match="at step 22 but this W2GN object is at step 3"):
        stale.fit(X2, Y2)


def test_load_checkpoint_gives_the_same_object_whose_fit_returns_it(tmp_path):
    X, Y = data()
    model = W2GN(*nets(), W2GNConfig(iterations=5, batch_size=16, progress=False)).fit(X, Y)
    model.save(tmp_path / "m.pt", note="x")
    loaded = load_checkpoint(tmp_path / "m.pt")
    assert type(loaded) is W2GN and loaded.extra == {"note": "x"}
    assert loaded.fit(X, Y, iterations=7).push(X[:3]).shape == (3, 2)


def test_train_is_one_stateless_function():
    X, Y = data()
    D, C = nets()
    cfg = W2GNConfig(iterations=3, batch_size=16, log_every=1, progress=False)
    assert train(D, C, X, Y, cfg)["iteration"] == [1, 2, 3]
    assert train(D, C, X, Y, cfg)["iteration"] == [1, 2, 3]


# ------------------------------------------------------------------ progress bars
def test_progress_bar_redraws_rarely_off_a_terminal():
    script = textwrap.dedent("""
        import numpy as np, torch
        from src.icnn import DenseICNN
        from src.w2gn import W2GN, W2GNConfig
        D, C = DenseICNN(2, [8]), DenseICNN(2, [8])
        X = np.random.default_rng(0).normal(size=(100, 2))
        W2GN(D, C, W2GNConfig(iterations=300, batch_size=8, log_every=1)).fit(X, X + 1)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    draws = proc.stderr.count("W2GN:")
    assert 1 <= draws <= 4, proc.stderr[-500:]      # the start, the end (and a line a minute), not 300
    assert "300/300" in proc.stderr
    with pytest.raises(TypeError, match="progress"):
        progress_bar(range(2), progress="yes")
    with pytest.raises(ValueError, match="progress"):
        W2GNConfig(progress=1)


# ------------------------------------------------------------------ a ready pair
def test_make_pair_is_pretrained_to_the_identity_and_copied():
    X, _ = data(500)
    D, C = make_pair(2, [16, 16], X=X, pretrain=dict(iterations=400, tol=1e-3), progress=False)
    assert D is not C and all(torch.equal(a, b) for a, b in zip(D.state_dict().values(), C.state_dict().values()))
    x = torch.as_tensor(X[:200], dtype=torch.float32)
    assert ((D.push_nograd(x) - x) ** 2).sum(1).mean() < 0.05
    D2, _ = make_pair(2, [16, 16], X=X, pretrain=dict(iterations=400, tol=1e-3), progress=False)
    assert all(torch.equal(a, b) for a, b in zip(D.parameters(), D2.parameters()))   # seeded
    D3, _ = make_pair(3, [8], pretrain=dict(iterations=5), progress=False)           # default X: N(0, I)
    assert D3.in_dim == 3


# ------------------------------------------------------------------ W2 estimates
def test_w2_estimates_on_a_gaussian_problem():
    """P = N(0, I), Q = N((1, −1), diag(4, ¼)): W2² = ‖m‖² + Σ(√λ − 1)² = 2 + 1 + ¼."""
    true_w2 = 3.25
    X = StandardNormalSampler(2, seed=1)
    Y = NormalSampler([1.0, -1.0], [[4.0, 0.0], [0.0, 0.25]], seed=2)
    D, C = make_pair(2, [32, 32], X=X, pretrain=dict(iterations=300), progress=False)
    model = W2GN(D, C, W2GNConfig(iterations=800, batch_size=256, lr=3e-3, lambda_cycle=2.0, cycle="both_sum",
                                  progress=False)).fit(X, Y)
    state = X.generator.get_state()
    est = model.w2(X, Y, n=20000)
    assert torch.equal(X.generator.get_state(), state)                          # X left as it was
    assert abs(est - true_w2) < 0.05 * true_w2, est
    x, y = X.sample(1000), Y.sample(1000)
    assert abs(model.w2(x.numpy(), y.numpy()) - true_w2) < 0.15 * true_w2       # arrays: their rows
    # the checks of a map on samples: the mapped cloud is near Q's, the identity's is not
    mapped = model.push(x)
    assert exact_w2(mapped, y) < 0.1 * exact_w2(x, y)
    assert sliced_wasserstein(mapped, y) < 0.3 * sliced_wasserstein(x, y)
    assert abs(((mapped - x) ** 2).sum(1).mean() - true_w2) < 0.1 * true_w2     # the map's cost ≈ W2²


def test_exact_w2_is_the_optimal_matching():
    a = np.array([[0.0, 0.0], [1.0, 0.0]])
    b = np.array([[1.0, 1.0], [0.0, 1.0]])           # the best matching moves each point by 1 (not √2)
    assert exact_w2(a, b) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    assert exact_w2(X, rng.permutation(X)) == pytest.approx(0.0, abs=1e-12)
    assert exact_w2(X, X + [3.0, 0.0, 4.0]) == pytest.approx(25.0)
    with pytest.raises(ValueError, match="equal shape"):
        exact_w2(X, X[:10])
    with pytest.raises(ValueError, match="max_points"):
        exact_w2(X, X, max_points=100)


# ------------------------------------------------------------------ the package declares what it needs
# Module-level imports of the library and the CLI are runtime dependencies; imports inside a
# function (an optional feature, e.g. a sampler fitted with scikit-learn) and everything the
# experiment glue, plotters, baselines and data loaders import are in the `experiments` extra.
_DIST = {"PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image", "ot": "pot", "pytorch_fid": "pytorch-fid"}
_CORE_PACKAGES_EXCLUDED = ("experiments", "plotters", "baselines", "datasets")


def _third_party_imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in (tree.body if top_level_only else ast.walk(tree)):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("src", "__future__")}


def test_pyproject_declares_every_runtime_dependency():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bare = lambda reqs: {r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in reqs}  # noqa: E731
    core, extra = bare(project["dependencies"]), bare(project["optional-dependencies"]["experiments"])
    for path in sorted((ROOT / "src").rglob("*.py")):
        rel = path.relative_to(ROOT / "src")
        in_core = rel.parts[0] not in _CORE_PACKAGES_EXCLUDED and rel.name not in ("fid.py", "tv.py")
        for top_level_only, allowed in ((True, core if in_core else core | extra), (False, core | extra)):
            needed = {_DIST.get(n, n).lower() for n in _third_party_imports(path, top_level_only)}
            assert needed <= allowed, f"src/{rel} imports {sorted(needed - allowed)}, not declared in pyproject.toml"
