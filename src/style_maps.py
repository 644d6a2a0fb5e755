"""An explicit image "style" whose W2-optimal map is known: T = ∇φ with φ convex on image space.

For an image x ∈ [0, 1]^{3×S×S} (channels c, pixels p)

    T(x) = w_tone · t(x) + w_mix · (M x) + w_blur · (K x),      w_tone + w_mix + w_blur = 1, all ≥ 0,

* ``t``: per-channel tone curves t_c(u) = u + β_c·u(1 − u) − κ_c/(2π)·sin(2πu) applied to every
  pixel. t_c(0) = 0, t_c(1) = 1 and t_c'(u) = 1 + β_c(1 − 2u) − κ_c·cos(2πu) ≥ 1 − |β_c| − |κ_c| > 0,
  so t = ∇ Σ_{c,p} F_c(x_{c,p}) with F_c' = t_c increasing, i.e. F_c convex (a separable convex sum).
* ``M``: a symmetric positive semi-definite 3×3 colour mixing, non-negative, rows summing to 1,
  applied to every pixel: M x = ∇ ½⟨x, (M ⊗ I) x⟩, a convex quadratic.
* ``K``: a soft-focus filter, the circular (wrap-around) convolution of every channel with the
  separable binomial kernel b ⊗ b. A circular convolution with a symmetric kernel is a symmetric
  matrix whose eigenvalues are the kernel's discrete Fourier transform; for b = binomial(2r) that is
  cos(ω/2)^{2r}·… ≥ 0 (``blur_passes`` repeats it, so the eigenvalues stay ≥ 0): K is symmetric
  PSD, K x = ∇ ½⟨x, K x⟩, convex. Its entries are ≥ 0 and sum to 1 per row.

So T = ∇φ with φ = w_tone Σ F_c + (w_mix/2)⟨x, Mx⟩ + (w_blur/2)⟨x, Kx⟩ convex; its Jacobian
w_tone·diag(t'(x)) + w_mix·(M ⊗ I) + w_blur·(I ⊗ K) is symmetric with eigenvalues
≥ m = w_tone·min_c(1 − |β_c| − |κ_c|) > 0: T is m-strongly monotone, hence injective, and by
Brenier's theorem the W2-optimal map from the law of x to the law of T(x). Range: t, M and K each
map [0, 1]^d into itself (monotone curves fixing 0 and 1; averages with non-negative weights), so
their convex combination T does too — no clamping.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["ConvexStyleMap", "default_style_map", "gaussian_colour_map"]


def _binomial(radius: int) -> torch.Tensor:
    k = torch.tensor([math.comb(2 * radius, i) for i in range(2 * radius + 1)], dtype=torch.float64)
    return k / k.sum()


@dataclass
class ConvexStyleMap:
    """T = w_tone·t + w_mix·M + w_blur·K (see the module docstring); ``T(x)`` for ``[N, 3, S, S]``."""

    beta: tuple = (0.35, 0.0, -0.35)        # warm tone: lift red, lower blue (quadratic part)
    kappa: tuple = (0.3, 0.3, 0.3)          # S-curve contrast (sine part), same per channel
    mix: tuple = ((0.6, 0.3, 0.1), (0.3, 0.4, 0.3), (0.1, 0.3, 0.6))   # symmetric, PSD, rows sum to 1
    w_tone: float = 0.2
    w_mix: float = 0.1
    w_blur: float = 0.7
    blur_radius: int = 2                    # binomial kernel of 2·radius + 1 taps per axis
    blur_passes: int = 8                    # repeated: ≈ a Gaussian blur of σ ≈ 2.8 px

    def __post_init__(self):
        w = (self.w_tone, self.w_mix, self.w_blur)
        if min(w) < 0 or abs(sum(w) - 1) > 1e-9:
            raise ValueError(f"weights must be ≥ 0 and sum to 1, got {w}")
        if any(abs(b) + abs(k) >= 1 for b, k in zip(self.beta, self.kappa)):
            raise ValueError("tone curves need |beta_c| + |kappa_c| < 1 (strictly increasing)")
        m = torch.tensor(self.mix, dtype=torch.float64)
        if (not torch.allclose(m, m.T) or (m < 0).any() or not torch.allclose(m.sum(1), torch.ones(3, dtype=m.dtype))
                or torch.linalg.eigvalsh(m).min() < -1e-12):
            raise ValueError("mix must be symmetric, PSD, non-negative with rows summing to 1")

    @property
    def strong_monotonicity(self) -> float:
        """m with ⟨T(x) − T(y), x − y⟩ ≥ m‖x − y‖² (the Jacobian's smallest eigenvalue bound)."""
        return self.w_tone * min(1 - abs(b) - abs(k) for b, k in zip(self.beta, self.kappa))

    def tone(self, x: torch.Tensor) -> torch.Tensor:
        b = torch.tensor(self.beta, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        k = torch.tensor(self.kappa, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return x + b * x * (1 - x) - k / (2 * math.pi) * torch.sin(2 * math.pi * x)

    def colour_mix(self, x: torch.Tensor) -> torch.Tensor:
        m = torch.tensor(self.mix, dtype=x.dtype, device=x.device)
        return torch.einsum("cd,nd...->nc...", m, x)

    def blur(self, x: torch.Tensor) -> torch.Tensor:
        k = _binomial(self.blur_radius).to(x)
        r = self.blur_radius
        n, c, h, w = x.shape
        y = x.reshape(n * c, 1, h, w)
        for _ in range(self.blur_passes):
            y = F.conv2d(F.pad(y, (r, r, 0, 0), mode="circular"), k.view(1, 1, 1, -1))
            y = F.conv2d(F.pad(y, (0, 0, r, r), mode="circular"), k.view(1, 1, -1, 1))
        return y.reshape(n, c, h, w)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.w_tone * self.tone(x)
        if self.w_mix:
            out = out + self.w_mix * self.colour_mix(x)
        if self.w_blur:
            out = out + self.w_blur * self.blur(x)
        return out

    def potential(self, x: torch.Tensor) -> torch.Tensor:
        """φ(x), ``[N]`` (T = ∇φ; used by the tests to check the gradient relation)."""
        b = torch.tensor(self.beta, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        k = torch.tensor(self.kappa, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        tau = 2 * math.pi
        tone = x ** 2 / 2 + b * (x ** 2 / 2 - x ** 3 / 3) + k / tau ** 2 * torch.cos(tau * x)
        out = self.w_tone * tone.flatten(1).sum(1)
        out = out + 0.5 * self.w_mix * (x * self.colour_mix(x)).flatten(1).sum(1)
        out = out + 0.5 * self.w_blur * (x * self.blur(x)).flatten(1).sum(1)
        return out

    def describe(self) -> str:
        return (f"T = ∇φ, φ convex: {self.w_tone:g}·tone curves (β={list(self.beta)}, κ={list(self.kappa)}) + "
                f"{self.w_mix:g}·symmetric PSD colour mixing + {self.w_blur:g}·soft focus (circular binomial "
                f"{2 * self.blur_radius + 1}×{2 * self.blur_radius + 1} blur ×{self.blur_passes}); "
                f"strongly monotone (m = {self.strong_monotonicity:.2f}), maps [0, 1] into [0, 1]")


def default_style_map() -> ConvexStyleMap:
    """The map of the ``cpu``/``smoke`` profiles: warm S-curve tones, mild colour mixing, soft focus."""
    return ConvexStyleMap()


def gaussian_colour_map(colours_a: torch.Tensor, colours_b: torch.Tensor):
    """The colour-only baseline: the Gaussian OT map between the pixel colours of A and of B.

    Args:
        colours_a, colours_b: images ``[N, 3, S, S]`` (or colours ``[M, 3]``) of each domain.

    Returns:
        a function images ``[N, 3, S, S]`` → images, x ↦ m_b + A(x − m_a) at every pixel, with
        A = Σ_a^{-1/2}(Σ_a^{1/2} Σ_b Σ_a^{1/2})^{1/2} Σ_a^{-1/2} (the W2-optimal map between the
        Gaussians fitted to the two colour distributions).
    """
    from .gaussian import gaussian_ot_map

    def colours(t):
        t = t.detach().double().cpu()
        return t.permute(0, 2, 3, 1).reshape(-1, 3) if t.dim() == 4 else t.reshape(-1, 3)

    ca, cb = colours(colours_a), colours(colours_b)
    a_mat, b_vec = gaussian_ot_map(ca.mean(0).numpy(), torch.cov(ca.T).numpy(),
                                   cb.mean(0).numpy(), torch.cov(cb.T).numpy())
    a_t, b_t = torch.as_tensor(a_mat), torch.as_tensor(b_vec)

    def apply(x: torch.Tensor) -> torch.Tensor:
        xd = x.double().cpu()
        out = torch.einsum("cd,nd...->nc...", a_t, xd) + b_t.view(1, 3, 1, 1)
        return out.to(x.dtype)

    return apply
