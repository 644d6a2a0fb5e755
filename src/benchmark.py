"""The continuous Wasserstein-2 benchmark pairs "Mix3toMix10" (Korotin et al., NeurIPS 2021).

A pair (P, Q) whose optimal map is known and non-linear:

* P: a mixture of 3 Gaussians in R^D (equal weights, std 0.4), built from NumPy's legacy RNG
  seeded with 0 (random centres on a grid, random unit-row "maps"), standardised to total
  variance D;
* T* = ∇ψ_s with ψ = ψ₁ + ψ₂ two fixed DenseICNNs (the benchmark's checkpoints
  ``{D}_v1.pt``/``{D}_v2.pt``) and ψ_s(x) = (ψ(x) − <m, x>)/√v standardised so that
  Q = T*#P has zero mean and total variance D;
* scores: L2-UVP = 100·E‖T̂(x) − T*(x)‖²/Var(Q) and the benchmark's cosine similarity on 4096
  samples; the inverse direction uses y = T*(x), whose true pre-image is x itself.

Usage::

    bench = Mix3ToMix10(16)                           # the copy shipped in data/w2bench
    X, Y = bench.input_sampler.sample(256), bench.output_sampler.sample(256)
    print(bench.score_linear())                       # linear (Bures) baseline
    print(bench.score(D, D_conj))                     # fitted potentials (anything with push_nograd)

The checkpoint files of D = 2 … 128 ship in ``data/w2bench`` (MIT licence beside them); with
``root=None`` they are found there, else (env ``W2GN_W2BENCH``, or D = 256/512) in a cache folder
(``~/.cache/w2gn/w2bench``) filled by downloading from the benchmark's public GitHub repository.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from .datasets import MissingDataError
from .distributions import Sampler
from .gaussian import gaussian_ot_map
from .icnn import DenseICNN
from .metrics import cosine_similarity, l2_uvp

__all__ = ["Mix3ToMix10", "RandomGaussianMixtureSampler", "PushforwardSampler", "default_cache_dir",
           "locate_root", "ensure_checkpoints", "download_checkpoints", "BENCHMARK_DIMS",
           "PUBLISHED_W2GN_L2_UVP", "PUBLISHED_LINEAR_L2_UVP"]

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARK_DIMS = (2, 4, 8, 16, 32, 64, 128, 256, 512)
SUBFOLDER = "Mix3toMix10"
REPOSITORY = "iamalexkorotin/Wasserstein2Benchmark"
#: where the files are fetched from, tried in order ({branch}, then the file name appended)
URL_TEMPLATES = (
    "https://raw.githubusercontent.com/" + REPOSITORY + "/{branch}/benchmarks/" + SUBFOLDER + "/{name}",
    "https://media.githubusercontent.com/media/" + REPOSITORY + "/{branch}/benchmarks/" + SUBFOLDER + "/{name}",
)
BRANCHES = ("main", "master")

#: published forward L2-UVP (%) of W2GN ("W2") on the benchmark, as recalled (approximate)
PUBLISHED_W2GN_L2_UVP = {2: 0.1, 4: 0.7, 8: 2.6, 16: 3.3, 32: 6.0, 64: 7.2, 128: 2.0, 256: 2.7}
#: published forward L2-UVP (%) of the linear (Bures) baseline
PUBLISHED_LINEAR_L2_UVP = {2: 14.1, 16: 41.6, 64: 63.9}


# ------------------------------------------------------------------------------ files
def default_cache_dir() -> Path:
    """The cache folder for the checkpoints: env ``W2GN_W2BENCH``, else
    ``$XDG_CACHE_HOME/w2gn/w2bench`` (``~/.cache/w2gn/w2bench``)."""
    env = os.environ.get("W2GN_W2BENCH")
    if env:
        return Path(env).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser()
    return cache / "w2gn" / "w2bench"


#: the copy shipped with the repository (D = 2 … 128, MIT licence beside it)
SHIPPED_ROOT = REPO_ROOT / "data" / "w2bench"


def _shipped_copy() -> Path | None:
    return SHIPPED_ROOT if (SHIPPED_ROOT / SUBFOLDER).is_dir() else None


def locate_root(root=None) -> Path:
    """The folder to load the checkpoints from: ``root`` if given, else env ``W2GN_W2BENCH``,
    else the copy shipped in the repository (``data/w2bench``, D = 2 … 128) when present, else
    the cache folder (:func:`default_cache_dir`, filled by downloading)."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("W2GN_W2BENCH"):
        return default_cache_dir()
    return _shipped_copy() or default_cache_dir()


def _file_names(dim: int) -> list[str]:
    return [f"{dim}_v1.pt", f"{dim}_v2.pt"]


def _folder(root: Path) -> Path:
    """Accept both ``root`` (holding ``Mix3toMix10/``) and the ``Mix3toMix10`` folder itself."""
    root = Path(root)
    return root if root.name == SUBFOLDER else root / SUBFOLDER


def download_checkpoints(dim: int, root, timeout: float = 60.0, progress: bool = True) -> list[Path]:
    """Download ``{dim}_v1.pt`` and ``{dim}_v2.pt`` into ``root/Mix3toMix10`` from the benchmark's
    public GitHub repository (files already there are kept).

    Raises:
        MissingDataError: a file could not be downloaded (offline, or not published for ``dim``);
            the message names the folder and the files to put there by hand.
    """
    folder = _folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in _file_names(dim):
        dest = folder / name
        paths.append(dest)
        if dest.is_file():
            continue
        errors = []
        for template in URL_TEMPLATES:
            for branch in BRANCHES:
                url = template.format(branch=branch, name=name)
                try:
                    _fetch(url, dest, timeout)
                    if progress:
                        print(f"downloaded {url} -> {dest}")
                    break
                except (OSError, urllib.error.URLError, ValueError) as err:
                    errors.append(f"{url}: {err}")
            if dest.is_file():
                break
        if not dest.is_file():
            raise MissingDataError(_missing_message(dim, folder, errors))
    return paths


def _fetch(url: str, dest: Path, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "w2gn-reproduction"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                shutil.copyfileobj(response, out)
                out.flush()
                os.fsync(out.fileno())
            with open(tmp, "rb") as fh:
                head = fh.read(64)
            if head.startswith(b"version https://git-lfs"):
                raise ValueError("got a Git LFS pointer, not the file")
            if not head.startswith(b"PK"):  # torch.save writes a zip archive
                raise ValueError("the download is not a PyTorch checkpoint")
            os.replace(tmp, dest)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def _missing_message(dim: int, folder: Path, errors: list[str] | None = None) -> str:
    names = ", ".join(_file_names(dim))
    msg = (f"Wasserstein-2 benchmark checkpoints for D={dim} are missing: put {names} into {folder} "
           f"(from https://github.com/{REPOSITORY}/tree/main/benchmarks/{SUBFOLDER}), or pass root= "
           f"a folder holding them (env W2GN_W2BENCH).")
    if errors:
        msg += " Download failed: " + "; ".join(errors[-2:])
    return msg


def ensure_checkpoints(dim: int, root=None, download: bool = True) -> list[Path]:
    """Paths of ``{dim}_v1.pt``, ``{dim}_v2.pt`` under ``root`` (default: env ``W2GN_W2BENCH``,
    else the shipped copy when it holds ``dim``, else the cache folder), downloading them when
    missing and ``download`` is true."""
    if dim not in BENCHMARK_DIMS:
        raise ValueError(f"Mix3toMix10 exists for D in {BENCHMARK_DIMS}, got {dim}")
    if root is None and not os.environ.get("W2GN_W2BENCH") and _shipped_copy() is not None \
            and all((SHIPPED_ROOT / SUBFOLDER / name).is_file() for name in _file_names(dim)):
        root = SHIPPED_ROOT
    root = default_cache_dir() if root is None else Path(root).expanduser()
    folder = _folder(root)
    paths = [folder / name for name in _file_names(dim)]
    if all(p.is_file() for p in paths):
        return paths
    if not download:
        raise MissingDataError(_missing_message(dim, folder))
    return download_checkpoints(dim, root)


# ------------------------------------------------------------------------------ samplers
class RandomGaussianMixtureSampler(Sampler):
    """The benchmark's input P: a mixture of ``num`` Gaussians with random "rotations".

    Construction (NumPy legacy RNG seeded with ``structure_seed``, the benchmark's 0): for each
    coordinate d, ``choice(range(num), num, replace=False)`` gives the components' d-th centre
    coordinates (times ``dist``); the centres are shifted by −dist·(num−1)/2; then
    ``maps = normal(size=(num, D, D))`` with rows scaled to unit length. Standardised so that the
    total variance is D. A sample is ``maps[k] @ n · std + centres[k]``, k uniform, n ~ N(0, I).

    Args:
        dim: D.
        num: number of components (3 in Mix3toMix10).
        seed: seed of the *sampling* generator (independent of the structure).
        structure_seed: seed of the mixture's structure (0 in the benchmark).
    """

    def __init__(self, dim: int, num: int = 3, dist: float = 1.0, std: float = 0.4, device=None,
                 dtype=torch.float32, seed: int | None = 0, structure_seed: int = 0):
        super().__init__(dim, device, dtype, seed)
        self.num, self.dist, self.std = int(num), float(dist), float(std)
        # RandomState(s) draws exactly what np.random.seed(s) + np.random.* draw (legacy stream)
        rng = np.random.RandomState(structure_seed)
        centers = np.zeros((num, dim), dtype=np.float32)
        for d in range(dim):
            centers[:, d] += dist * rng.choice(list(range(num)), num, replace=False)
        centers -= dist * (num - 1) / 2
        maps = rng.normal(size=(num, dim, dim)).astype(np.float32)
        maps /= np.sqrt((maps ** 2).sum(axis=2, keepdims=True))
        mult = np.sqrt((centers ** 2).sum(axis=1).mean() + dim * std ** 2) / np.sqrt(dim)
        centers /= mult
        maps /= mult
        self.centers_np, self.maps_np = centers, maps
        self.centers = torch.as_tensor(centers).to(self.device, dtype)
        self.maps = torch.as_tensor(maps).to(self.device, dtype)
        c64, m64 = centers.astype(np.float64), maps.astype(np.float64)
        self.mean = c64.mean(axis=0)
        second = (np.einsum("ki,kj->ij", c64, c64) + std ** 2 * np.einsum("kij,klj->il", m64, m64)) / num
        self.cov = second - np.outer(self.mean, self.mean)   # exact covariance, float64

    def _sample(self, n):
        k = torch.randint(0, self.num, (n,), generator=self.generator, device=self.device)
        z = self._randn(n, self.dim)
        out = torch.empty(n, self.dim, device=self.device, dtype=self.dtype)
        for j in range(self.num):
            idx = (k == j).nonzero(as_tuple=True)[0]
            out[idx] = z[idx] @ self.maps[j].T * self.std + self.centers[j]
        return out


class PushforwardSampler(Sampler):
    """Samples of ``base`` pushed through ``fn`` (no gradient): T#P."""

    def __init__(self, base: Sampler, fn: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__(base.dim, base.device, base.dtype, base.seed)
        self.base, self.fn = base, fn

    def _sample(self, n):
        return self.fn(self.base.sample(n))


def _apply(fn, x: torch.Tensor, batch_size: int = 4096) -> torch.Tensor:
    """``fn(x)`` without a graph, in batches; ``fn`` is a net with ``push_nograd`` (a potential:
    its gradient map is used) or any callable map."""
    if hasattr(fn, "push_nograd"):
        was_training = getattr(fn, "training", False)
        fn.eval()
        try:
            return fn.push_nograd(x, batch_size=batch_size)
        finally:
            fn.train(was_training)
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch_size]) for i in range(0, x.shape[0], batch_size)])


# ------------------------------------------------------------------------------ the pair
class Mix3ToMix10:
    """The benchmark pair "Mix3toMix10" in dimension ``dim`` (2 … 128 ship; 256/512 exist upstream).

    Args:
        dim: D.
        root: folder holding ``Mix3toMix10/{dim}_v1.pt`` and ``{dim}_v2.pt`` (or that folder
            itself). ``None``: the folder named by env ``W2GN_W2BENCH`` when it is set (only
            that one); else the copy shipped in ``data/w2bench`` when it holds both files of
            ``dim`` (D = 2 … 128); else the cache folder (:func:`default_cache_dir`,
            ``~/.cache/w2gn/w2bench``). Missing files are downloaded into the folder chosen
            (when ``download``), see :func:`ensure_checkpoints`.
        device: where samplers, maps and scores run (default CPU).
        estimate_size: samples of P (drawn on the CPU, seed ``estimate_seed``) used to estimate
            the standardisation (m, v) of the potential and the moments of Q. The benchmark used
            2**14; a larger sample is closer to the ideal pair.
        seed: seed of the input sampler (the output sampler uses ``seed + 1``).
        n_eval: samples of the fixed evaluation set of :meth:`score` (4096 in the benchmark).
        download: allow downloading missing files.

    Attributes:
        input_sampler, output_sampler: samplers of P and Q = T*#P.
        var_x, var_y: total variances of P (exact) and Q (estimated; ≈ D).
        linear_map_fwd, linear_map_inv: the Gaussian (Bures) OT maps between the moments of P
            and Q, as callables.
    """

    def __init__(self, dim: int, root=None, device=None, estimate_size: int = 2 ** 16, seed: int = 0,
                 n_eval: int = 4096, eval_seed: int = 12345, estimate_seed: int = 54321,
                 download: bool = True, batch_size: int = 4096):
        self.dim = int(dim)
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.batch_size = int(batch_size)
        paths = ensure_checkpoints(self.dim, root, download=download)
        self.root = paths[0].parent
        self.potentials = [self._load_potential(p) for p in paths]

        # standardisation of ψ = ψ1 + ψ2 on a large CPU sample (float64 sums: device-independent)
        cpu_sampler = RandomGaussianMixtureSampler(self.dim, device="cpu", seed=estimate_seed)
        X = cpu_sampler.sample(int(estimate_size))
        cpu_nets = [self._load_potential(p, device="cpu") for p in paths]
        G = sum(net.push_nograd(X, batch_size=self.batch_size) for net in cpu_nets).double()
        m = G.mean(0)
        v = ((G - m) ** 2).mean(0).mean()
        self.shift = m.to(self.device, torch.float32)       # m
        self.scale = float(v.sqrt())                       # √v
        Y = (G - m) / v.sqrt()
        self.mean_y = Y.mean(0).numpy()
        self.cov_y = np.cov(Y.numpy().T).reshape(self.dim, self.dim)
        self.var_y = float(Y.var(0, unbiased=False).sum())   # = D by construction of (m, v)

        self.input_sampler = RandomGaussianMixtureSampler(self.dim, device=self.device, seed=seed)
        self.output_sampler = PushforwardSampler(
            RandomGaussianMixtureSampler(self.dim, device=self.device, seed=seed + 1), self.map_fwd)
        self.mean_x, self.cov_x = self.input_sampler.mean, self.input_sampler.cov
        self.var_x = float(np.trace(self.cov_x))

        A, b = gaussian_ot_map(self.mean_x, self.cov_x, self.mean_y, self.cov_y)
        Ai, bi = gaussian_ot_map(self.mean_y, self.cov_y, self.mean_x, self.cov_x)
        self.linear_map_fwd = _Affine(A, b, self.device)
        self.linear_map_inv = _Affine(Ai, bi, self.device)

        gen = torch.Generator().manual_seed(eval_seed)
        eval_sampler = RandomGaussianMixtureSampler(self.dim, device="cpu", seed=int(torch.randint(0, 2**62, (1,), generator=gen)))
        self.X_eval = eval_sampler.sample(int(n_eval)).to(self.device)
        self.Y_eval = self.map_fwd(self.X_eval)
        self.cost = 0.5 * float(((self.Y_eval - self.X_eval) ** 2).sum(1).mean())  # W2²/2 estimate

    def _load_potential(self, path: Path, device=None) -> DenseICNN:
        d = self.dim
        net = DenseICNN(d, [max(2 * d, 64), max(2 * d, 64), max(d, 32)], rank=1, activation="celu",
                        dropout=0.0, strong_convexity=1e-2)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:  # corrupt/partial file: say which
            raise MissingDataError(f"cannot read the benchmark checkpoint {path} ({err}); delete it and "
                                   "download it again") from err
        net.load_state_dict(state)
        net.eval()
        for p in net.parameters():
            p.requires_grad_(False)
        return net.to(self.device if device is None else device)

    def map_fwd(self, x: torch.Tensor) -> torch.Tensor:
        """The optimal map T*(x) = (∇ψ₁(x) + ∇ψ₂(x) − m)/√v, ``[N, D]`` → ``[N, D]`` (no graph)."""
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"map_fwd expects [N, {self.dim}], got {list(x.shape)}")
        x = x.to(self.device, torch.float32)
        g = sum(net.push_nograd(x, batch_size=self.batch_size) for net in self.potentials)
        return (g - self.shift) / self.scale

    def score(self, forward_map, inverse_map=None) -> dict:
        """L2-UVP (%) and cosine similarity of fitted maps on the fixed evaluation set.

        Args:
            forward_map: P → Q; a potential with ``push_nograd`` (e.g. ``D``) or a callable.
            inverse_map: Q → P (e.g. ``D_conj``), optional.

        Returns:
            ``dict(l2_uvp_fwd, cos_fwd, l2_uvp_inv, cos_inv)`` (inverse entries ``None`` without
            ``inverse_map``).
        """
        X, Y = self.X_eval, self.Y_eval
        fwd = _apply(forward_map, X, self.batch_size)
        out = {"l2_uvp_fwd": l2_uvp(fwd, Y, self.var_y), "cos_fwd": cosine_similarity(X, fwd, Y),
               "l2_uvp_inv": None, "cos_inv": None}
        if inverse_map is not None:
            inv = _apply(inverse_map, Y, self.batch_size)
            out["l2_uvp_inv"] = l2_uvp(inv, X, self.var_x)
            out["cos_inv"] = cosine_similarity(Y, inv, X)
        return out

    def score_linear(self) -> dict:
        """Scores of the linear (Bures) baseline, the Gaussian OT maps between the moments."""
        return self.score(self.linear_map_fwd, self.linear_map_inv)

    def __repr__(self) -> str:
        return f"Mix3ToMix10(dim={self.dim}, root={str(self.root)!r}, device={self.device})"


class _Affine:
    """x ↦ x Aᵀ + b (float32 on ``device``)."""

    def __init__(self, A, b, device):
        self.A = torch.as_tensor(np.asarray(A), dtype=torch.float32, device=device)
        self.b = torch.as_tensor(np.asarray(b), dtype=torch.float32, device=device)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.A.T + self.b
