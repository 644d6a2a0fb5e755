"""Style transfer (issue 7): size-general ConvICNN, the trainer on image batches, unpaired data."""
import json

import numpy as np
import pytest
import torch

from src.configs import get_config
from src.experiments.style_transfer import StyleTransferConfig
from src.datasets import (
    MissingDataError, UniformImageSampler, cyclegan_domains, cyclegan_samplers, offline_photo_domains,
)
from src.distributions import TensorDatasetSampler
from src.icnn import ConvICNN, ConvICNN128, init_normal_
from src.w2gn import W2GN, W2GNConfig, train, w2gn_losses


# ---------------------------------------------------------------------------------- ConvICNN
def _chord_gap(net, size, n, seed=0):
    """max over random segments of ψ(t·x + (1−t)·y) − (t·ψ(x) + (1−t)·ψ(y)) (≤ 0 iff convex there)."""
    g = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(n, 3, size, size, generator=g, dtype=torch.float64)
    y = 2 * torch.randn(n, 3, size, size, generator=g, dtype=torch.float64)
    t = torch.rand(n, generator=g, dtype=torch.float64)
    with torch.no_grad():
        mid = net(t.view(n, 1, 1, 1) * x + (1 - t.view(n, 1, 1, 1)) * y)
        chord = t * net(x) + (1 - t) * net(y)
    return float((mid - chord).max())


@pytest.mark.parametrize("size,n", [(32, 16), (64, 8)])
def test_conv_icnn_convex_after_convexify(size, n):
    torch.manual_seed(0)
    net = ConvICNN(3, size, width=8).double()
    init_normal_(net, 0.1, generator=torch.Generator().manual_seed(1))  # large enough to be non-linear
    # negative control: with negative weights after the input stage the test does see non-convexity
    assert _chord_gap(net, size, n) > 1e-4
    net.convexify()
    for w in net.nonnegative_weights():
        assert (w >= 0).all()
    assert _chord_gap(net, size, n) <= 1e-9


@pytest.mark.parametrize("size", [32, 64])
def test_conv_icnn_gradient_is_monotone(size):
    """∇ψ of a convex ψ is monotone: <∇ψ(x) − ∇ψ(y), x − y> ≥ 0."""
    torch.manual_seed(0)
    net = ConvICNN(3, size, width=4).double()
    init_normal_(net, 0.1, generator=torch.Generator().manual_seed(2))
    net.convexify()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 3, size, size, generator=g, dtype=torch.float64)
    y = torch.randn(6, 3, size, size, generator=g, dtype=torch.float64)
    gx, gy = net.push_nograd(x), net.push_nograd(y)
    assert gx.shape == x.shape
    inner = ((gx - gy) * (x - y)).flatten(1).sum(1)
    assert (inner >= -1e-9 * inner.abs().max()).all()


def test_conv_icnn_shapes_and_errors():
    for size, n_down in [(16, 2), (32, 3), (64, 4), (128, 5)]:
        net = ConvICNN(3, size, 4)
        assert sum(isinstance(m, torch.nn.Conv2d) for m in net.convex) == n_down
        assert len(net.nonnegative_weights()) == n_down + 4
    with pytest.raises(ValueError, match="power of two"):
        ConvICNN(3, 48, 4)
    net = ConvICNN(3, 32, 4)
    with pytest.raises(ValueError, match=r"\[N, 3, 32, 32\]"):
        net(torch.zeros(2, 3, 64, 64))
    paper = ConvICNN128()
    assert paper.config() == {"channels": 3} and (paper.image_size, paper.width) == (128, 128)
    assert paper.convex[13].in_features == 128 * 4 * 4


# ------------------------------------------------------------------------- trainer on images
def test_trainer_runs_unchanged_on_image_batches():
    size = 16
    g = torch.Generator().manual_seed(0)
    A = torch.rand(64, 3, size, size, generator=g) * 2 - 1
    B = (torch.rand(64, 3, size, size, generator=g) * 2 - 1) * 0.5 + 0.2
    D, D_conj = ConvICNN(3, size, 4), ConvICNN(3, size, 4)
    init_normal_(D, 0.05, generator=torch.Generator().manual_seed(1))
    D.convexify()
    D_conj.load_state_dict(D.state_dict())
    before = [p.detach().clone() for p in D.parameters()]
    cfg = W2GNConfig(batch_size=4, lr=1e-3, lambda_cycle=10.0, cycle="both_mean", iterations=4,
                     log_every=2, progress=False)
    seen = []
    history = train(D, D_conj, TensorDatasetSampler(A, seed=1), TensorDatasetSampler(B, seed=2), cfg,
                    callback=lambda it, *_: seen.append(it))
    assert history["iteration"] == [1, 2, 4] and seen == [1, 2, 4]
    for key in ("loss", "w2", "cycle", "cycle_x", "cycle_y"):
        assert np.isfinite(history[key]).all()
    assert any(not torch.equal(a, b) for a, b in zip(before, D.parameters()))
    for net in (D, D_conj):  # convexify() ran after the steps
        assert all((w >= 0).all() for w in net.nonnegative_weights())
    # the loss of the images equals the hand-assembled objective (both_mean: λ·(R_X + R_Y)/2)
    X, Y = A[:4], B[:4]
    out = w2gn_losses(D, D_conj, X, Y, 10.0, "both_mean")
    fwd, inv = D.push(X), D_conj.push(Y)
    r_x = ((D_conj.push(fwd) - X) ** 2).mean()
    r_y = ((D.push(inv) - Y) ** 2).mean()
    corr = D(X).mean() + (inv * Y).flatten(1).sum(1).mean() - D(inv).mean()
    assert torch.allclose(out["loss"], corr + 10.0 * (r_x + r_y) / 2, rtol=1e-4, atol=1e-4)
    # a sampler of the wrong image size is refused with a message naming the shapes
    trainer = W2GN(D, D_conj, cfg)
    with pytest.raises(ValueError, match="expected"):
        trainer.fit(TensorDatasetSampler(torch.zeros(8, 3, 8, 8)), TensorDatasetSampler(B), iterations=1)


def test_uniform_image_sampler():
    s = UniformImageSampler((3, 8, 8), -1.0, 1.0, seed=5)
    x = s.sample(256)
    assert x.shape == (256, 3, 8, 8) and x.min() >= -1 and x.max() <= 1
    assert abs(float(x.mean())) < 0.02 and abs(float(x.var()) - 1 / 3) < 0.02
    assert torch.equal(UniformImageSampler((3, 8, 8), seed=5).sample(4), UniformImageSampler((3, 8, 8), seed=5).sample(4))


# ------------------------------------------------------------------------------------- data
def test_offline_photo_domains_are_real_distinct_and_labelled():
    dom = offline_photo_domains(image_size=16, n_train=64, n_eval=16, seed=0)
    assert "OFFLINE SUBSTITUTE" in dom.description
    assert dom.eval_a.shape == dom.eval_b.shape == (16, 3, 16, 16)
    x = dom.sampler_a.sample(8)
    assert x.shape == (8, 3, 16, 16) and x.min() >= 0 and x.max() <= 1  # noisy draws clamped to [0, 1]
    for imgs in (dom.eval_a, dom.eval_b):
        assert imgs.min() >= 0 and imgs.max() <= 1 and imgs.std() > 0.05  # real pictures, not blanks
    # domains differ: mean colour of B (stained tissue / fundus: red-brown) vs A
    mean_a, mean_b = dom.eval_a.mean((0, 2, 3)), dom.eval_b.mean((0, 2, 3))
    assert (mean_a - mean_b).abs().max() > 0.05
    # reproducible, and the evaluation crops are not the training crops
    again = offline_photo_domains(image_size=16, n_train=64, n_eval=16, seed=0)
    assert torch.equal(again.eval_a, dom.eval_a)
    assert not torch.equal(dom.sampler_a.data[:16], dom.eval_a)


def test_cyclegan_folder_missing_names_folder_and_source(tmp_path):
    with pytest.raises(MissingDataError) as err:
        cyclegan_samplers("summer2winter_yosemite", root=tmp_path / "nowhere", image_size=32)
    msg = str(err.value)
    assert str(tmp_path / "nowhere" / "trainA") in msg and "summer2winter_yosemite" in msg and "http" in msg
    (tmp_path / "empty" / "trainA").mkdir(parents=True)
    with pytest.raises(MissingDataError, match="no image files"):
        cyclegan_samplers(root=tmp_path / "empty", image_size=32)


def _write_images(folder, n, colour, size=240):
    from PIL import Image

    folder.mkdir(parents=True)
    rng = np.random.RandomState(0)
    for i in range(n):
        arr = np.clip(np.asarray(colour) + rng.randint(-20, 20, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"{i}.png")


def test_cyclegan_layout_loads_with_paper_augmentation(tmp_path):
    root = tmp_path / "toyset"
    _write_images(root / "trainA", 3, (200, 60, 60))
    _write_images(root / "trainB", 2, (60, 60, 200))
    _write_images(root / "testB", 2, (60, 60, 200))
    dom = cyclegan_domains("toyset", root=root, image_size=32, n_eval=4, seed=0)
    a = dom.sampler_a.sample(5)
    assert a.shape == (5, 3, 32, 32) and a.min() >= 0 and a.max() <= 1  # pixels in [0, 1], noise clamped
    assert a[:, 0].mean() > a[:, 2].mean() + 0.3  # domain A is red, B blue
    assert dom.eval_a.shape == (3, 3, 32, 32) and dom.eval_b.shape == (2, 3, 32, 32)
    assert float(dom.eval_b[:, 2].mean()) > float(dom.eval_b[:, 0].mean()) + 0.3
    # seeded: the same seed gives the same augmented draws
    a1 = cyclegan_samplers(root=root, image_size=32, seed=3)[0].sample(2)
    a2 = cyclegan_samplers(root=root, image_size=32, seed=3)[0].sample(2)
    assert torch.equal(a1, a2)
    # a bad image file is reported by name
    (root / "trainA" / "broken.jpg").write_bytes(b"not an image")
    sampler = cyclegan_samplers(root=root, image_size=32)[0]
    with pytest.raises(ValueError, match="broken.jpg"):
        sampler.images(range(len(sampler)))


# ------------------------------------------------------------------------------------ config
def test_paper_config_matches_paper():
    cfg = get_config(StyleTransferConfig, "paper")
    assert (cfg.data, cfg.image_size, cfg.width, cfg.init_scale) == ("cyclegan", 128, 128, 0.01)
    w = cfg.w2gn_config("w2gn", progress=False)
    assert (cfg.pretrain.iterations, w.batch_size, w.lambda_cycle, w.cycle) == (15_000, 8, 35_000, "both_mean")
    assert (w.lr, w.betas, w.conj_betas, w.iterations, w.l1) == (1e-4, (0.8, 0.99), (0.4, 0.4), 100_000, 1e-10)
    assert cfg.noise_std == 0.01 and w.seed == cfg.seed and not w.progress
    pre = cfg.pretrain.kwargs(progress=False)
    assert (pre["optimizer"], pre["lr"], tuple(pre["betas"]), pre["batch_size"], pre["iterations"]) == \
        ("adamax", 1e-3, (0.9, 0.99), 8, 15_000)
    assert (pre["reduction"], pre["l1"], pre["blow"]) == ("mean", 1e-10, 1.0)
    assert (cfg.pretrain_low, cfg.pretrain_high) == (-0.5, 1.5)
    for profile in ("cpu", "smoke"):
        small = get_config(StyleTransferConfig, profile)
        assert small.data == "known_map" and small.image_size <= 64
    json.dumps(cfg.to_dict())


def test_cpu_and_smoke_profiles_use_the_known_map_pair_and_image_pretraining():
    from src.datasets import known_map_domains
    from src.experiments.style_transfer import make_style_pair

    cpu, smoke = StyleTransferConfig.cpu(), StyleTransferConfig.smoke()
    assert cpu.data == smoke.data == "known_map" and cpu.pretrain_on == "images"
    assert cpu.n_eval >= 1000 and cpu.fid_samples >= 1000
    assert StyleTransferConfig().pretrain_on == "noise" and StyleTransferConfig().data == "cyclegan"
    dom = known_map_domains(image_size=8, n_train=8, n_eval=2, seed=0)
    cfg = smoke.replace(image_size=8, width=4, pretrain__iterations=3)
    D, D_conj, loss = make_style_pair(cfg, domains=dom, progress=False)
    assert loss >= 0 and D.sample_shape == (3, 8, 8)
    with pytest.raises(ValueError, match="domains"):
        make_style_pair(cfg, progress=False)
