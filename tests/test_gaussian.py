import numpy as np
import ot
import pytest

from src.gaussian import gaussian_ot_map, random_gaussian_problem, sqrtm_psd, w2_squared


def random_spd(d, rng, cond=10.0):
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (q * np.exp(rng.uniform(0, np.log(cond), d))) @ q.T


@pytest.mark.parametrize("d", [2, 7, 512])
def test_map_and_w2_against_pot(d):
    rng = np.random.default_rng(d)
    mx, my = rng.standard_normal(d), rng.standard_normal(d) * 3
    Sx, Sy = random_spd(d, rng), random_spd(d, rng)
    A, b = gaussian_ot_map(mx, Sx, my, Sy)
    A_pot, b_pot = ot.gaussian.bures_wasserstein_mapping(mx, my, Sx, Sy)
    np.testing.assert_allclose(A, A_pot, rtol=1e-6, atol=1e-8 * d)
    np.testing.assert_allclose(b, b_pot, rtol=1e-6, atol=1e-7 * d)
    w2_pot = ot.gaussian.bures_wasserstein_distance(mx, my, Sx, Sy) ** 2
    np.testing.assert_allclose(w2_squared(mx, Sx, my, Sy), w2_pot, rtol=1e-7)
    # the map pushes N(mx, Sx) to N(my, Sy): A Sx A = Sy, A mx + b = my
    np.testing.assert_allclose(A @ Sx @ A, Sy, atol=1e-7 * d)
    np.testing.assert_allclose(A @ mx + b, my, atol=1e-8 * d)


def test_sqrtm_psd():
    rng = np.random.default_rng(0)
    S = random_spd(50, rng)
    R = sqrtm_psd(S)
    np.testing.assert_allclose(R @ R, S, atol=1e-10)
    np.testing.assert_allclose(sqrtm_psd(S, inverse=True) @ R, np.eye(50), atol=1e-10)


def test_random_problem_matches_paper_family():
    pb = random_gaussian_problem(16, seed=0)
    ev = np.sort(np.linalg.eigvalsh(pb.cov_x))
    np.testing.assert_allclose(ev, np.exp(np.linspace(np.log(0.5), np.log(2), 16)) ** 2, rtol=1e-10)
    assert not np.allclose(pb.cov_x, pb.cov_y)  # different rotations
    pb2 = random_gaussian_problem(16, seed=0)
    np.testing.assert_array_equal(pb.cov_y, pb2.cov_y)  # seeded
    assert pb.var_y == pytest.approx(np.trace(pb.cov_y))
    assert pb.w2 == pytest.approx(w2_squared(pb.mean_x, pb.cov_x, pb.mean_y, pb.cov_y))
