"""src.pretrain: identity pretraining and the pair of potentials a W2GN run starts from."""
import math

import numpy as np
import pytest
import torch

from src.distributions import StandardNormalSampler
from src.icnn import DenseICNN, init_normal_
from src.pretrain import pretrain_identity, pretrained_net, pretrained_pair


def test_pretrain_identity_reduces_loss():
    torch.manual_seed(0)
    D = init_normal_(DenseICNN(2, [16, 16], rank=1, dropout=0.0), 0.1)
    sampler = StandardNormalSampler(2, seed=0)
    x = sampler.sample(512) * 3
    before = ((D.push_nograd(x) - x) ** 2).sum(1).mean().item()
    final = pretrain_identity(D, sampler, iterations=500, lr=3e-3, progress=False)
    after = ((D.push_nograd(x) - x) ** 2).sum(1).mean().item()
    assert math.isfinite(final) and after < 0.05 * before, (before, after)


def test_pretraining_takes_arrays_of_samples():
    torch.manual_seed(0)
    D = init_normal_(DenseICNN(2, [16], dropout=0.0), 0.1)
    X = np.random.default_rng(0).normal(size=(1000, 2))
    x = torch.as_tensor(X[:256], dtype=torch.float32) * 3
    before = ((D.push_nograd(x) - x) ** 2).sum(1).mean().item()
    pretrain_identity(D, X, iterations=300, lr=3e-3, progress=False)
    assert ((D.push_nograd(x) - x) ** 2).sum(1).mean().item() < 0.1 * before


@pytest.mark.parametrize("kw, match", [(dict(iterations=-1), "iterations"), (dict(batch_size=0), "batch_size"),
                                       (dict(lr=float("nan")), "lr"), (dict(reduction="max"), "reduction"),
                                       (dict(l1=-1.0), "l1")])
def test_pretraining_refuses_bad_settings(kw, match):
    with pytest.raises(ValueError, match=match):
        pretrain_identity(DenseICNN(2, [4]), StandardNormalSampler(2, seed=0), progress=False, **kw)


def test_pretrained_pair_is_seeded_by_its_own_generator_and_copies_psi():
    build = lambda: DenseICNN(3, [8, 8], dropout=0.0)  # noqa: E731
    D, C, loss = pretrained_pair(build, StandardNormalSampler(3, seed=2), 0.2, 5, dict(iterations=20, tol=0.0),
                                 progress=False)
    assert math.isfinite(loss) and D is not C
    assert all(torch.equal(a, b) for a, b in zip(D.state_dict().values(), C.state_dict().values()))
    again, _ = pretrained_net(build, StandardNormalSampler(3, seed=2), 0.2, 5, dict(iterations=20, tol=0.0),
                              progress=False)
    assert all(torch.equal(a, b) for a, b in zip(D.parameters(), again.parameters()))
    other, _ = pretrained_net(build, StandardNormalSampler(3, seed=2), 0.2, 6, dict(iterations=20, tol=0.0),
                              progress=False)
    assert not all(torch.equal(a, b) for a, b in zip(D.parameters(), other.parameters()))
