"""Toy targets and the mode-coverage measurement (src/toy.py)."""
import math

import pytest
import torch

from src.configs import get_config
from src.distributions import StandardNormalSampler
from src.experiments.toy import (ToyConfig, EnergyTracker, make_toy_target, mode_coverage, pretrain_toy_icnn,
                                 reseeded_sampler, share_histogram, train_toy)


@pytest.fixture(scope="module")
def grid100():
    return make_toy_target("100g", seed=3, n_fit=50_000)


@pytest.mark.parametrize("name,k", [("8g", 8), ("25g", 25), ("49g", 49), ("100g", 100)])
def test_targets_are_whitened_mixtures(name, k):
    t = make_toy_target(name, seed=0, n_fit=50_000)
    y = t.sampler.sample(50_000).double()
    assert y.shape == (50_000, 2)
    assert y.mean(0).abs().max() < 0.03
    assert (torch.cov(y.T) - torch.eye(2, dtype=torch.float64)).abs().max() < 0.03
    assert t.centers.shape == (k, 2) and t.stds.shape == (k,)
    # the whitened centres are the raw centres through the sampler's affine map: std 1 raw
    # components become std 1/σ_raw; σ_raw² = var(centres) + 1
    raw_sd = math.sqrt(float(t.sampler.base.centers.double().var(0, unbiased=False).mean()) + 1.0)
    assert t.stds.double().mean().item() == pytest.approx(1.0 / raw_sd, rel=0.02)


def test_swiss_roll_target_has_no_modes():
    t = make_toy_target("swiss", seed=0, n_fit=20_000)
    assert not t.is_mixture and t.centers is None
    y = t.sampler.sample(20_000).double()
    assert (torch.cov(y.T) - torch.eye(2, dtype=torch.float64)).abs().max() < 0.05


def test_unknown_target_raises():
    with pytest.raises(ValueError, match="unknown toy target"):
        make_toy_target("9g")


def test_identity_map_on_100_gaussians_scores_0_30(grid100):
    # N(0, I) pushed by the identity: only ~30 % of the mass falls within 3 stds of a centre,
    # and the outer ring of the 10×10 grid receives (almost) nothing
    x = StandardNormalSampler(2, seed=11).sample(10_000)
    cov = mode_coverage(x, grid100.centers, grid100.stds, grid100.weights)
    assert cov["n_modes"] == 100
    assert cov["mass_in_modes"] == pytest.approx(0.30, abs=0.015)
    assert cov["modes_covered"] < 80
    assert len(cov["dropped"]) == 100 - cov["modes_covered"]


def test_exact_samples_cover_all_100_modes(grid100):
    y = grid100.sampler.sample(10_000)
    cov = mode_coverage(y, grid100.centers, grid100.stds, grid100.weights)
    assert cov["modes_covered"] == 100 and cov["dropped"] == []
    # P(‖z‖ ≤ 3) for a 2-D standard normal is 1 − e^{−4.5} ≈ 0.989
    assert cov["mass_in_modes"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert sum(cov["shares"]) == pytest.approx(cov["mass_in_modes"])
    # ~99 samples expected per component: the smallest of 100 Poisson counts is ~75
    assert 0.6 < cov["weakest_share"] < 0.99


def test_hand_made_coverage_counts():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    # 50 points at centre 0, 45 at centre 1, 4 at centre 2 (below 20 % of its 25 %), 1 far away
    pts = torch.cat([torch.zeros(50, 2), torch.tensor([[10.5, 0.0]]).repeat(45, 1),
                     torch.tensor([[0.0, 12.9]]).repeat(4, 1), torch.tensor([[5.0, 5.0]])])
    cov = mode_coverage(pts, centers, 1.0)
    assert cov["mass_in_modes"] == pytest.approx(0.99)
    assert cov["shares"] == pytest.approx([0.50, 0.45, 0.04, 0.0])
    assert cov["modes_covered"] == 2 and cov["dropped"] == [2, 3]
    assert cov["weakest_share"] == 0.0
    assert mode_coverage(pts[:95], centers[:2], 1.0)["weakest_share"] == pytest.approx((45 / 95) / 0.5)
    text = share_histogram(cov)
    assert "4 components" in text and "min 0.00" in text


def test_mode_coverage_rejects_bad_shapes():
    with pytest.raises(ValueError, match="share D"):
        mode_coverage(torch.zeros(5, 3), torch.zeros(4, 2), 1.0)


def test_energy_tracker_records_both_maps():
    from src.icnn import DenseICNN

    torch.manual_seed(0)
    D = DenseICNN(2, [8, 8], rank=1, dropout=0.0)
    D_conj = DenseICNN(2, [8, 8], rank=1, dropout=0.0)
    X, Y = torch.randn(200, 2), torch.randn(200, 2) + 3.0
    tr = EnergyTracker(X, Y, every=10)
    tr(1, D, D_conj, {})
    tr(5, D, D_conj, {})  # not a multiple of `every`: skipped
    tr(10, D, D_conj, {})
    assert tr.iterations == [1, 10] and len(tr.forward) == len(tr.inverse) == 2
    assert D.training and all(v > 0 for v in tr.forward + tr.inverse)


def test_toy_config_presets():
    paper = get_config(ToyConfig, "paper")
    assert paper.icnn.hidden == (128, 128, 64) and paper.icnn.rank == 3 and paper.w2gn.batch_size == 1024
    assert paper.iterations_for("8g") == 30_000 and paper.iterations_for("100g") == 100_000
    assert paper.w2gn.cycle == "inverse" and paper.w2gn.lambda_cycle == 1.0 and paper.icnn.init_scale == 0.5
    assert paper.w2gn.lr == 1e-3 and paper.w2gn.lr_schedule == "constant" and paper.w2gn.warmup == 0  # the paper's
    assert paper.seeds == (0, 1, 2) and paper.seeds_target == "100g"
    cpu = get_config(ToyConfig, "cpu")
    assert cpu.w2gn.lr_schedule == "cosine" and cpu.w2gn.lr_end < cpu.w2gn.lr
    assert cpu.seeds == (0, 1, 2) and cpu.seeds_target in cpu.targets
    assert get_config(ToyConfig, "smoke").profile == "smoke"
    assert ToyConfig(seed=1, extra_seeds=(1, 5)).seeds == (1, 5)


def test_reseeded_sampler_keeps_the_whitening_and_draws_anew(grid100):
    a, b = reseeded_sampler(grid100.sampler, 7), reseeded_sampler(grid100.sampler, 7)
    c = reseeded_sampler(grid100.sampler, 8)
    assert torch.equal(a.mean, grid100.sampler.mean) and torch.equal(a.inv_root, grid100.sampler.inv_root)
    ya = a.sample(500)
    assert torch.equal(ya, b.sample(500)) and not torch.equal(ya, c.sample(500))
    state = grid100.sampler.state_dict()
    reseeded_sampler(grid100.sampler, 9).sample(10)
    assert torch.equal(grid100.sampler.state_dict()["base"]["nested"]["generator"]["torch"],
                       state["base"]["nested"]["generator"]["torch"])   # the original is untouched


def test_train_toy_trains_copies_and_seeds_differ():
    cfg = ToyConfig.smoke().replace(icnn__hidden=(8, 8), pretrain__iterations=3, w2gn__iterations=3,
                                    w2gn__progress=False, n_fit=2000)
    t = make_toy_target("8g", seed=0, n_fit=2000)
    D0, loss = pretrain_toy_icnn(cfg)
    D1, _ = pretrain_toy_icnn(cfg, seed=1)
    assert math.isfinite(loss)
    assert not all(torch.equal(p, q) for p, q in zip(D0.parameters(), D1.parameters()))
    before = [p.detach().clone() for p in D0.parameters()]
    r = train_toy(cfg, "8g", D0, StandardNormalSampler(2, seed=1), t.sampler, seed=1)
    assert all(torch.equal(p, q) for p, q in zip(D0.parameters(), before))   # D0 is not trained
    assert not r["D"].training and not r["D_conj"].training and len(r["history"]["loss"]) >= 1
    assert r["seconds"] > 0 and r["cpu_seconds"] >= 0
    assert not all(torch.equal(p, q) for p, q in zip(r["D"].parameters(), before))
