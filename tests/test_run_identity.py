"""One writer per run, resume that checks identity, checkpoint writes that fail clearly
(the W2GN and pretraining side of "no silent wrong answers")."""
import os
import socket
import subprocess
import sys

import pytest
import torch

from src.checkpoint import CheckpointError, RunLock, write_checkpoint
from src.distributions import GaussianMixtureSampler, StandardNormalSampler
from src.icnn import DenseICNN
from src.w2gn import W2GN, W2GNConfig, pretrain_identity


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def cfg(path, **kw):
    return W2GNConfig(iterations=4, batch_size=16, progress=False, checkpoint_path=str(path), checkpoint_every=2, **kw)


def samplers(centres=((0.0, 0.0), (3.0, 3.0))):
    return StandardNormalSampler(2, seed=0), GaussianMixtureSampler(list(centres), 0.5, seed=1)


def test_a_live_writer_is_refused_a_dead_ones_lock_is_taken_over(tmp_path):
    path = tmp_path / "run.pt"
    lock = tmp_path / "run.pt.lock"
    lock.write_text(f'{{"pid": 1, "host": "{socket.gethostname()}"}}')          # pid 1 is always alive
    with pytest.raises(CheckpointError, match="in use by a run of process 1 .* two runs must not share"):
        W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), cfg(path)).fit(*samplers())
    assert not path.exists()
    lock.write_text(f'{{"pid": {dead_pid()}, "host": "{socket.gethostname()}"}}')
    W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), cfg(path)).fit(*samplers())      # stale: taken over
    assert path.exists() and not lock.exists()                                  # released at the end
    lock.write_text('{"pid": 5, "host": "another-machine"}')                   # liveness unknown: refused
    with pytest.raises(CheckpointError, match="another-machine"):
        pretrain_identity(DenseICNN(2, [8]), StandardNormalSampler(2, seed=0), iterations=2, progress=False,
                          checkpoint_path=str(path))


def test_the_lock_is_released_when_training_fails(tmp_path):
    path = tmp_path / "run.pt"

    class Broken:
        def sample(self, n):
            raise RuntimeError("sampler broke")

    with pytest.raises(RuntimeError, match="sampler broke"):
        W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), cfg(path)).fit(Broken(), Broken())
    assert not (tmp_path / "run.pt.lock").exists()
    with RunLock(path):
        with pytest.raises(CheckpointError, match="in use"):
            RunLock(path).__enter__()                                            # same process, second run


def test_a_save_deletes_only_dead_writers_temporary_files(tmp_path):
    path = tmp_path / "ck.pt"
    live = tmp_path / f".ck.pt.{os.getppid()}.abc.tmp"                           # our parent: alive
    dead = tmp_path / f".ck.pt.{dead_pid()}.abc.tmp"
    live.write_bytes(b"x")
    dead.write_bytes(b"x")
    write_checkpoint(path, {"D": {}, "n": 1})
    assert live.exists() and not dead.exists()


def test_resume_refuses_other_nets_and_other_sampler_parameters(tmp_path):
    path = tmp_path / "run.pt"
    W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), cfg(path)).fit(*samplers())
    longer = W2GNConfig(**{**cfg(path).to_dict(), "iterations": 6})
    with pytest.raises(CheckpointError, match="another architecture of D .*'activation': 'celu'.*softplus"):
        W2GN(DenseICNN(2, [8], activation="softplus"), DenseICNN(2, [8]), longer).fit(*samplers())
    with pytest.raises(CheckpointError, match="another architecture of D_conj"):
        W2GN(DenseICNN(2, [8]), DenseICNN(2, [8], dropout=0.5), longer).fit(*samplers())
    with pytest.raises(CheckpointError, match="another GaussianMixtureSampler for Y"):
        W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), longer).fit(*samplers(((0.0, 0.0), (-3.0, 3.0))))
    model = W2GN(DenseICNN(2, [8]), DenseICNN(2, [8]), longer).fit(*samplers())  # the same run: extends
    assert model.iteration == 6


def test_pretraining_checkpoint_names_its_starting_weights(tmp_path):
    path = str(tmp_path / "pre.pt")

    def start(seed):
        torch.manual_seed(seed)
        return DenseICNN(2, [8])

    pretrain_identity(start(0), StandardNormalSampler(2, seed=3), iterations=4, tol=0.0, batch_size=8,
                      progress=False, checkpoint_path=path)
    with pytest.raises(CheckpointError, match="init"):          # another seed's initialisation: another run
        pretrain_identity(start(1), StandardNormalSampler(2, seed=3), iterations=4, tol=0.0, batch_size=8,
                          progress=False, checkpoint_path=path)
    pretrain_identity(start(0), StandardNormalSampler(2, seed=3), iterations=4, tol=0.0, batch_size=8,
                      progress=False, checkpoint_path=path)      # the same start: loaded


def test_a_failed_checkpoint_write_says_what_happened_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    write_checkpoint(path, {"D": {}, "n": 1})
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="could not write the checkpoint .*disk full.*previous checkpoint is left intact"):
        write_checkpoint(path, {"D": {}, "n": 2})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["ck.pt"]
