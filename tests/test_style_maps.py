"""The known optimal map of the style-transfer substitute (issue 34): T = ∇φ with φ convex."""
import pytest
import torch

from src.style_maps import ConvexStyleMap, default_style_map, gaussian_colour_map


def _images(n, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g, dtype=torch.float64)


def test_map_is_the_gradient_of_its_potential():
    T = default_style_map()
    x = _images(3).requires_grad_(True)
    (grad,) = torch.autograd.grad(T.potential(x).sum(), x)
    assert torch.allclose(grad, T(x.detach()), atol=1e-10)


def test_jacobian_symmetric_and_positive_definite():
    T = default_style_map()
    x = _images(1, size=4)[0]
    jac = torch.autograd.functional.jacobian(lambda v: T(v.view(1, 3, 4, 4)).flatten(), x.flatten())
    assert torch.allclose(jac, jac.T, atol=1e-12)
    eig = torch.linalg.eigvalsh(jac)
    assert float(eig.min()) >= T.strong_monotonicity - 1e-9 > 0


def test_strongly_monotone_on_random_pairs_and_range_preserving():
    T = default_style_map()
    x, y = _images(64, seed=1), _images(64, seed=2)
    inner = ((T(x) - T(y)) * (x - y)).flatten(1).sum(1)
    assert (inner > 0).all()
    assert (inner >= T.strong_monotonicity * ((x - y) ** 2).flatten(1).sum(1) - 1e-9).all()
    corners = torch.stack([torch.zeros(3, 8, 8), torch.ones(3, 8, 8)]).double()
    for z in (x, corners, (x > 0.5).double()):
        out = T(z)
        assert out.min() >= 0 and out.max() <= 1 + 1e-12


def test_spatial_part_matters_and_invalid_settings_fail():
    T = default_style_map()
    x = _images(4, size=16)
    flat = torch.full_like(x, 0.3)
    # on a flat image the blur does nothing: T acts per pixel; on a textured one it does not
    assert torch.allclose(T(flat), T.w_tone * T.tone(flat) + (T.w_mix * T.colour_mix(flat) + T.w_blur * flat))
    assert float((T.blur(x) - x).abs().max()) > 0.1
    with pytest.raises(ValueError):
        ConvexStyleMap(w_tone=0.5, w_mix=0.5, w_blur=0.5)
    with pytest.raises(ValueError):
        ConvexStyleMap(beta=(0.7, 0, 0), kappa=(0.4, 0.3, 0.3))
    with pytest.raises(ValueError):
        ConvexStyleMap(mix=((1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.0, 0.0, 1.0)))


def test_colour_baseline_recovers_an_affine_colour_map():
    a = _images(32, seed=3)
    m = torch.tensor([[0.6, 0.3, 0.1], [0.3, 0.4, 0.3], [0.1, 0.3, 0.6]], dtype=torch.float64)
    b = torch.einsum("cd,nd...->nc...", m, a) + 0.05
    g = gaussian_colour_map(a, b)
    assert torch.allclose(g(a), b, atol=1e-6)
