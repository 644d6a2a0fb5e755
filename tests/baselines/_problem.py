"""A 2-D Gaussian OT problem for the baseline tests: samplers of P and Q and the L2-UVP of a
fitted map against the optimal linear map (as the Gaussian-table experiment computes it)."""
import torch

from src.distributions import NormalSampler, StandardNormalSampler
from src.icnn import DenseICNN, init_normal_
from src.metrics import l2_uvp
from src.pretrain import pretrain_identity

D = 2


def problem_samplers(problem, seed):
    """Samplers of P and Q of ``problem`` (seeds ``seed`` and ``seed + 1``)."""
    return (NormalSampler(problem.mean_x, problem.cov_x, seed=seed),
            NormalSampler(problem.mean_y, problem.cov_y, seed=seed + 1))


def evaluate_l2_uvp(model, problem, n=16384, seed=12345):
    """L2-UVP % of ``model.push_nograd`` against the optimal map x ↦ Ax + b on ``n`` fresh samples of P."""
    X = NormalSampler(problem.mean_x, problem.cov_x, seed=seed).sample(n)
    A = torch.as_tensor(problem.A, dtype=X.dtype)
    b = torch.as_tensor(problem.b, dtype=X.dtype)
    for net in (getattr(model, "D", None), getattr(model, "f", None)):
        if isinstance(net, torch.nn.Module):
            net.eval()
    return l2_uvp(model.push_nograd(X), X @ A.T + b, problem.var_y)


def identity_uvp(problem):
    class Identity:
        def push_nograd(self, x):
            return x
    return evaluate_l2_uvp(Identity(), problem, n=4096)


def pretrained_icnn(seed=0):
    """A 2-D DenseICNN pretrained to the identity map."""
    torch.manual_seed(seed)
    net = DenseICNN(D, [64, 64, 32], rank=1, dropout=0.0, strong_convexity=5e-2)
    init_normal_(net, 1 / 20, generator=torch.Generator().manual_seed(seed))
    pretrain_identity(net, StandardNormalSampler(D, seed=seed), iterations=200, lr=1e-3, blow=3.0,
                      tol=1e-3, batch_size=128, progress=False)
    return net
