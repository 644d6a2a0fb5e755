"""Resumable training: a run killed with SIGKILL and resumed ends with the same weights, bit for
bit, as an uninterrupted run (CPU, same thread count); checkpoints survive a kill during a save;
damaged checkpoint files raise a clear error."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from src.distributions import StandardNormalSampler
from src.icnn import DenseICNN
from src.w2gn import W2GN, CheckpointError, W2GNConfig, load_checkpoint, save_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Identity pretraining then W2GN training, both checkpointed; ``KILL_AT`` = the number of sampler
# draws after which the process SIGKILLs itself (no clean-up of any kind, as a crash).
RUN = textwrap.dedent("""
    import os, signal, sys, torch
    torch.set_num_threads(1)
    from src.distributions import GaussianMixtureSampler, StandardNormalSampler
    from src.icnn import DenseICNN
    from src.w2gn import W2GNConfig, pretrain_identity, train

    class Killing:
        calls = 0
        def __init__(self, base):
            self.base = base
        def sample(self, n):
            Killing.calls += 1
            if Killing.calls == int(os.environ.get("KILL_AT", "0")):
                os.kill(os.getpid(), signal.SIGKILL)
            return self.base.sample(n)

    out, ckpt = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None
    torch.manual_seed(0)
    D, C = DenseICNN(2, [16, 16], dropout=0.002), DenseICNN(2, [16, 16], dropout=0.002)
    pretrain_identity(D, Killing(StandardNormalSampler(2, seed=3)), iterations=40, batch_size=64, progress=False,
                      checkpoint_path=ckpt and ckpt + ".pretrain", checkpoint_every=7)
    C.load_state_dict(D.state_dict())
    X = Killing(StandardNormalSampler(2, seed=1))
    Y = GaussianMixtureSampler([[0, 0], [3, 3], [-3, 3]], 0.5, seed=2)
    cfg = W2GNConfig(batch_size=64, iterations=60, log_every=5, progress=False, cycle="both_mean",
                     checkpoint_path=ckpt, checkpoint_every=8)
    history = train(D, C, X, Y, cfg)
    torch.save({"D": D.state_dict(), "C": C.state_dict(), "history": history}, out)
""")


def _run(tmp_path, *args, kill_at=0):
    script = tmp_path / "run.py"
    script.write_text(RUN)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", KILL_AT=str(kill_at))
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("kill_at", [20, 40 + 37])  # during pretraining / during W2GN training
def test_sigkill_then_resume_is_bit_identical(tmp_path, kill_at):
    ref = _run(tmp_path, tmp_path / "ref.pt")
    assert ref.returncode == 0, ref.stderr
    ckpt = tmp_path / "run.ckpt"
    killed = _run(tmp_path, tmp_path / "out.pt", ckpt, kill_at=kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (tmp_path / "out.pt").exists()
    assert (tmp_path / "run.ckpt.pretrain").exists() and ckpt.exists() == (kill_at > 40)
    resumed = _run(tmp_path, tmp_path / "out.pt", ckpt)
    assert resumed.returncode == 0, resumed.stderr
    a, b = torch.load(tmp_path / "ref.pt"), torch.load(tmp_path / "out.pt")
    for net in ("D", "C"):
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs after resume"
    drop_time = lambda h: {k: v for k, v in h.items() if k != "time_s"}  # noqa: E731 (wall clock)
    assert drop_time(a["history"]) == drop_time(b["history"]) and len(a["history"]["iteration"]) == 13
    # a finished run is only loaded: a third call trains no further and gives the same weights
    again = _run(tmp_path, tmp_path / "again.pt", ckpt)
    assert again.returncode == 0, again.stderr
    c = torch.load(tmp_path / "again.pt")
    assert all(torch.equal(a["D"][k], c["D"][k]) for k in a["D"])


SAVER = textwrap.dedent("""
    import sys, torch
    from src.icnn import DenseICNN
    from src.w2gn import W2GN, W2GNConfig, save_checkpoint
    t = W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), W2GNConfig(progress=False))
    i = 0
    while True:
        i += 1
        save_checkpoint(sys.argv[1], t, count=i, blob=torch.full((2_000_000,), float(i)))
        print(i, flush=True)
""")


def test_kill_during_save_leaves_a_loadable_checkpoint(tmp_path):
    script, path = tmp_path / "saver.py", tmp_path / "ck.pt"
    script.write_text(SAVER)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    for delay in (0.0, 0.013, 0.037, 0.071, 0.11):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], env=env, stdout=subprocess.PIPE, text=True)
        proc.stdout.readline()  # one save finished: the file exists
        time.sleep(delay)       # ... and the next one is (likely) in progress
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        state = torch.load(path, weights_only=True)  # loads, with any torch
        trainer = load_checkpoint(path)                # and passes the checksum
        count = state["extra"]["count"]
        assert count >= 1 and torch.equal(state["extra"]["blob"][:3], torch.full((3,), float(count)))
        assert isinstance(trainer, W2GN)
    # a killed save leaves at most its own temporary file; the next save removes it
    assert len(list(tmp_path.glob(".ck.pt.*.tmp"))) <= 1


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    t = W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), W2GNConfig(progress=False, batch_size=16))
    t.fit(StandardNormalSampler(2, seed=0), StandardNormalSampler(2, seed=1), iterations=3)
    path = tmp_path / "ck.pt"
    save_checkpoint(path, t)
    return path, t


def test_corrupted_tensor_bytes_raise(checkpoint):
    path, t = checkpoint
    data = bytearray(path.read_bytes())
    weight = t.D.final_layer.weight.detach().contiguous().numpy().tobytes()
    at = bytes(data).find(weight)
    assert at > 0
    data[at:at + 4] = torch.tensor([float("nan")]).numpy().tobytes()
    path.write_bytes(bytes(data))
    assert torch.isnan(torch.load(path, weights_only=True)["D"]["final_layer.weight"]).any()  # torch alone: silent
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(path)


@pytest.mark.parametrize("damage", ["empty", "truncated", "text", "other_torch_file", "folder"])
def test_unreadable_files_raise_a_clear_error(tmp_path, checkpoint, damage):
    path, _ = checkpoint
    bad = tmp_path / "bad.pt"
    if damage == "empty":
        bad.write_bytes(b"")
    elif damage == "truncated":
        bad.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    elif damage == "text":
        bad.write_text("not a checkpoint\n")
    elif damage == "other_torch_file":
        torch.save({"weights": torch.zeros(3)}, bad)
    else:
        bad.mkdir()
    with pytest.raises(CheckpointError):
        load_checkpoint(bad)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path):
    X, Y = StandardNormalSampler(2, seed=0), StandardNormalSampler(2, seed=1)
    path = tmp_path / "run.pt"
    cfg = W2GNConfig(progress=False, batch_size=16, iterations=4, checkpoint_path=str(path), checkpoint_every=2)
    W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), cfg).fit(X, Y)
    other = W2GNConfig(progress=False, batch_size=16, iterations=4, lr=2e-3, checkpoint_path=str(path))
    with pytest.raises(CheckpointError, match="lr"):
        W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), other).fit(X, Y)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path):
    from src.utils import atomic_open, atomic_write_text

    path = tmp_path / "r.json"
    atomic_write_text(path, "old")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as f:
            f.write("partial")
            raise RuntimeError("killed")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    with pytest.raises(FileNotFoundError, match="folder"):
        atomic_write_text(tmp_path / "missing" / "r.json", "x")


def test_paper_profile_checkpoints_and_glue_resumes(tmp_path, monkeypatch):
    """get_config gives the paper profile (or any, with W2GN_CHECKPOINT_DIR) a checkpoint folder;
    the Gaussians glue then checkpoints, and a second call finds the finished run and loads it."""
    from src.configs import get_config
    from src.experiments.gaussians import GaussiansConfig, run_gaussian_dim
    from src.experiments.toy import ToyConfig

    monkeypatch.delenv("W2GN_CHECKPOINT_DIR", raising=False)
    assert get_config(ToyConfig, "paper").checkpoint_dir is not None
    assert get_config(ToyConfig, "smoke").checkpoint_dir is None and get_config(ToyConfig, "smoke").checkpoint("x") is None
    monkeypatch.setenv("W2GN_CHECKPOINT_DIR", str(tmp_path / "ck"))
    cfg = get_config(GaussiansConfig, "smoke", w2gn__iterations=40, pretrain__iterations=30, eval_every=20,
                     w2gn__progress=False)
    assert cfg.checkpoint_dir == str(tmp_path / "ck")
    first = run_gaussian_dim(2, cfg)
    files = sorted(p.name for p in (tmp_path / "ck").iterdir())
    assert files == ["GaussiansConfig_smoke_d2_40.pt", "GaussiansConfig_smoke_d2_pretrain.pt"]
    again = run_gaussian_dim(2, cfg)
    for a, b in zip([*first.D.parameters(), *first.D_conj.parameters()], [*again.D.parameters(), *again.D_conj.parameters()]):
        assert torch.equal(a, b)
    assert again.l2_uvp == first.l2_uvp and len(first.curve["iteration"]) == 3
    for k in first.curve:  # restored from the checkpoint (the first "w2" is NaN: compare as tensors)
        torch.testing.assert_close(torch.tensor(again.curve[k]), torch.tensor(first.curve[k]), rtol=0, atol=0,
                                   equal_nan=True)


def test_pretraining_checkpoint_early_stop_and_reload(tmp_path):
    """An early-stopped pretraining is saved as finished; a second call loads it (no steps) and
    leaves the global RNG where the first left it."""
    from src.w2gn import pretrain_identity

    path = str(tmp_path / "pre.pt")

    def run():
        torch.manual_seed(0)
        D = DenseICNN(2, [8], dropout=0.01)
        loss = pretrain_identity(D, StandardNormalSampler(2, seed=3), iterations=500, tol=0.5, batch_size=32,
                                 progress=False, checkpoint_path=path, checkpoint_every=3)
        return D, loss, torch.rand(3)

    D1, loss1, after1 = run()
    state = torch.load(path, weights_only=True)
    assert state["done"] and state["iteration"] < 500 and loss1 < 0.5
    D2, loss2, after2 = run()
    assert loss2 == loss1 and torch.equal(after1, after2)
    assert all(torch.equal(a, b) for a, b in zip(D1.parameters(), D2.parameters()))
    with pytest.raises(CheckpointError, match="identity-pretraining"):
        load_checkpoint(path)
