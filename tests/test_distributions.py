import numpy as np
import pytest
import torch

from src.distributions import (BallUniformSampler, EightGaussiansSampler, FittedGaussianMixtureSampler, GaussianMixtureSampler,
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


NAN = float("nan")


@pytest.mark.parametrize("make, error, needle", [
    (lambda: StandardNormalSampler(2.5), ValueError, "dim"),
    (lambda: StandardNormalSampler("3"), TypeError, "dim"),
    (lambda: StandardNormalSampler(0), ValueError, "dim"),
    (lambda: StandardNormalSampler(2, seed=1.5), ValueError, "seed"),
    (lambda: StandardNormalSampler(2, dtype=torch.int64), TypeError, "dtype"),
    (lambda: StandardNormalSampler(2, device="gpu7"), ValueError, "device"),
    (lambda: NormalSampler([0, NAN], np.eye(2)), ValueError, "mean contains NaN"),
    (lambda: NormalSampler([0, 0], [[1, 0], [0, np.inf]]), ValueError, "cov contains NaN or inf"),
    (lambda: NormalSampler([0, 0], [[1, 0.5], [0, 1]]), ValueError, "not symmetric"),
    (lambda: NormalSampler([0, 0], [[1, 2], [2, 1]]), ValueError, "positive semi-definite"),
    (lambda: NormalSampler([[0, 0]], np.eye(2)), ValueError, "mean must be a vector"),
    (lambda: UniformSampler(2, low=NAN), ValueError, "low must be finite"),
    (lambda: UniformSampler(2, low=1, high=1), ValueError, "low must be < high"),
    (lambda: BallUniformSampler(2, radius=-1), ValueError, "radius"),
    (lambda: BallUniformSampler(2, radius=NAN), ValueError, "radius"),
    (lambda: SwissRollSampler(noise=-0.1), ValueError, "noise"),
    (lambda: SwissRollSampler(noise=NAN), ValueError, "noise"),
    (lambda: GaussianMixtureSampler([[0, 0], [1, NAN]]), ValueError, "centers contains NaN"),
    (lambda: GaussianMixtureSampler([[0, 0], [1, 1]], stds=[1, -1]), ValueError, "stds must be ≥ 0"),
    (lambda: GaussianMixtureSampler([[0, 0], [1, 1]], stds=[1, NAN]), ValueError, "stds contains NaN"),
    (lambda: GaussianMixtureSampler([[0, 0], [1, 1]], stds=[1, 1, 1]), ValueError, "stds must be one number"),
    (lambda: GaussianMixtureSampler([[0, 0], [1, 1]], weights=[1, NAN]), ValueError, "weights contains NaN"),
    (lambda: EightGaussiansSampler(radius=NAN), ValueError, "radius"),
    (lambda: EightGaussiansSampler(std=-1), ValueError, "std"),
    (lambda: GaussianGridSampler(2.5), ValueError, "n must be an integer"),
    (lambda: GaussianGridSampler(3, step=NAN), ValueError, "step"),
    (lambda: TensorDatasetSampler(torch.zeros(4, 2), noise_std=-1.0), ValueError, "noise_std"),
    (lambda: TensorDatasetSampler(torch.zeros(4, 2), noise_std=NAN), ValueError, "noise_std"),
    (lambda: LinearTransformer(StandardNormalSampler(2), [[1, NAN], [0, 1]]), ValueError, "weight contains NaN"),
    (lambda: LinearTransformer(StandardNormalSampler(2), np.eye(2), [1, 2, 3]), ValueError, "bias must be"),
    (lambda: LinearTransformer("not a sampler", np.eye(2)), TypeError, "base must be a sampler"),
    (lambda: WhiteningSampler(StandardNormalSampler(2), n_fit=1), ValueError, "n_fit"),
    (lambda: FittedGaussianMixtureSampler(torch.randn(3, 2), n_components=5), ValueError, "n_components"),
    (lambda: FittedGaussianMixtureSampler(torch.tensor([[0.0, NAN]] * 20)), ValueError, "data contains NaN"),
])
def test_samplers_refuse_bad_parameters_at_construction(make, error, needle):
    with pytest.raises(error, match=needle):
        make()


def test_sampler_n_is_checked():
    s = StandardNormalSampler(2, seed=0)
    for bad, error in ((2.5, ValueError), ("3", TypeError), (-1, ValueError)):
        with pytest.raises(error, match="n must be"):
            s.sample(bad)
    assert s.sample(np.int64(3)).shape == (3, 2) and s.sample(torch.tensor(2)).shape == (2, 2)


def test_samplers_refuse_a_missing_cuda_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for make in (lambda d: StandardNormalSampler(2, device=d), lambda d: TensorDatasetSampler(torch.zeros(3, 2), d),
                 lambda d: GaussianMixtureSampler([[0.0, 0.0]], device=d), lambda d: UniformSampler(3, device=d)):
        for device in ("cuda", "cuda:0", torch.device("cuda")):
            with pytest.raises(ValueError, match="device=.*CUDA is not available.*device='cpu'"):
                make(device)


def test_valid_parameters_draw_what_they_drew():
    """The checks change no valid sampler's draws (integer-like arguments of NumPy types included)."""
    a = GaussianGridSampler(np.int64(3), step=9, std=1, seed=np.int64(4)).sample(5)
    b = GaussianGridSampler(3, step=9.0, std=1.0, seed=4).sample(5)
    assert torch.equal(a, b)
    assert torch.equal(UniformSampler(2, 0, 1, seed=3).sample(4), UniformSampler(2.0, 0.0, 1.0, seed=3).sample(4))
