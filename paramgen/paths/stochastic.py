"""Stochastic interpolants with a latent noise term: x_t = α(t)·noise + β(t)·data + γ(t)·z.

Albergo, Boffi & Vanden-Eijnden (2023) add γ(t)·z, z ~ N(0, I) independent of the pair, with
γ(0) = γ(1) = 0, to a path, and learn the drift b = E[α̇·noise + β̇·data + γ̇·z | x_t] (their L_b).

paramgen's noise is itself N(0, I), so α·noise + γ·z = α_γ·ε' with α_γ = √(α² + γ²) and
ε' ~ N(0, I): the interpolant has exactly the marginals of the deterministic path
(α_γ, β), and by Gaussian conditioning E[α̇·noise + γ̇·z | α_γ·ε'] = α̇_γ·ε', with
α̇_γ = (α·α̇ + γ·γ̇)/α_γ. Its drift b is therefore that path's velocity, and
:class:`StochasticInterpolant` *is* that path: training regresses onto α̇_γ·ε' + β̇·data, the
conditional mean of SI's target (same minimiser, lower variance, no γ̇ alone, so the Brownian γ
needs no clipping), and every sampler, the score and the noise/data recovery work unchanged.

A schedule gives γ² and its derivative, which stay finite where γ̇ does not (Brownian γ at the
ends). The base path's α and β are kept as they are: the SI repository's trig interpolant also
scales them by √(1 − γ²) to keep unit variance; that variant is not built here.

d_alpha_t is 0/0 where α_γ = 0 (t = 1 on the linear and trig paths); samplers never evaluate it
there, and the Euler–Maruyama score already stops short of t = 1.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.paths.continuous import ContinuousPath

__all__ = [
    "GammaSchedule",
    "BrownianGamma",
    "QuadraticGamma",
    "SineSquaredGamma",
    "StochasticInterpolant",
]


class GammaSchedule(ABC):
    """γ(t) with γ(0) = γ(1) = 0, scaled by ``scale`` (a); given as γ² and d(γ²)/dt."""

    name: str

    def __init__(self, scale: float = 1.0):
        if not scale >= 0:
            raise ParamgenError(f"{type(self).__name__} scale must be >= 0, got {scale}")
        self.scale = float(scale)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scale={self.scale})"

    @abstractmethod
    def gamma_squared_t(self, t: Tensor) -> Tensor:
        """γ(t)²."""

    @abstractmethod
    def d_gamma_squared_t(self, t: Tensor) -> Tensor:
        """d(γ²)/dt = 2γγ̇."""


class BrownianGamma(GammaSchedule):
    """γ = a·√(t(1 − t)), the Brownian bridge (γ̇ diverges at both ends, γ² does not)."""

    name = "brownian"

    def gamma_squared_t(self, t: Tensor) -> Tensor:
        return self.scale**2 * t * (1 - t)

    def d_gamma_squared_t(self, t: Tensor) -> Tensor:
        return self.scale**2 * (1 - 2 * t)


class QuadraticGamma(GammaSchedule):
    """γ = a·t(1 − t)."""

    name = "quadratic"

    def gamma_squared_t(self, t: Tensor) -> Tensor:
        return (self.scale * t * (1 - t)) ** 2

    def d_gamma_squared_t(self, t: Tensor) -> Tensor:
        return 2 * self.scale**2 * t * (1 - t) * (1 - 2 * t)


class SineSquaredGamma(GammaSchedule):
    """γ = a·sin²(πt)."""

    name = "sine-squared"

    def gamma_squared_t(self, t: Tensor) -> Tensor:
        return (self.scale * torch.sin(math.pi * t) ** 2) ** 2

    def d_gamma_squared_t(self, t: Tensor) -> Tensor:
        s, c = torch.sin(math.pi * t), torch.cos(math.pi * t)
        return 4 * math.pi * self.scale**2 * s**3 * c


class StochasticInterpolant(ContinuousPath):
    """``base`` plus γ(t)·z: the path α_γ = √(α² + γ²), β unchanged (see the module docstring).

    ``base`` is a continuous path (linear, trig, …), ``gamma`` a :class:`GammaSchedule`; the
    name joins theirs, e.g. ``linear+brownian``.
    """

    def __init__(self, base: ContinuousPath, gamma: GammaSchedule):
        if not isinstance(base, ContinuousPath):
            raise ParamgenError(
                f"base must be a continuous path (linear, trig), got {type(base).__name__}"
            )
        if not isinstance(gamma, GammaSchedule):
            raise ParamgenError(
                f"gamma must be a GammaSchedule (BrownianGamma, QuadraticGamma, "
                f"SineSquaredGamma), got {type(gamma).__name__}"
            )
        self.base, self.gamma = base, gamma
        self.name = f"{base.name}+{gamma.name}"

    def __repr__(self) -> str:
        return f"StochasticInterpolant({type(self.base).__name__}(), {self.gamma!r})"

    def alpha_t(self, t: Tensor) -> Tensor:
        return torch.sqrt(self.base.alpha_t(t) ** 2 + self.gamma.gamma_squared_t(t))

    def beta_t(self, t: Tensor) -> Tensor:
        return self.base.beta_t(t)

    def d_alpha_t(self, t: Tensor) -> Tensor:
        """(α·α̇ + ½·d(γ²)/dt)/α_γ."""
        alpha = self.base.alpha_t(t)
        numerator = alpha * self.base.d_alpha_t(t) + 0.5 * self.gamma.d_gamma_squared_t(t)
        return numerator / self.alpha_t(t)

    def d_beta_t(self, t: Tensor) -> Tensor:
        return self.base.d_beta_t(t)
