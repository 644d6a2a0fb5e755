import numpy as np
import pytest
import torch

from src.distributions import (BallUniformSampler, EightGaussiansSampler, FittedGaussianMixtureSampler,
                               GaussianGridSampler, LinearTransformer, NormalSampler, StandardNormalSampler,
                               SwissRollSampler, TensorDatasetSampler, UniformSampler, WhiteningSampler)


def test_seeded_and_shapes():
    a, b = StandardNormalSampler(3, seed=1), StandardNormalSampler(3, seed=1)
    torch.testing.assert_close(a.sample(5), b.sample(5))
    for s in [UniformSampler(3, seed=0), BallUniformSampler(3, seed=0), SwissRollSampler(seed=0),
              EightGaussiansSampler(seed=0), GaussianGridSampler(5, seed=0)]:
        x = s.sample(7)
        assert x.shape == (7, s.dim) and x.dtype == torch.float32 and torch.isfinite(x).all()
    assert BallUniformSampler(4, radius=2, seed=0).sample(1000).norm(dim=1).max() <= 2
    # the global RNG is not used
    torch.manual_seed(0)
    r1 = torch.rand(1)
    torch.manual_seed(0)
    StandardNormalSampler(2, seed=3).sample(10)
    assert torch.equal(torch.rand(1), r1)


def test_normal_and_linear_moments():
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    x = NormalSampler([1.0, -1.0], cov, seed=0, dtype=torch.float64).sample(200_000)
    np.testing.assert_allclose(x.mean(0).numpy(), [1, -1], atol=0.02)
    np.testing.assert_allclose(torch.cov(x.T).numpy(), cov, atol=0.03)
    lt = LinearTransformer(StandardNormalSampler(2, seed=0, dtype=torch.float64), [[2.0, 0], [0, 3]], [1, 1])
    np.testing.assert_allclose(lt.sample(100_000).std(0).numpy(), [2, 3], rtol=0.02)
    with pytest.raises(ValueError, match="positive semi-definite"):
        NormalSampler([0, 0], [[1, 2], [2, 1]])


def test_mixtures_and_whitening():
    grid = GaussianGridSampler(10, step=9, std=1, seed=0)
    assert grid.centers.shape == (100, 2)
    w = WhiteningSampler(grid, n_fit=50_000)
    y = w.sample(50_000).double()
    np.testing.assert_allclose(y.mean(0).numpy(), 0, atol=0.03)
    np.testing.assert_allclose(torch.cov(y.T).numpy(), np.eye(2), atol=0.03)
    c = w.transform(grid.centers)
    assert c.shape == (100, 2)
    torch.testing.assert_close(w.inverse_transform(c), grid.centers, rtol=1e-4, atol=1e-4)
    r = EightGaussiansSampler(radius=12, seed=0).centers.norm(dim=1)
    torch.testing.assert_close(r, torch.full((8,), 12.0))


def test_tensor_and_fitted_samplers():
    data = torch.arange(20.0).reshape(10, 2)
    s = TensorDatasetSampler(data, seed=0)
    x = s.sample(50)
    assert all(any(torch.equal(row, d) for d in data) for row in x)
    img = TensorDatasetSampler(torch.zeros(4, 1, 8, 8), seed=0)
    assert img.sample(3).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError, match="NaN"):
        TensorDatasetSampler(torch.tensor([[float("nan")]]))
    g = FittedGaussianMixtureSampler(torch.randn(500, 2) + 5, n_components=2, seed=0)
    assert abs(g.sample(2000).mean().item() - 5) < 0.2


def test_sampler_state_dict_resumes_the_draws():
    """state_dict()/load_state_dict(): torch and NumPy generators, nested samplers (``base``)."""
    from src.distributions import (GaussianMixtureSampler, StandardNormalSampler, SwissRollSampler,
                                   TensorDatasetSampler, WhiteningSampler, load_rng_state_dict, rng_state_dict)

    makers = [lambda: StandardNormalSampler(3, seed=1), lambda: SwissRollSampler(seed=2),
              lambda: WhiteningSampler(GaussianMixtureSampler([[0, 0], [4, 1]], 0.5, seed=3), n_fit=1000),
              lambda: TensorDatasetSampler(torch.arange(100.0).reshape(50, 2), seed=4, noise_std=0.1)]
    for make in makers:
        a = make()
        a.sample(7)
        state = a.state_dict()
        expected = a.sample(11)
        b = make()
        b.load_state_dict(state)
        assert torch.equal(b.sample(11), expected), type(a).__name__

    class Plain:  # not a Sampler: the generic helpers find its generator
        def __init__(self):
            self.generator = torch.Generator().manual_seed(5)

        def sample(self, n):
            return torch.randn(n, 2, generator=self.generator)

    p = Plain()
    state = rng_state_dict(p)
    expected = p.sample(4)
    q = Plain()
    load_rng_state_dict(q, state)
    assert torch.equal(q.sample(4), expected)
