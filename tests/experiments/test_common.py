"""make_pair: the start of every W2GN run (build, init, identity pretraining, copy)."""
import torch

from src.configs import ICNNSpec, PretrainSpec
from src.distributions import StandardNormalSampler
from src.experiments.common import make_pair
from src.icnn import init_normal_
from src.w2gn import pretrain_identity

SPEC = ICNNSpec(hidden=(16, 16), rank=2, dropout=0.1, init_scale=0.3)
PRE = PretrainSpec(iterations=30, batch_size=64, tol=0.0)


def test_make_pair_is_the_written_out_sequence():
    torch.manual_seed(5)
    D, D_conj, loss = make_pair(lambda: SPEC.dense(3), SPEC.init_scale, 7, StandardNormalSampler(3, seed=1), PRE,
                                progress=False)
    after = torch.rand(1)                          # the global RNG state the sequence leaves behind

    torch.manual_seed(5)
    ref = SPEC.dense(3)
    init_normal_(ref, 0.3, generator=torch.Generator().manual_seed(7))
    ref_loss = pretrain_identity(ref, StandardNormalSampler(3, seed=1), iterations=30, batch_size=64, tol=0.0,
                                 progress=False)
    SPEC.dense(3)
    assert loss == ref_loss and torch.equal(after, torch.rand(1))
    for a, b, c in zip(D.state_dict().values(), D_conj.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert D_conj is not D and all(p is not q for p, q in zip(D.parameters(), D_conj.parameters()))


def test_pretrain_spec_passes_every_setting():
    kw = PretrainSpec(iterations=3, optimizer="adamax", reduction="mean", l1=1e-3).kwargs(progress=False)
    assert kw == dict(iterations=3, lr=1e-3, betas=(0.8, 0.9), blow=3.0, tol=3e-5, batch_size=256, weight_decay=0.0,
                      l1=1e-3, optimizer="adamax", reduction="mean", progress=False)
