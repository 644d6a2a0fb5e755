"""The reference implementation's checkpoints load unchanged: ConvICNN128, the CelebA
autoencoder and LeNet. Each reference-layout network is written out here from its layer list
(plain ``nn.Sequential``/modules, independent of ``src``), given random weights (BatchNorm running
statistics included), and its state dict is loaded strictly into our class; outputs must agree."""
import numpy as np
import pytest
import torch
from torch import nn

from src.autoencoders import CelebaAutoencoder, train_autoencoder
from src.classifiers import LeNet
from src.datasets import CelebAFolder, MissingDataError
from src.icnn import ConvICNN128

torch.set_num_threads(1)


def _randomise_(net: nn.Module, seed: int, scale: float = 1.0) -> nn.Module:
    """Every parameter ~ N(0, 1)·scale/√fan-in; BatchNorm running stats random (var > 0)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = int(np.prod(p.shape[1:])) if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=g) * scale / fan_in ** 0.5)
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
    return net


def _close(a: torch.Tensor, b: torch.Tensor, rel: float = 1e-4) -> None:
    assert a.shape == b.shape
    err = float((a - b).abs().max())
    assert err <= rel * float(b.abs().max()), f"max abs difference {err} vs max |ref| {float(b.abs().max())}"


# ------------------------------------------------------------------------------ ConvICNN128
class RefConvICNN128(nn.Module):
    def __init__(self, channels=3):
        super().__init__()
        self.first_linear = nn.Sequential(
            nn.Conv2d(channels, 128, 3, padding=1, bias=False), nn.Conv2d(128, 128, 3, padding=1, bias=False),
            nn.Conv2d(128, 128, 3, padding=1, bias=False), nn.Conv2d(128, 128, 3, padding=1, bias=True))
        self.first_squared = nn.Sequential(
            nn.Conv2d(channels, 128, 3, padding=1, bias=False), nn.Conv2d(128, 128, 3, padding=1, bias=False),
            nn.Conv2d(128, 128, 3, padding=1, bias=False), nn.Conv2d(128, 128, 3, padding=1, bias=False))
        down = lambda: nn.Conv2d(128, 128, 3, stride=2, padding=1, bias=True)  # noqa: E731
        self.convex = nn.Sequential(
            nn.CELU(),
            down(), nn.CELU(), down(), nn.CELU(), down(), nn.CELU(), down(), nn.CELU(), down(), nn.CELU(),
            nn.Flatten(), nn.CELU(),
            nn.Linear(2048, 128), nn.CELU(), nn.Linear(128, 64), nn.CELU(), nn.Linear(64, 32), nn.CELU(),
            nn.Linear(32, 1))

    def forward(self, x):
        return self.convex(self.first_linear(x) + self.first_squared(x) ** 2).squeeze(-1)


def test_conv_icnn128_loads_reference_state_dict_and_agrees():
    ref = _randomise_(RefConvICNN128(), seed=0)
    sd = ref.state_dict()
    assert "first_linear.3.bias" in sd and "first_linear.0.bias" not in sd
    assert not any(k.startswith("first_squared") and k.endswith("bias") for k in sd)
    assert {int(k.split(".")[1]) for k in sd if k.startswith("convex")} == {1, 3, 5, 7, 9, 13, 15, 17, 19}
    ours = ConvICNN128()
    assert set(ours.state_dict()) == set(sd)
    ours.load_state_dict(sd)  # strict
    x = torch.rand(2, 3, 128, 128, generator=torch.Generator().manual_seed(1))
    xr = x.clone().requires_grad_(True)
    psi_ref = ref(xr)
    (grad_ref,) = torch.autograd.grad(psi_ref.sum(), xr)
    psi, grad = ours.value_and_push(x)
    assert psi.shape == (2,)
    _close(psi.detach(), psi_ref.detach())
    _close(grad.detach(), grad_ref)
    # convexify clamps exactly the conv/linear weights inside `convex`
    ours.convexify()
    for name, p in ours.named_parameters():
        clamped = name.startswith("convex") and name.endswith("weight")
        assert torch.equal(p, sd[name].clamp(min=0) if clamped else sd[name]), name


# ------------------------------------------------------------------------------ autoencoder
class _RefEncoder(nn.Module):
    def __init__(self, f, emb):
        super().__init__()
        block = lambda a, b: [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b),  # noqa: E731
                              nn.LeakyReLU(0.2), nn.Dropout(0.05)]
        self.features = nn.Sequential(
            nn.Conv2d(3, f, 4, 2, 1, bias=False), nn.LeakyReLU(0.2), nn.Dropout(0.05),
            *block(f, 2 * f), *block(2 * f, 4 * f), *block(4 * f, 8 * f),
            nn.Conv2d(8 * f, 8 * f, 4, 2, 0, bias=False))
        self.fc_out = nn.Sequential(nn.Linear(8 * f, emb), nn.LeakyReLU(0.2), nn.BatchNorm1d(emb, affine=False))

    def forward(self, x):
        return self.fc_out(self.features(x).flatten(1))


class _RefDecoder(nn.Module):
    def __init__(self, f, emb):
        super().__init__()
        self.f = f
        self.fc_in = nn.Sequential(nn.Linear(emb, 8 * f), nn.LeakyReLU(0.2), nn.BatchNorm1d(8 * f))
        block = lambda a, b: [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b),  # noqa: E731
                              nn.ReLU(), nn.Dropout(0.05)]
        self.features = nn.Sequential(
            nn.ConvTranspose2d(8 * f, 8 * f, 4, 1, 0, bias=False), nn.BatchNorm2d(8 * f), nn.ReLU(), nn.Dropout(0.05),
            *block(8 * f, 4 * f), *block(4 * f, 2 * f), *block(2 * f, f),
            nn.ConvTranspose2d(f, 3, 4, 2, 1, bias=False), nn.Tanh())

    def forward(self, z):
        return self.features(self.fc_in(z).view(-1, 8 * self.f, 1, 1))


class RefCelebaAutoencoder(nn.Module):
    def __init__(self, init_num_filters=128, embedding_dim=128):
        super().__init__()
        self.encoder = _RefEncoder(init_num_filters, embedding_dim)
        self.decoder = _RefDecoder(init_num_filters, embedding_dim)


def test_celeba_autoencoder_loads_reference_state_dict_and_agrees():
    ref = _randomise_(RefCelebaAutoencoder(128, 128), seed=2).eval()
    sd = ref.state_dict()
    assert {k.split(".")[0] + "." + k.split(".")[1] for k in sd} == {
        "encoder.features", "encoder.fc_out", "decoder.fc_in", "decoder.features"}
    ours = CelebaAutoencoder(init_num_filters=128, embedding_dim=128)
    assert set(ours.state_dict()) == set(sd)
    ours.load_state_dict(sd)  # strict
    ours.eval()
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(3)) * 2 - 1
    z = torch.randn(3, 128, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        _close(ours.encoder(x), ref.encoder(x))
        _close(ours.decoder(z), ref.decoder(z))
        _close(ours(x), ref.decoder(ref.encoder(x)))
    # the latent BatchNorm standardises the codes in training mode (what makes N(0, I) decodable)
    ours.train()
    codes = ours.encoder(torch.rand(16, 3, 64, 64, generator=torch.Generator().manual_seed(5)) * 2 - 1)
    assert torch.allclose(codes.mean(0), torch.zeros(128), atol=1e-4)
    assert torch.allclose(codes.var(0, unbiased=False), torch.ones(128), atol=1e-2)


# ------------------------------------------------------------------------------------ LeNet
class RefLeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(256, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def features(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        return torch.relu(self.fc2(torch.relu(self.fc1(x.view(x.shape[0], -1)))))

    def forward(self, x):
        return self.fc3(self.features(x))


def test_lenet_loads_reference_state_dict_and_agrees():
    ref = _randomise_(RefLeNet(), seed=6).eval()
    ours = LeNet()
    ours.load_state_dict(ref.state_dict())  # strict
    ours.eval()
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        _close(ours(x), ref(x))
        _close(ours.features(x), ref.features(x))
    assert ours.features(x).shape == (8, 84)


# ------------------------------------------------------------------------------- bug fixes
def _write_images(folder, names):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (20, 16, 3), dtype=np.uint8)).save(folder / name)


def test_celeba_folder_split_is_held_out(tmp_path):
    names = [f"{i:06d}.jpg" for i in range(1, 41)]
    _write_images(tmp_path / "img_align_celeba", names)
    splits = {s: [p.name for p in CelebAFolder(tmp_path, image_size=8, split=s).files]
              for s in ("train", "validation", "test", "all")}
    # without a partition file: the sorted list cut at CelebA's standard fractions (80.34 %, 9.81 %)
    assert splits["train"] == names[:32] and splits["validation"] == names[32:36] and splits["test"] == names[36:]
    assert splits["all"] == names
    assert CelebAFolder(tmp_path, image_size=8, split="test", limit=2).files[-1].name == names[37]
    # with CelebA's partition file its assignment is used
    labels = {n: i % 3 for i, n in enumerate(names)}
    (tmp_path / "list_eval_partition.txt").write_text("".join(f"{n} {p}\n" for n, p in labels.items()))
    for k, s in enumerate(("train", "validation", "test")):
        got = [p.name for p in CelebAFolder(tmp_path, image_size=8, split=s).files]
        assert got == [n for n in names if labels[n] == k]
    with pytest.raises(ValueError, match="split"):
        CelebAFolder(tmp_path, split="val")
    (tmp_path / "list_eval_partition.txt").write_text("other.jpg 2\n")
    with pytest.raises(MissingDataError, match="split 'test'"):
        CelebAFolder(tmp_path, split="test")


def test_train_autoencoder_refuses_data_smaller_than_a_batch(tmp_path):
    import signal

    from src.autoencoders import Autoencoder

    def hang(*_):
        raise TimeoutError("train_autoencoder did not return")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    try:
        ae = Autoencoder(1, 8, 2, 4)
        with pytest.raises(ValueError, match="3 images, fewer than one batch of 4"):
            train_autoencoder(ae, torch.zeros(3, 1, 8, 8), iterations=2, batch_size=4, progress=False)
        dataset = torch.utils.data.TensorDataset(torch.zeros(3, 1, 8, 8))
        with pytest.raises(ValueError, match="fewer than one batch"):
            train_autoencoder(ae, dataset, iterations=2, batch_size=4, progress=False)
        loader = torch.utils.data.DataLoader(dataset, batch_size=4, drop_last=True)
        with pytest.raises(ValueError, match="no batch"):
            train_autoencoder(ae, loader, iterations=2, batch_size=4, progress=False)
        # exactly one batch is enough
        hist = train_autoencoder(ae, torch.zeros(4, 1, 8, 8), iterations=2, batch_size=4, progress=False)
        assert hist["iteration"][-1] == 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------------ reference settings
def test_presets_carry_the_reference_settings():
    from src.configs import get_config
    from src.experiments.autoencoder import AEConfig
    from src.experiments.domain_adaptation import DomainAdaptationConfig
    from src.experiments.gaussians import GaussiansConfig
    from src.experiments.latent_ot import LatentOTConfig
    from src.experiments.style_transfer import StyleTransferConfig
    from src.experiments.toy import ToyConfig

    for profile in ("paper", "cpu"):
        lat = get_config(LatentOTConfig, profile)
        assert lat.icnn.dropout == 0.0
        # ψ_θ (D) is the potential in the correlation, ψ_ω (D_conj) the generator noise -> codes:
        # the reference's generator `D` has betas (0.5, 0.999), its `D_conj` (0.5, 0.995)
        w = lat.w2gn_config("w2gn", progress=False)
        assert (w.betas, w.conj_betas, w.weight_decay) == ((0.5, 0.995), (0.5, 0.999), 1e-10)
        # the reference's constant lr 3e-4 in `paper`; `cpu` warms up to 3e-3 and decays it (an explicit option)
        assert (w.lr, w.lr_schedule) == ((3e-4, "constant") if profile == "paper" else (3e-3, "cosine"))
        pre = lat.pretrain
        assert (pre.lr, tuple(pre.betas), pre.weight_decay, pre.blow, pre.tol, pre.iterations) == \
            (1e-4, (0.8, 0.9), 1e-10, 3.0, 1e-3, 5000)
        da = get_config(DomainAdaptationConfig, profile)
        assert da.w2gn.l1 == 1e-7 and da.w2gn.betas == da.w2gn.conj_betas == (0.8, 0.99)
        pre = da.pretrain.kwargs()
        assert (pre["lr"], tuple(pre["betas"]), pre["batch_size"], pre["blow"], pre["tol"], pre["iterations"]) == \
            (1e-4, (0.8, 0.99), 128, 4.0, 0.2, 20_000)
        style = get_config(StyleTransferConfig, profile)
        assert style.w2gn.l1 == style.pretrain.l1 == 1e-10
        assert get_config(ToyConfig, profile).w2gn.l1 == get_config(GaussiansConfig, profile).w2gn.l1 == 1e-10
        assert get_config(AEConfig, profile).weight_decay == 1e-15
    assert get_config(LatentOTConfig, "paper").pretrain.batch_size == 4096
    toy = get_config(ToyConfig, "paper")
    assert (toy.pretrain.blow, toy.pretrain.tol) == (1.0, 3e-5)
    assert get_config(GaussiansConfig, "paper").pretrain.tol == 3e-5


def test_pretrain_identity_mean_reduction_and_l1():
    from src.distributions import StandardNormalSampler
    from src.icnn import DenseICNN, init_normal_
    from src.w2gn import pretrain_identity

    def run(iterations=5, **kw):
        torch.manual_seed(0)
        D = init_normal_(DenseICNN(3, [8, 8], dropout=0.0), 0.3, generator=torch.Generator().manual_seed(1))
        loss = pretrain_identity(D, StandardNormalSampler(3, seed=2), iterations=iterations, lr=1e-3,
                                 tol=0.0, progress=False, **kw)
        return loss, D

    # one step: the loss of the same first batch, summed over the D = 3 coordinates vs averaged
    assert run(1)[0] == pytest.approx(3 * run(1, reduction="mean")[0], rel=1e-6)
    # a large L1 penalty shrinks the weights (it is part of the optimised loss, not of the reported one)
    _, D_plain = run()
    _, D_l1 = run(l1=10.0)
    norm = lambda D: sum(float(p.detach().abs().sum()) for p in D.parameters())  # noqa: E731
    assert norm(D_l1) < 0.99 * norm(D_plain)
    with pytest.raises(ValueError, match="reduction"):
        run(reduction="max")


def test_size_general_layouts_share_the_reference_keys(tmp_path):
    from src.autoencoders import Autoencoder, decode, encode, load_autoencoder, save_autoencoder
    from src.icnn import ConvICNN

    assert ConvICNN(3, 128, 128).state_dict().keys() == ConvICNN128().state_dict().keys()
    small = ConvICNN(1, 16, 4)
    assert [k for k in small.state_dict() if k.startswith("convex")] == [
        "convex.1.weight", "convex.1.bias", "convex.3.weight", "convex.3.bias", "convex.7.weight",
        "convex.7.bias", "convex.9.weight", "convex.9.bias", "convex.11.weight", "convex.11.bias",
        "convex.13.weight", "convex.13.bias"]
    # the MNIST-size autoencoder is the same family; a CelebaAutoencoder round-trips through the helpers
    assert Autoencoder(3, 64, 8, 16).state_dict().keys() == CelebaAutoencoder(8, 16).state_dict().keys()
    mnist = Autoencoder(1, 32, 4, 8)
    assert isinstance(mnist.encoder.fc_out[2], nn.BatchNorm1d) and not mnist.encoder.fc_out[2].affine
    assert any(isinstance(m, nn.Dropout) and m.p == 0.05 for m in mnist.decoder.features)
    assert not any(isinstance(m, nn.LeakyReLU) for m in mnist.decoder.features)
    ae = _randomise_(CelebaAutoencoder(4, 8), seed=9).eval()
    x = torch.rand(3, 3, 64, 64) * 2 - 1
    path = save_autoencoder(tmp_path / "ae.pt", ae)
    ae2, _ = load_autoencoder(path)
    assert torch.equal(decode(ae, encode(ae, x)), decode(ae2, encode(ae2, x)))
    assert not list(tmp_path.glob(".*tmp"))  # the atomic save left no temporary file
