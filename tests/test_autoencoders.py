"""src.autoencoders beyond what tests/experiments/test_latent_ot.py and test_reference_layouts.py
check: the standardised codes, the sizes the layout accepts, the perceptual term of the loss and
the perceptual loss itself (on a small stand-in for VGG16), continuing and stopping training,
non-finite losses, encode/decode in batches, and checkpoints of another layout."""
import math

import pytest
import torch
from torch import nn

from src.autoencoders import (VGG_WEIGHTS_ENV, Autoencoder, CelebaAutoencoder, VGGPerceptualLoss, autoencoder_loss,
                              decode, encode, find_vgg16_weights, load_autoencoder, save_autoencoder,
                              train_autoencoder)

torch.set_num_threads(1)


def test_codes_are_standardised_per_coordinate_in_training_mode():
    ae = Autoencoder(1, 16, 4, 6).train()
    x = torch.rand(64, 1, 16, 16) * 2 - 1
    seen = []                                  # the norm's input (training mode: dropout, so capture it)
    ae.encoder.fc_out[2].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().clone()))
    z = ae.encoder(x)
    pre = seen[0]
    v = pre.var(0, unbiased=False)
    torch.testing.assert_close(z.mean(0), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.var(0, unbiased=False), v / (v + 1e-5), atol=0, rtol=1e-3)   # 1 up to BN's ε
    torch.testing.assert_close(z, (pre - pre.mean(0)) / (v + 1e-5).sqrt(), atol=1e-5, rtol=1e-4)
    assert ae.latent_dim == 6


@pytest.mark.parametrize("size", [8, 16, 32])
def test_every_size_four_times_a_power_of_two_round_trips(size):
    k = int(math.log2(size // 4))
    ae = Autoencoder(3, size, 2, 5).eval()
    convs = [m for m in ae.encoder.features if isinstance(m, nn.Conv2d)]
    assert len(convs) == k + 1 and convs[-1].out_channels == 2 * 2 ** (k - 1)   # down to 4×4, then 1×1
    assert ae.decoder.c0 == 2 * 2 ** (k - 1)
    with torch.no_grad():
        assert ae(torch.zeros(2, 3, size, size)).shape == (2, 3, size, size)


@pytest.mark.parametrize("size", [4, 12, 24, 28, 7])
def test_other_sizes_are_refused_with_a_hint(size):
    with pytest.raises(ValueError, match=rf"4·2\^k ≥ 8 .* got {size}; pad or resize"):
        Autoencoder(1, size, 2, 4)


def test_celeba_autoencoder_is_the_64px_rgb_layout():
    ae = CelebaAutoencoder(init_num_filters=4, embedding_dim=9)
    assert ae.config() == dict(channels=3, image_size=64, width=4, latent_dim=9)
    assert ae.decoder.c0 == 4 * 8                                   # 8f channels at 4×4 for 64×64


class _MeanAbs(nn.Module):
    def forward(self, a, b):
        return (a - b).abs().mean() * 10


def test_autoencoder_loss_adds_the_weighted_perceptual_term():
    r, t = torch.zeros(2, 1, 4, 4, requires_grad=True), torch.full((2, 1, 4, 4), 0.5)
    out = autoencoder_loss(r, t, l1_weight=2.0, mse_weight=3.0, perceptual=_MeanAbs(), perceptual_weight=0.5)
    assert out["vgg"].item() == pytest.approx(5.0)
    assert out["loss"].item() == pytest.approx(2 * 0.5 + 3 * 0.25 + 0.5 * 5.0)
    assert not out["vgg"].requires_grad and not out["l1"].requires_grad and out["loss"].requires_grad
    out["loss"].backward()
    # d/dr of 2·|r − t| + 3·(r − t)² + 0.5·10·|r − t| (means over 32 pixels) at r − t = −0.5
    torch.testing.assert_close(r.grad, torch.full_like(r, (-2 - 3 - 5) / 32))


# ------------------------------------------------------------------- the perceptual loss
class _TinyVGG(nn.Module):
    """Stands in for torchvision's vgg16: a ``features`` Sequential that loads a state dict."""

    def __init__(self, weights=None):
        super().__init__()
        self.features = nn.Sequential(nn.Identity(), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))


def test_perceptual_loss_on_a_stand_in_network(monkeypatch, tmp_path):
    from src.tv import import_torchvision

    tv = import_torchvision()
    torch.manual_seed(0)
    path = tmp_path / "vgg16-test.pth"
    torch.save(_TinyVGG().state_dict(), path)
    monkeypatch.setattr(tv.models, "vgg16", _TinyVGG)
    loss = VGGPerceptualLoss(weights=path, layers=(4, 0))
    assert loss.layers == (0, 4) and len(loss.features) == 5          # cut after the last compared layer
    assert all(not p.requires_grad for p in loss.features.parameters())
    loss.train()
    assert loss.training and not loss.features.training              # the network stays in eval mode
    # the compared features: layer 0 is the input, mapped from [-1, 1] to ImageNet's normalisation
    grey = torch.zeros(1, 1, 2, 2)                                     # mid grey, one channel
    feats = loss._feats(grey)
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    torch.testing.assert_close(feats[0][0, :, 0, 0], (0.5 - mean) / std)
    assert feats[1].shape == (1, 4, 2, 2)
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    y = (torch.rand(2, 3, 8, 8) * 2 - 1).requires_grad_(True)
    assert loss(x, x).item() == 0.0
    value = loss(y, x)
    expected = sum(((a - b) ** 2).mean() for a, b in zip(loss._feats(y), loss._feats(x)))
    torch.testing.assert_close(value, expected)
    value.backward()
    assert y.grad is not None and y.grad.abs().sum() > 0              # differentiable in the images


def test_vgg16_weights_are_looked_up_in_env_then_hub(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(VGG_WEIGHTS_ENV, raising=False)
    assert find_vgg16_weights() is None
    with pytest.raises(FileNotFoundError, match="no VGG16 weights"):
        VGGPerceptualLoss()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    hub_file = tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    hub_file.write_bytes(b"")
    assert find_vgg16_weights() == hub_file
    env_file = tmp_path / "mine.pth"
    env_file.write_bytes(b"")
    monkeypatch.setenv(VGG_WEIGHTS_ENV, str(env_file))
    assert find_vgg16_weights() == env_file                            # the env variable comes first
    monkeypatch.setenv(VGG_WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(FileNotFoundError, match=VGG_WEIGHTS_ENV):
        find_vgg16_weights()


# ------------------------------------------------------------------- training
def _tiny(seed=0):
    torch.manual_seed(seed)
    return Autoencoder(1, 8, 2, 4)


def test_training_continues_its_history_and_a_callback_can_stop_it():
    X = torch.rand(16, 1, 8, 8) * 2 - 1
    ae = _tiny()
    opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
    hist = train_autoencoder(ae, X, iterations=4, batch_size=4, log_every=2, optimizer=opt, progress=False)
    assert hist["iteration"] == [1, 2, 4] and not ae.training
    assert set(hist) == {"iteration", "loss", "l1", "mse", "time_s"}
    hist = train_autoencoder(ae, X, iterations=3, batch_size=4, log_every=2, optimizer=opt, history=hist,
                             progress=False)
    assert hist["iteration"] == [1, 2, 4, 5, 6, 7]                      # numbered on from the history
    assert hist["time_s"] == sorted(hist["time_s"])
    assert opt.state[next(iter(ae.parameters()))]["step"].item() == 7  # the same optimiser went on
    # a Dataset of (image, label) pairs works too, and returning False stops at that step
    data = torch.utils.data.TensorDataset(X, torch.zeros(16))
    seen = []
    hist = train_autoencoder(_tiny(), data, iterations=10, batch_size=4, log_every=1, progress=False,
                             callback=lambda step, ae, logs: seen.append(step) or step < 3)
    assert seen == [1, 2, 3] and hist["iteration"] == [1, 2, 3]


def test_non_finite_loss_stops_training_with_the_step():
    X = torch.zeros(8, 1, 8, 8)
    X[3] = float("nan")
    with pytest.raises(FloatingPointError, match="at step 1; lower the learning rate"):
        train_autoencoder(_tiny(), X, iterations=2, batch_size=8, progress=False)


def test_training_is_reproducible_with_its_seed():
    X = torch.rand(16, 1, 8, 8) * 2 - 1
    runs = [train_autoencoder(_tiny(), X, iterations=3, batch_size=4, log_every=1, seed=s, progress=False)["loss"]
            for s in (5, 5, 6)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


# ------------------------------------------------------------------- use and storage
def test_encode_of_a_dataset_equals_encode_of_the_tensor_and_decode_is_batched():
    ae = _tiny().eval()
    X = torch.rand(10, 1, 8, 8) * 2 - 1
    z = encode(ae, X, batch_size=3)
    torch.testing.assert_close(encode(ae, torch.utils.data.TensorDataset(X, torch.arange(10)), batch_size=4), z)
    with torch.no_grad():
        torch.testing.assert_close(z, ae.encoder(X))
    ae.train()
    torch.testing.assert_close(decode(ae, z, batch_size=3), decode(ae, z, batch_size=100))
    assert not ae.training                                             # decode switches to eval mode
    assert decode(ae, z).device == z.device and not decode(ae, z).requires_grad


def test_loading_a_checkpoint_of_another_layout_says_so(tmp_path):
    path = save_autoencoder(tmp_path / "ae.pt", _tiny(), {"iteration": [1]}, note="x")
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["history"] == {"iteration": [1]} and ckpt["extra"] == {"note": "x"}
    ckpt["arch"]["latent_dim"] = 5                                     # the weights are of latent 4
    torch.save(ckpt, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="does not match the autoencoder layout .*'latent_dim': 5"):
        load_autoencoder(tmp_path / "other.pt")
