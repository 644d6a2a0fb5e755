"""Samplers: every sampler has ``.sample(n) -> Tensor`` ``[n, *shape]`` on its ``device``.

Each sampler owns its random state (a ``torch.Generator`` seeded from ``seed``, or a NumPy
``RandomState`` for the NumPy-based ones), so experiments are reproducible without touching
the global RNG. Any object with a ``sample(n)`` method works with the trainer.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .layers import check_integer, check_real

__all__ = [
    "Sampler", "StandardNormalSampler", "NormalSampler", "UniformSampler", "BallUniformSampler",
    "SwissRollSampler", "GaussianMixtureSampler", "EightGaussiansSampler", "GaussianGridSampler",
    "WhiteningSampler", "LinearTransformer", "TensorDatasetSampler", "FittedGaussianMixtureSampler",
    "rng_state_dict", "load_rng_state_dict", "as_sampler",
]


def _is_sampler_like(obj) -> bool:
    return isinstance(obj, Sampler) or (callable(getattr(obj, "sample", None))
                                        and not isinstance(obj, (torch.nn.Module, type)))


def rng_state_dict(obj, _depth: int = 0) -> dict:
    """The states of the random generators a sampler owns: its ``torch.Generator`` and NumPy
    ``RandomState`` attributes, and those of sampler attributes (e.g. ``base``), recursively.

    Works for any object (also samplers not derived from :class:`Sampler`); the result holds
    only tensors, numbers and dicts (loads with ``torch.load(..., weights_only=True)``).
    """
    state = {}
    for name, value in sorted(vars(obj).items()):
        if isinstance(value, torch.Generator):
            state[name] = {"torch": value.get_state()}
        elif isinstance(value, np.random.RandomState):
            kind, keys, pos, has_gauss, gauss = value.get_state()
            state[name] = {"numpy": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                           "has_gauss": int(has_gauss), "gauss": float(gauss)}
        elif _depth < 8 and _is_sampler_like(value) and value is not obj:
            nested = rng_state_dict(value, _depth + 1)
            if nested:
                state[name] = {"nested": nested}
    return state


def load_rng_state_dict(obj, state: dict) -> None:
    """Restore the generator states saved by :func:`rng_state_dict` into ``obj``.

    Raises:
        ValueError: ``state`` names generators ``obj`` does not have (another sampler).
    """
    own = vars(obj)
    for name, saved in state.items():
        value = own.get(name)
        if "torch" in saved and isinstance(value, torch.Generator):
            value.set_state(saved["torch"].cpu())
        elif "numpy" in saved and isinstance(value, np.random.RandomState):
            keys = saved["numpy"].cpu().numpy().astype(np.uint32)
            value.set_state(("MT19937", keys, int(saved["pos"]), int(saved["has_gauss"]), float(saved["gauss"])))
        elif "nested" in saved and value is not None:
            load_rng_state_dict(value, saved["nested"])
        else:
            raise ValueError(f"{type(obj).__name__} has no random generator {name!r} of the saved kind: "
                             "the saved state belongs to another sampler")


def _as_device(device, owner: str = "Sampler") -> torch.device:
    """``device`` as a ``torch.device`` that exists here (``None``: the CPU); a device this
    machine or torch build lacks (``"cuda"`` without CUDA, ``"cuda:3"`` with one GPU, ``"mps"``
    off a Mac) is refused now, not at the first ``sample``."""
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(f"{owner}: device={device!r} is not a torch device ({e}); use e.g. 'cpu' or 'cuda'") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{owner}: device={device!r} but CUDA is not available (this torch build or "
                             "machine has no usable GPU); pass device='cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{owner}: device={device!r} but only {torch.cuda.device_count()} CUDA device(s) "
                             "are visible; pass another index")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"{owner}: device={device!r} but MPS is not available here; pass device='cpu'")
    return dev


def _finite_array(value, name: str, owner: str, ndim: int | None = None) -> np.ndarray:
    """``value`` as a float64 array, refused (naming ``name``) when it is not numeric, has NaN/inf or
    (given ``ndim``) another number of dimensions."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{owner}: {name} must be numbers (an array), got {type(value).__name__} ({e})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{owner}: {name} must have {ndim} dimension(s), got shape {list(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{owner}: {name} contains NaN or inf")
    return arr


class Sampler:
    """Base class. Subclasses implement ``_sample(n)`` returning a tensor on ``self.device``.

    Args:
        dim: dimension of one sample (``shape`` for non-vector samplers).
        device: where samples live.
        dtype: floating dtype of the samples.
        seed: seed of the sampler's own generator (``None``: a random seed).
    """

    def __init__(self, dim: int, device=None, dtype: torch.dtype = torch.float32, seed: int | None = None):
        owner = type(self).__name__
        self.dim = check_integer(dim, "dim", 1, owner)
        self.shape: tuple[int, ...] = (self.dim,)
        self.device = _as_device(device, owner)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise TypeError(f"{owner}: dtype must be a floating torch dtype (torch.float32, torch.float64, …), "
                            f"got {dtype!r}")
        self.dtype = dtype
        self.seed = check_integer(seed, "seed", owner=owner) if seed is not None else int(torch.randint(0, 2**62, ()).item())
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.rng = np.random.RandomState(self.seed % 2**32)

    def sample(self, n: int) -> torch.Tensor:
        """``n`` samples, ``[n, *shape]``."""
        return self._sample(check_integer(n, "n", 0, f"{type(self).__name__}.sample"))

    def _sample(self, n: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _randn(self, *shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def _rand(self, *shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.device, dtype=self.dtype)

    def _from_numpy(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=self.dtype).to(self.device)

    def state_dict(self) -> dict:
        """The sampler's random state (see :func:`rng_state_dict`), to resume its draws exactly."""
        return rng_state_dict(self)

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict`: the next draws continue the saved sequence."""
        load_rng_state_dict(self, state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, device={self.device}, seed={self.seed})"


def _check_base(base, owner: str) -> None:
    if not _is_sampler_like(base) or not all(hasattr(base, a) for a in ("dim", "device", "dtype", "seed")):
        raise TypeError(f"{owner}: base must be a sampler (a src.distributions.Sampler), got {type(base).__name__}")


class StandardNormalSampler(Sampler):
    """N(0, I_dim)."""

    def _sample(self, n):
        return self._randn(n, self.dim)


class NormalSampler(Sampler):
    """N(mean, cov) through a symmetric square root of ``cov`` (float64 eigendecomposition).

    Args:
        mean: ``[D]``.
        cov: ``[D, D]`` symmetric positive semi-definite.
    """

    def __init__(self, mean, cov, device=None, dtype=torch.float32, seed=None):
        mean = _finite_array(mean, "mean", "NormalSampler")
        if mean.ndim > 1:
            raise ValueError(f"NormalSampler: mean must be a vector [D], got shape {list(mean.shape)}")
        cov = _finite_array(cov, "cov", "NormalSampler")
        if cov.shape != (mean.size, mean.size):
            raise ValueError(f"NormalSampler: cov must be [{mean.size}, {mean.size}], got {list(cov.shape)}")
        if np.abs(cov - cov.T).max() > 1e-6 * max(1.0, np.abs(cov).max()):
            raise ValueError(f"NormalSampler: cov is not symmetric (max |cov - cov.T| = {np.abs(cov - cov.T).max():.3g})")
        super().__init__(mean.size, device, dtype, seed)
        w, v = np.linalg.eigh((cov + cov.T) / 2)
        if w.min() < -1e-8 * max(1.0, abs(w).max()):
            raise ValueError(f"NormalSampler: cov is not positive semi-definite (min eigenvalue {w.min():.3g})")
        root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
        self.mean = self._from_numpy(mean)
        self.cov = self._from_numpy(cov)
        self.root = self._from_numpy(root)

    def _sample(self, n):
        return self._randn(n, self.dim) @ self.root + self.mean


class UniformSampler(Sampler):
    """Uniform on the box [low, high]^dim."""

    def __init__(self, dim, low: float = -1.0, high: float = 1.0, device=None, dtype=torch.float32, seed=None):
        super().__init__(dim, device, dtype, seed)
        self.low = check_real(low, "low", owner="UniformSampler")
        self.high = check_real(high, "high", owner="UniformSampler")
        if not self.low < self.high:
            raise ValueError(f"UniformSampler: low must be < high, got low={self.low:g}, high={self.high:g}")

    def _sample(self, n):
        return self.low + (self.high - self.low) * self._rand(n, self.dim)


class BallUniformSampler(Sampler):
    """Uniform in the Euclidean ball of ``radius`` centred at 0."""

    def __init__(self, dim, radius: float = 1.0, device=None, dtype=torch.float32, seed=None):
        super().__init__(dim, device, dtype, seed)
        self.radius = check_real(radius, "radius", 0.0, min_open=True, owner="BallUniformSampler")

    def _sample(self, n):
        direction = self._randn(n, self.dim)
        direction = direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12)
        r = self._rand(n, 1) ** (1.0 / self.dim)
        return self.radius * r * direction


class SwissRollSampler(Sampler):
    """2-D Swiss roll: scikit-learn's ``make_swiss_roll`` (coordinates 0 and 2), divided by 7.5."""

    def __init__(self, noise: float = 0.8, device=None, dtype=torch.float32, seed=None):
        super().__init__(2, device, dtype, seed)
        self.noise = check_real(noise, "noise", 0.0, owner="SwissRollSampler")

    def _sample(self, n):
        from sklearn.datasets import make_swiss_roll  # lazy: keep the core import light

        pts = make_swiss_roll(n_samples=n, noise=self.noise, random_state=self.rng)[0]
        return self._from_numpy(pts[:, [0, 2]] / 7.5)


class GaussianMixtureSampler(Sampler):
    """Mixture of isotropic Gaussians.

    Args:
        centers: ``[K, D]`` component means.
        stds: one std per component (``[K]``) or a scalar.
        weights: mixture weights (default uniform).

    Attributes ``centers``, ``stds`` and ``weights`` are kept (used for mode coverage).
    """

    def __init__(self, centers, stds=1.0, weights=None, device=None, dtype=torch.float32, seed=None):
        owner = type(self).__name__
        centers = _finite_array(centers, "centers", owner)
        if centers.ndim != 2 or 0 in centers.shape:
            raise ValueError(f"{owner}: centers must be [K, D] with K, D ≥ 1, got shape {list(centers.shape)}")
        super().__init__(centers.shape[1], device, dtype, seed)
        k = centers.shape[0]
        stds = _finite_array(stds, "stds", owner)
        try:
            stds = np.broadcast_to(stds, (k,)).copy()
        except ValueError:
            raise ValueError(f"{owner}: stds must be one number or one per component ([{k}]), "
                             f"got shape {list(stds.shape)}") from None
        if (stds < 0).any():
            raise ValueError(f"{owner}: stds must be ≥ 0, got {stds.min():g}")
        weights = np.full(k, 1.0 / k) if weights is None else _finite_array(weights, "weights", owner)
        if weights.shape != (k,) or (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"{owner}: weights must be K non-negative numbers with a positive sum")
        self.centers = self._from_numpy(centers)
        self.stds = self._from_numpy(stds)
        self.weights = self._from_numpy(weights / weights.sum())

    def _sample(self, n):
        idx = torch.multinomial(self.weights, n, replacement=True, generator=self.generator)
        return self.centers[idx] + self.stds[idx, None] * self._randn(n, self.dim)


class EightGaussiansSampler(GaussianMixtureSampler):
    """8 Gaussians of std ``std`` on a circle of radius ``radius`` (paper: 12 and 1)."""

    def __init__(self, radius: float = 12.0, std: float = 1.0, device=None, dtype=torch.float32, seed=None):
        radius = check_real(radius, "radius", 0.0, owner="EightGaussiansSampler")
        std = check_real(std, "std", 0.0, owner="EightGaussiansSampler")
        angles = np.arange(8) * (2 * math.pi / 8)
        centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        super().__init__(centers, std, None, device, dtype, seed)


class GaussianGridSampler(GaussianMixtureSampler):
    """``n × n`` grid of Gaussians with spacing ``step``, centred at 0 (paper: step 9, std 1)."""

    def __init__(self, n: int = 5, step: float = 9.0, std: float = 1.0, device=None, dtype=torch.float32, seed=None):
        n = check_integer(n, "n", 1, "GaussianGridSampler")
        step = check_real(step, "step", 0.0, owner="GaussianGridSampler")
        std = check_real(std, "std", 0.0, owner="GaussianGridSampler")
        ticks = (np.arange(n) - (n - 1) / 2) * step
        gx, gy = np.meshgrid(ticks, ticks, indexing="ij")
        centers = np.stack([gx.ravel(), gy.ravel()], axis=1)
        super().__init__(centers, std, None, device, dtype, seed)


class WhiteningSampler(Sampler):
    """Standardises another sampler: ``(x - mean) @ cov^{-1/2}``, both estimated once on
    ``n_fit`` samples of ``base`` (the paper whitens the toy targets this way).

    ``transform(x)`` applies the same affine map to any points (e.g. mixture centres).
    """

    def __init__(self, base: Sampler, n_fit: int = 100_000, batch_size: int = 100_000):
        _check_base(base, "WhiteningSampler")
        n_fit = check_integer(n_fit, "n_fit", 2, "WhiteningSampler")
        batch_size = check_integer(batch_size, "batch_size", 1, "WhiteningSampler")
        super().__init__(base.dim, base.device, base.dtype, base.seed)
        self.base = base
        data = torch.cat([base.sample(min(batch_size, n_fit - i)).double().cpu() for i in range(0, n_fit, batch_size)])
        if not torch.isfinite(data).all():
            raise ValueError("WhiteningSampler: the samples of base contain NaN or inf; cannot estimate their covariance")
        mean = data.mean(0)
        cov = torch.cov(data.T).reshape(self.dim, self.dim)
        w, v = torch.linalg.eigh(cov)
        self.mean = mean.to(self.device, self.dtype)
        self.inv_root = ((v / w.clamp_min(1e-12).sqrt()) @ v.T).to(self.device, self.dtype)
        self.root = ((v * w.clamp_min(0).sqrt()) @ v.T).to(self.device, self.dtype)

    def transform(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(self.device, self.dtype) - self.mean) @ self.inv_root

    def inverse_transform(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self.device, self.dtype) @ self.root + self.mean

    def _sample(self, n):
        return self.transform(self.base.sample(n))


class LinearTransformer(Sampler):
    """``x @ weight.T + bias`` applied to samples of ``base`` (a Gaussian when ``base`` is)."""

    def __init__(self, base: Sampler, weight, bias=None):
        _check_base(base, "LinearTransformer")
        weight = torch.as_tensor(_finite_array(weight, "weight", "LinearTransformer"))
        if weight.dim() != 2 or weight.shape[1] != base.dim or weight.shape[0] < 1:
            raise ValueError(f"LinearTransformer: weight must be [out, {base.dim}], got {list(weight.shape)}")
        if bias is not None:
            bias = _finite_array(bias, "bias", "LinearTransformer")
            if bias.shape not in ((weight.shape[0],), (), (1,)):
                raise ValueError(f"LinearTransformer: bias must be [{weight.shape[0]}], got {list(bias.shape)}")
        super().__init__(weight.shape[0], base.device, base.dtype, base.seed)
        self.base = base
        self.weight = weight.to(self.device, self.dtype)
        self.bias = (torch.zeros(weight.shape[0], dtype=torch.float64) if bias is None
                     else torch.as_tensor(bias)).to(self.device, self.dtype)

    def _sample(self, n):
        return self.base.sample(n) @ self.weight.T + self.bias


class TensorDatasetSampler(Sampler):
    """Uniform random rows (with replacement) of a fixed tensor ``data`` ``[M, *shape]``.

    Args:
        data: the samples; moved to ``device``.
        noise_std: optional Gaussian noise added to each draw.
    """

    def __init__(self, data, device=None, dtype=torch.float32, seed=None, noise_std: float = 0.0):
        data = torch.as_tensor(data)
        if data.dim() < 2 or data.shape[0] == 0 or 0 in data.shape[1:]:
            raise ValueError(f"TensorDatasetSampler needs data of shape [M, ...] with M > 0, got {list(data.shape)}")
        if data.dtype == torch.bool or data.is_complex():
            raise TypeError(f"TensorDatasetSampler: data must be real numbers, got {data.dtype}")
        if not torch.isfinite(data).all():
            raise ValueError("TensorDatasetSampler: data contain NaN or inf")
        noise_std = check_real(noise_std, "noise_std", 0.0, owner="TensorDatasetSampler")
        super().__init__(int(np.prod(data.shape[1:])), device, dtype, seed)
        self.shape = tuple(data.shape[1:])
        self.data = data.to(self.device, self.dtype)
        self.noise_std = noise_std

    def __len__(self) -> int:
        return self.data.shape[0]

    def _sample(self, n):
        idx = torch.randint(0, self.data.shape[0], (n,), generator=self.generator, device=self.device)
        out = self.data[idx]
        if self.noise_std:
            out = out + self.noise_std * torch.randn(out.shape, generator=self.generator,
                                                     device=self.device, dtype=self.dtype)
        return out


class FittedGaussianMixtureSampler(Sampler):
    """A Gaussian mixture (full covariances) fitted to ``data`` ``[M, D]`` with scikit-learn,
    then sampled from (a smooth stand-in for an empirical distribution)."""

    def __init__(self, data, n_components: int = 10, device=None, dtype=torch.float32, seed=None):
        from sklearn.mixture import GaussianMixture  # lazy: keep the core import light

        data = _finite_array(data, "data", "FittedGaussianMixtureSampler", ndim=2)
        n_components = check_integer(n_components, "n_components", 1, "FittedGaussianMixtureSampler")
        if data.shape[0] < n_components or data.shape[1] < 1:
            raise ValueError(f"FittedGaussianMixtureSampler: data [M, D] needs M ≥ n_components = {n_components} "
                             f"and D ≥ 1, got {list(data.shape)}")
        super().__init__(data.shape[1], device, dtype, seed)
        self.gmm = GaussianMixture(n_components, covariance_type="full", random_state=self.seed % 2**32).fit(data)
        self.means = self._from_numpy(self.gmm.means_)
        chol = np.linalg.cholesky(self.gmm.covariances_ + 1e-9 * np.eye(self.dim))
        self.chols = self._from_numpy(chol)
        self.weights = self._from_numpy(self.gmm.weights_)

    def _sample(self, n):
        idx = torch.multinomial(self.weights, n, replacement=True, generator=self.generator)
        z = self._randn(n, self.dim)
        return self.means[idx] + torch.einsum("nij,nj->ni", self.chols[idx], z)


def as_sampler(data, like=None, seed: int | None = None, name: str = "X"):
    """``data`` as a sampler: a sampler (anything with ``sample(n)``) is returned as it is; a
    tensor or NumPy array ``[n, *shape]`` of samples becomes a :class:`TensorDatasetSampler`
    drawing its rows at random (with replacement, from a generator seeded ``seed``), on the
    device and in the dtype of the parameters of the net ``like`` (when given).

    Raises:
        TypeError: ``data`` is neither (the message names it as ``name``).
    """
    if _is_sampler_like(data):
        return data
    if isinstance(data, (np.ndarray, torch.Tensor)):
        p = next(like.parameters(), None) if like is not None else None
        if p is None:
            return TensorDatasetSampler(data, device=getattr(data, "device", None),
                                        dtype=data.dtype if isinstance(data, torch.Tensor) and data.is_floating_point()
                                        else torch.float32, seed=seed)
        return TensorDatasetSampler(data, device=p.device, dtype=p.dtype, seed=seed)
    raise TypeError(f"{name} must be a sampler (an object with sample(n)), a torch tensor or a NumPy array "
                    f"[n, *shape] of samples; got {type(data).__name__}")
