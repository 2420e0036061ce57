"""Paths from noise to data: what a generator trains on, and how to read its output back.

A path fixes how a training pair (noise, data) is mixed at time t and what the model must predict
there. Continuous paths follow torchcfm (noise x₀ at t = 0, data x₁ at t = 1) and the stochastic
interpolants of Albergo, Boffi & Vanden-Eijnden (2023) without the γ·z term (that term is
:mod:`paramgen.stochastic_interpolants`; the per-dimension MAC path is :mod:`paramgen.mac_path`):

    x_t = α(t)·noise + β(t)·data,    target = α̇(t)·noise + β̇(t)·data   (the velocity).

A new continuous path is a subclass that overrides the four coefficient functions. The DDPM path
(Ho et al. 2020) is discrete: x_k = √ᾱ_k·data + √(1 − ᾱ_k)·noise and the model predicts the noise
ε; its time input is t = k / T so one model signature ``model(x, t, **extras)`` serves every path.

Shapes: x, noise, data are [N, ...] (any trailing shape); t is [N]; coefficients broadcast as
[N, 1, …, 1].
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from paramgen.errors import ParamgenError

__all__ = [
    "PathSample",
    "Coefficients",
    "expand_like",
    "Path",
    "ContinuousPath",
    "LinearPath",
    "TrigPath",
    "DDPMPath",
    "PATHS",
    "make_path",
]


@dataclass(frozen=True)
class PathSample:
    """One training batch: the model sees ``model(x_t, t)`` and regresses onto ``target``."""

    x_t: Tensor
    t: Tensor
    target: Tensor


@dataclass(frozen=True)
class Coefficients:
    """α(t), β(t) and their time derivatives: [N], or [N, 1, …, 1] when expanded against x, or
    [N, ...] per sample and dimension (:class:`paramgen.mac_path.MacPath`)."""

    alpha: Tensor
    beta: Tensor
    d_alpha: Tensor
    d_beta: Tensor


def expand_like(t: Tensor, x: Tensor) -> Tensor:
    """[N] → [N, 1, …, 1] with x's rank, so that it broadcasts against x [N, ...]."""
    return t.reshape(-1, *([1] * (x.ndim - 1)))


def _uniform(like: Tensor, generator: torch.Generator | None) -> Tensor:
    """[N] uniform draws in [0, 1), made on the generator's device and moved to ``like``'s."""
    device = generator.device if generator is not None else like.device
    t = torch.rand(like.shape[0], generator=generator, device=device, dtype=like.dtype)
    return t.to(like.device)


def _check_pair(data: Tensor, noise: Tensor) -> None:
    if data.shape != noise.shape or data.ndim < 1:
        raise ParamgenError(
            f"data and noise must have the same shape [N, ...], got data {tuple(data.shape)} and "
            f"noise {tuple(noise.shape)}"
        )


class Path(ABC):
    """A noise-to-data path: it draws training times and says what the model predicts."""

    name: str
    prediction: Literal["velocity", "epsilon"]

    @abstractmethod
    def sample_training(
        self, data: Tensor, noise: Tensor, generator: torch.Generator | None = None
    ) -> PathSample:
        """Draw one time per row and mix ``data`` [N, ...] with ``noise`` [N, ...] there."""


class ContinuousPath(Path):
    """x_t = α(t)·noise + β(t)·data on t ∈ [0, 1]; the model predicts the velocity."""

    prediction: Literal["velocity", "epsilon"] = "velocity"

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
        _check_pair(data, noise)
        t = _uniform(data, generator)
        c = self.coefficients(t, like=data)
        return PathSample(
            x_t=c.alpha * noise + c.beta * data,
            t=t,
            target=c.d_alpha * noise + c.d_beta * data,
        )

    def noise_and_data_from_velocity(
        self, x_t: Tensor, velocity: Tensor, t: Tensor
    ) -> tuple[Tensor, Tensor]:
        """(noise_hat, data_hat) solving x_t = α·ε̂ + β·x̂₁ and v = α̇·ε̂ + β̇·x̂₁ (Cramer's rule).

        The determinant α·β̇ − β·α̇ is 1 on the linear path and π/2 on the trig path, so the
        system is well posed for every t in [0, 1].
        """
        c = self.coefficients(t, like=x_t)
        det = c.alpha * c.d_beta - c.beta * c.d_alpha
        noise_hat = (c.d_beta * x_t - c.beta * velocity) / det
        data_hat = (c.alpha * velocity - c.d_alpha * x_t) / det
        return noise_hat, data_hat

    def score(self, x_t: Tensor, velocity: Tensor, t: Tensor) -> Tensor:
        """∇ log p_t(x_t) = −E[noise | x_t] / α(t); diverges as α → 0 (t → 1)."""
        noise_hat, _ = self.noise_and_data_from_velocity(x_t, velocity, t)
        return -noise_hat / expand_like(self.alpha_t(t), x_t)


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


class DDPMPath(Path):
    """Discrete variance-preserving diffusion with linear betas and ε-prediction.

    ``betas`` [T] and ``alphas_cumprod`` [T] (ᾱ_k = Π_{j≤k} (1 − β_j)) are float64 on the CPU;
    step k is shown to the model as t = k / T.
    """

    name = "ddpm"
    prediction: Literal["velocity", "epsilon"] = "epsilon"

    def __init__(self, steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 2e-2):
        if steps < 1:
            raise ParamgenError(f"DDPMPath steps must be >= 1, got {steps}")
        if not 0 < beta_start <= beta_end < 1:
            raise ParamgenError(
                "DDPMPath betas must satisfy 0 < beta_start <= beta_end < 1, got "
                f"beta_start={beta_start}, beta_end={beta_end}"
            )
        self.steps = steps
        self.beta_start = beta_start
        self.beta_end = beta_end
        self.betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
        self.alphas_cumprod = torch.cumprod(1 - self.betas, dim=0)

    def __repr__(self) -> str:
        return (
            f"DDPMPath(steps={self.steps}, beta_start={self.beta_start}, beta_end={self.beta_end})"
        )

    def sample_training(
        self, data: Tensor, noise: Tensor, generator: torch.Generator | None = None
    ) -> PathSample:
        """k ~ U{0, …, T−1}; x_k = √ᾱ_k·data + √(1 − ᾱ_k)·noise; target = noise; t = k / T."""
        _check_pair(data, noise)
        device = generator.device if generator is not None else data.device
        k = torch.randint(self.steps, (data.shape[0],), generator=generator, device=device)
        alpha_bar = expand_like(self.alphas_cumprod[k.cpu()], data).to(data)
        return PathSample(
            x_t=alpha_bar.sqrt() * data + (1 - alpha_bar).sqrt() * noise,
            t=(k.to(device=data.device, dtype=data.dtype) / self.steps),
            target=noise,
        )


PATHS: dict[str, Callable[[], Path]] = {
    LinearPath.name: LinearPath,
    TrigPath.name: TrigPath,
    DDPMPath.name: DDPMPath,
}


def make_path(name: str) -> Path:
    """The path registered as ``name`` (``linear``, ``trig`` or ``ddpm``) with its defaults."""
    try:
        factory = PATHS[name]
    except KeyError:
        raise ParamgenError(
            f"unknown path {name!r}; expected one of {', '.join(sorted(PATHS))}"
        ) from None
    return factory()
