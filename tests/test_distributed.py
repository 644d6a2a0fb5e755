"""Data-parallel W2GN on torch.distributed (gloo, 2 CPU processes): a 2-rank run equals a single
process fed the same global batches; a 2-rank run killed with SIGKILL resumes bit-identically."""
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from src.icnn import DenseICNN
from src.w2gn import CYCLE_VARIANTS, W2GN, W2GNConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.skipif(not torch.distributed.is_available(), reason="no torch.distributed")

COMMON = textwrap.dedent("""
    import contextlib, os, signal, sys, torch
    torch.set_num_threads(1)
    import torch.distributed as dist
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    from src import fast
    from src.icnn import DenseICNN
    from src.w2gn import W2GN, W2GNConfig
""")

# W2GN steps on fixed global batches, of which the caller takes the rows `share` (the worker: its
# half; the test's single process: all of them) -> weights, loss per step, gradients of step 1
STEPS = textwrap.dedent("""
    import contextlib, torch
    from src import fast
    from src.icnn import DenseICNN
    from src.w2gn import W2GN, W2GNConfig

    def steps(cycle, quick, share):
        torch.manual_seed(0)
        D, C = DenseICNN(3, [16, 8], rank=2, dropout=0.0), DenseICNN(3, [16, 8], rank=2, dropout=0.0)
        C.load_state_dict(D.state_dict())
        model = W2GN(D, C, W2GNConfig(batch_size=32, lr=3e-3, cycle=cycle, l1=1e-4, progress=False))
        g = torch.Generator().manual_seed(1)
        losses, grads = [], None
        with (contextlib.nullcontext() if quick else fast.disabled()):
            for _ in range(4):
                X, Y = torch.randn(32, 3, generator=g), 2 * torch.randn(32, 3, generator=g) + 1
                losses.append(model.step(X[share], Y[share])["loss"].item())
                grads = grads or [p.grad.clone() for p in [*D.parameters(), *C.parameters()]]
        return [p.detach().clone() for p in [*D.parameters(), *C.parameters()]], losses, grads
""")

EQUAL = COMMON + STEPS + textwrap.dedent("""
    out = {}
    for cycle in sys.argv[2].split(","):
        for quick in (True, False):
            weights, losses, grads = steps(cycle, quick, slice(16 * rank, 16 * (rank + 1)))
            every = [None, None]
            dist.all_gather_object(every, losses)
            out[(cycle, quick)] = (weights, every, grads)
    if rank == 0:
        torch.save(out, sys.argv[1])
    dist.barrier()
    dist.destroy_process_group()   # a clean exit on every rank (no gloo teardown race)
""")

FIT = COMMON + textwrap.dedent("""
    from src.distributions import GaussianMixtureSampler, StandardNormalSampler

    class Killing:
        calls = 0
        def __init__(self, base):
            self.base = base
        def sample(self, n):
            Killing.calls += 1
            if rank == 0 and Killing.calls == int(os.environ.get("KILL_AT", "0")):
                os.kill(os.getpid(), signal.SIGKILL)
            return self.base.sample(n)

    out, ckpt = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
    torch.manual_seed(0)
    D, C = DenseICNN(2, [16, 16], dropout=0.01), DenseICNN(2, [16, 16], dropout=0.01)
    C.load_state_dict(D.state_dict())
    X = Killing(StandardNormalSampler(2, seed=1))
    Y = GaussianMixtureSampler([[0, 0], [3, 3], [-3, 3]], 0.5, seed=2)
    cfg = W2GNConfig(batch_size=64, iterations=40, log_every=5, progress=False, cycle="both_mean",
                     checkpoint_path=ckpt, checkpoint_every=8)
    model = W2GN(D, C, cfg).fit(X, Y)
    state = {"w": [p.detach().clone() for p in [*D.parameters(), *C.parameters()]], "history": model.history}
    torch.save(state, f"{out}.{rank}")
    dist.barrier()
    dist.destroy_process_group()
""")


def _launch(script, args, tmp_path, env_extra=None):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "worker.py"
    path.write_text(script)
    procs = []
    for r in range(2):
        env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
                   RANK=str(r), WORLD_SIZE="2", LOCAL_RANK=str(r), W2GN_DIST_TIMEOUT="60", **(env_extra or {}))
        procs.append(subprocess.Popen([sys.executable, str(path), *map(str, args)], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def _wait(procs, timeout=240):
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        outs.append((p.returncode, err))
    return outs


def test_two_ranks_equal_one_process_fed_the_same_global_batches(tmp_path):
    out = tmp_path / "ranks.pt"
    results = _wait(_launch(EQUAL, [out, ",".join(CYCLE_VARIANTS)], tmp_path))
    assert all(rc == 0 for rc, _ in results), results
    ranks = torch.load(out)
    scope = {}
    exec(STEPS, scope)
    for cycle in CYCLE_VARIANTS:
        for quick in (True, False):
            ref_weights, losses, grads = scope["steps"](cycle, quick, slice(0, 32))   # one process, all rows
            weights, rank_losses, rank_grads = ranks[(cycle, quick)]
            # each rank's loss is that of its half; their mean is the global batch's loss
            mean = [(a + b) / 2 for a, b in zip(*rank_losses)]
            assert mean == pytest.approx(losses, rel=1e-4, abs=1e-6) and rank_losses[0] != rank_losses[1]
            for a, b in zip(rank_grads, grads):                    # the averaged gradient is the global one
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
            for a, b in zip(weights, ref_weights):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_a_killed_two_rank_run_resumes_bit_identically(tmp_path):
    ref = _wait(_launch(FIT, [tmp_path / "ref"], tmp_path))
    assert all(rc == 0 for rc, _ in ref), ref
    ckpt = tmp_path / "run.ckpt"
    procs = _launch(FIT, [tmp_path / "out", ckpt], tmp_path, {"KILL_AT": "21"})   # rank 0 dies at step 21
    procs[0].wait(timeout=240)
    assert procs[0].returncode == -signal.SIGKILL
    time.sleep(0.5)
    procs[1].kill()                                        # its partner, blocked in the all-reduce
    _wait(procs)
    assert ckpt.exists() and torch.load(ckpt, weights_only=True)["iteration"] == 16
    resumed = _wait(_launch(FIT, [tmp_path / "out", ckpt], tmp_path))
    assert all(rc == 0 for rc, _ in resumed), resumed
    for r in range(2):
        a, b = torch.load(f"{tmp_path / 'ref'}.{r}"), torch.load(f"{tmp_path / 'out'}.{r}")
        assert all(torch.equal(x, y) for x, y in zip(a["w"], b["w"])), f"rank {r} differs after resume"
        drop_time = lambda h: {k: v for k, v in h.items() if k != "time_s"}  # noqa: E731
        assert drop_time(a["history"]) == drop_time(b["history"])
    a0, a1 = torch.load(f"{tmp_path / 'ref'}.0"), torch.load(f"{tmp_path / 'ref'}.1")
    assert all(torch.equal(x, y) for x, y in zip(a0["w"], a1["w"]))      # the ranks hold the same weights
    state = torch.load(ckpt, weights_only=True)
    assert state["world_size"] == 2 and len(state["ranks"]) == 2 and not (tmp_path / "run.ckpt.lock").exists()
    with pytest.raises(Exception, match="2 process"):                      # one process cannot resume it
        W2GN(DenseICNN(2, [16, 16], dropout=0.01), DenseICNN(2, [16, 16], dropout=0.01),
             W2GNConfig(batch_size=64, iterations=50, log_every=5, progress=False, cycle="both_mean",
                        checkpoint_path=str(ckpt), checkpoint_every=8)).fit(
            torch.randn(100, 2), torch.randn(100, 2))
