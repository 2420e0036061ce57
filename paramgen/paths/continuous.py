"""Continuous paths x_t = α(t)·noise + β(t)·data on t ∈ [0, 1], with velocity prediction.

They follow torchcfm and the stochastic interpolants of Albergo, Boffi & Vanden-Eijnden (2023)
without the γ·z term (that term is :mod:`paramgen.paths.stochastic`):

    x_t = α(t)·noise + β(t)·data,    target = α̇(t)·noise + β̇(t)·data   (the velocity).

A new continuous path is a subclass that overrides the four coefficient functions.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import ClassVar, Literal

import torch
from torch import Tensor

from paramgen.paths.base import (
    Coefficients,
    Path,
    PathSample,
    check_pair,
    expand_like,
    uniform_times,
)

__all__ = ["GUIDANCE_BETA_FLOOR", "ContinuousPath", "LinearPath", "TrigPath"]

# The data weight below which classifier guidance's gain stops growing (see guidance_gain).
GUIDANCE_BETA_FLOOR = 0.1


def _determinant(c: Coefficients) -> Tensor:
    """α·β̇ − β·α̇: how (noise, data) map to (x_t, velocity); 1 on the linear path."""
    return c.alpha * c.d_beta - c.beta * c.d_alpha


class ContinuousPath(Path):
    """x_t = α(t)·noise + β(t)·data on t ∈ [0, 1]; the model predicts the velocity."""

    prediction: Literal["velocity", "epsilon", "v"] = "velocity"
    default_sampler: ClassVar[str] = "heun"
    default_steps: ClassVar[int] = 25

    @abstractmethod
    def alpha_t(self, t: Tensor) -> Tensor:
        """Weight of the noise; α(0) = 1, α(1) = 0."""

    @abstractmethod
    def beta_t(self, t: Tensor) -> Tensor:
        """Weight of the data; β(0) = 0, β(1) = 1."""

    @abstractmethod
    def d_alpha_t(self, t: Tensor) -> Tensor:
        """dα/dt."""

    @abstractmethod
    def d_beta_t(self, t: Tensor) -> Tensor:
        """dβ/dt."""

    def coefficients(self, t: Tensor, like: Tensor | None = None) -> Coefficients:
        """Coefficients at t [N]; expanded to [N, 1, …, 1] when ``like`` [N, ...] is given."""
        expand = (lambda c: expand_like(c, like)) if like is not None else (lambda c: c)
        return Coefficients(
            alpha=expand(self.alpha_t(t)),
            beta=expand(self.beta_t(t)),
            d_alpha=expand(self.d_alpha_t(t)),
            d_beta=expand(self.d_beta_t(t)),
        )

    def sample_training(
        self, data: Tensor, noise: Tensor, generator: torch.Generator | None = None
    ) -> PathSample:
        """t ~ U[0, 1); x_t = α·noise + β·data; target = α̇·noise + β̇·data."""
        check_pair(data, noise)
        t = uniform_times(data, generator)
        c = self.coefficients(t, like=data)
        return PathSample(
            x_t=c.alpha * noise + c.beta * data,
            t=t,
            target=c.d_alpha * noise + c.d_beta * data,
        )

    def mixing(self, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
        """(β, α) at t [N], expanded to [N, 1, …, 1] against ``like``."""
        return expand_like(self.beta_t(t), like), expand_like(self.alpha_t(t), like)

    def noise_and_data_from_velocity(
        self, x_t: Tensor, velocity: Tensor, t: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(noise_hat, data_hat) solving x_t = α·ε̂ + β·x̂₁ and v = α̇·ε̂ + β̇·x̂₁ (Cramer's rule).

        The determinant α·β̇ − β·α̇ is 1 on the linear path and π/2 on the trig path, so the
        system is well posed for every t in [0, 1].
        """
        c = self.coefficients(t, like=x_t)
        det = _determinant(c)
        noise_hat = (c.d_beta * x_t - c.beta * velocity) / det
        data_hat = (c.alpha * velocity - c.d_alpha * x_t) / det
        return noise_hat, data_hat

    def score(self, x_t: Tensor, velocity: Tensor, t: Tensor) -> Tensor:
        """∇ log p_t(x_t) = −E[noise | x_t] / α(t); diverges as α → 0 (t → 1)."""
        noise_hat, _ = self.noise_and_data_from_velocity(x_t, velocity, t)
        return -noise_hat / expand_like(self.alpha_t(t), x_t)

    def guidance_gain(self, t: Tensor, like: Tensor) -> Tensor:
        """α·(α·β̇ − β·α̇)/β, with β floored at ``GUIDANCE_BETA_FLOOR``.

        A score shifted by g shifts the noise estimate by −α·g at fixed x_t, and the velocity
        by −(α̇ − β̇·α/β)·α·g = α·det/β·g; on the linear path that is (1 − t)/t·g. The exact term
        stays finite as t → 0 (the classifier's gradient vanishes like β there), but 1/β would
        blow a learned classifier's residual gradient at pure noise up without bound, so the
        gain's 1/β is capped at 1/0.1: on the linear path (1 − t)/0.1 ≤ 10 for t < 0.1.
        """
        c = self.coefficients(t, like=like)
        return c.alpha * _determinant(c) / c.beta.clamp(min=GUIDANCE_BETA_FLOOR)


class LinearPath(ContinuousPath):
    """Rectified flow / conditional flow matching: α = 1 − t, β = t, velocity = data − noise."""

    name = "linear"

    def alpha_t(self, t: Tensor) -> Tensor:
        return 1 - t

    def beta_t(self, t: Tensor) -> Tensor:
        return t

    def d_alpha_t(self, t: Tensor) -> Tensor:
        return -torch.ones_like(t)

    def d_beta_t(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)


class TrigPath(ContinuousPath):
    """Variance-preserving for unit-variance data: α = cos(πt/2), β = sin(πt/2)."""

    name = "trig"

    def alpha_t(self, t: Tensor) -> Tensor:
        return torch.cos(0.5 * math.pi * t)

    def beta_t(self, t: Tensor) -> Tensor:
        return torch.sin(0.5 * math.pi * t)

    def d_alpha_t(self, t: Tensor) -> Tensor:
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)

    def d_beta_t(self, t: Tensor) -> Tensor:
        return 0.5 * math.pi * torch.cos(0.5 * math.pi * t)
