"""The MAC path: per-dimension coefficients chosen for each trajectory (Lee et al., ICML 2025).

Multidimensional Adaptive Coefficients bend the linear path separately in every dimension of every
sample, with weights w [N, 2, M, ...] that a coefficient net computes once per trajectory from its
start point (:mod:`paramgen.families.mac`). The paper's SI form (data x₀ at τ = 0, noise at τ = 1):

    b_m(τ) = sin(π m τ^{1/q}),  S_f = Σ_m w_f,m·b_m,  S_g = Σ_m w_g,m·b_m,  m = 1..M,
    f = 1 − τ + S_f²,  g = τ + S_g²,  γ₀ = f/(f + g) (data weight),  γ₁ = g/(f + g) (noise weight).

paramgen runs time the other way (noise at t = 0, data at t = 1, as torchcfm), so the basis is
evaluated at τ = 1 − t. Its steep end (τ^{1/q} has an infinite slope at τ = 0) stays at the data
end, where the paper puts MAC's flexibility, and with the same f and g:

    α(t) = γ₁ = g/(f + g) (noise),  β(t) = γ₀ = f/(f + g) (data),  f = t + S_f², g = 1 − t + S_g².

* w = 0 gives f = t and g = 1 − t, so α = 1 − t and β = t: exactly the linear path.
* b_m(0) = b_m(1) = 0 exactly (sin(π·x) is evaluated exactly at integers), so α(0) = 1, β(0) = 0,
  α(1) = 0 and β(1) = 1 for any w.
* α + β = 1, and f + g ≥ 1 keeps the division safe.

The time derivatives diverge at the data end (t → 1) when w ≠ 0, through the τ^{1/q − 1} factor;
at t = 1 they are evaluated at τ = the dtype's smallest normal number instead (huge when w ≠ 0,
exact when w = 0). The γ-space sampler (:func:`paramgen.solvers.gamma_euler`) never needs them.

The model a MAC path serves is a linear-path velocity model shown the row's mean data weight as
its time (what the γ-space sampler feeds it), so a training pair is x_t on the MAC path, that
mean as t, and data − noise as the target.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.paths.base import Coefficients, Path, PathSample, check_pair, uniform_times

__all__ = ["MacPath", "sin_pi"]


def sin_pi(x: Tensor) -> Tensor:
    """sin(π·x), exactly 0 at integers: sin(πx) = (−1)^k·sin(π(x − k)) with k = round(x).

    ``torch.sin(math.pi * m)`` is ~1e-16·m, not 0, which would leave the path's ends inexact.
    Autograd sees round() as constant, so the gradient is π·cos(πx) as it should be.
    """
    k = torch.round(x)
    return (1 - 2 * torch.remainder(k, 2)) * torch.sin(math.pi * (x - k))


class MacPath(Path):
    """x_t = α(t)⊙noise + β(t)⊙data with one (α, β) per sample and dimension.

    ``weights`` [N, 2, M, ...]: the f weights ([:, 0]) and the g weights ([:, 1]) of M basis
    functions for every dimension of data shaped [N, ...]; ``exponent`` is q. The weights are bound
    to the trajectories they were computed for, so a path object serves one batch.
    """

    name = "mac"
    prediction: Literal["velocity", "epsilon", "v"] = "velocity"
    default_sampler: ClassVar[str] = "gamma-euler"
    default_steps: ClassVar[int] = 10

    def __init__(self, weights: Tensor, exponent: float = 7.0):
        if weights.ndim < 4 or weights.shape[1] != 2 or weights.shape[2] < 1:
            raise ParamgenError(
                "weights must have shape [N, 2, M, ...] (f and g weights of M >= 1 basis "
                f"functions for every data dimension), got {tuple(weights.shape)}"
            )
        if not exponent > 0:
            raise ParamgenError(f"exponent (q) must be > 0, got {exponent}")
        self.weights = weights
        self.exponent = float(exponent)

    def __repr__(self) -> str:
        return f"MacPath(weights {tuple(self.weights.shape)}, exponent={self.exponent})"

    @property
    def basis_size(self) -> int:
        """M, the number of basis functions."""
        return self.weights.shape[2]

    @property
    def data_shape(self) -> tuple[int, ...]:
        """[N, ...]: the shape of the noise, data and x_t this path mixes."""
        return (self.weights.shape[0], *self.weights.shape[3:])

    def _check_times(self, t: Tensor) -> None:
        if t.shape != self.data_shape[:1]:
            raise ParamgenError(
                f"t must have shape [N] = {list(self.data_shape[:1])} (one time per trajectory), "
                f"got {list(t.shape)}"
            )
        if t.numel() and (t.min() < 0 or t.max() > 1):
            raise ParamgenError(f"t must lie in [0, 1], got values in [{t.min()}, {t.max()}]")

    def _per_weight(self, values: Tensor) -> Tensor:
        """[N, M] → [N, 1, M, 1, …, 1], to broadcast against the weights."""
        return values.reshape(values.shape[0], 1, self.basis_size, *[1] * (self.weights.ndim - 3))

    def _sums(self, basis: Tensor) -> Tensor:
        """Σ_m w_m·basis_m for f and g: basis [N, M] → [N, 2, ...]."""
        return (self.weights * self._per_weight(basis)).sum(dim=2)

    def _f_g(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """f, g [N, ...] at t [N]."""
        m = torch.arange(1, self.basis_size + 1, dtype=t.dtype, device=t.device)
        s = self._sums(sin_pi(m * (1 - t)[:, None] ** (1 / self.exponent)))
        t_ = t.reshape(-1, *[1] * (s.ndim - 2))
        return t_ + s[:, 0] ** 2, 1 - t_ + s[:, 1] ** 2

    def beta_t(self, t: Tensor) -> Tensor:
        """Data weight β(t) = f/(f + g), [N, ...]; the noise weight is 1 − β."""
        self._check_times(t)
        f, g = self._f_g(t)
        return f / (f + g)

    def coefficients(self, t: Tensor) -> Coefficients:
        """α, β and their time derivatives at t [N], each [N, ...] (per sample and dimension)."""
        self._check_times(t)
        f, g = self._f_g(t)
        m = torch.arange(1, self.basis_size + 1, dtype=t.dtype, device=t.device)
        tau = (1 - t).clamp_min(torch.finfo(t.dtype).tiny)[:, None]  # the slope is infinite at 0
        u = tau ** (1 / self.exponent)
        s = self._sums(sin_pi(m * u))
        # db_m/dt = −db_m/dτ = −π m cos(π m u)·u/(q τ)
        d_s = self._sums(-math.pi * m * torch.cos(math.pi * m * u) * u / (self.exponent * tau))
        d_f, d_g = 1 + 2 * s[:, 0] * d_s[:, 0], -1 + 2 * s[:, 1] * d_s[:, 1]
        d_beta = (d_f * g - f * d_g) / (f + g) ** 2
        return Coefficients(alpha=g / (f + g), beta=f / (f + g), d_alpha=-d_beta, d_beta=d_beta)

    def mixing(self, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
        """(β, 1 − β) at t [N], each [N, ...] (per sample and dimension)."""
        beta = self.beta_t(t)
        return beta, 1 - beta

    def sample_training(
        self, data: Tensor, noise: Tensor, generator: torch.Generator | None = None
    ) -> PathSample:
        """t ~ U[0, 1); x_t = (1 − β)⊙noise + β⊙data; the model's time is the row's mean β and
        its target the linear-path velocity data − noise (see the module docstring)."""
        check_pair(data, noise)
        beta = self.beta_t(uniform_times(data, generator))
        return PathSample(
            x_t=(1 - beta) * noise + beta * data,
            t=beta.flatten(1).mean(dim=1),
            target=data - noise,
        )
