"""The DDPM path (Ho et al. 2020): discrete, variance preserving, ε- or v-prediction.

x_k = √ᾱ_k·data + √(1 − ᾱ_k)·noise; the model predicts the noise ε, or v = √ᾱ·ε − √(1 − ᾱ)·data
(Salimans & Ho 2022), which stays defined where ᾱ = 0. Its time input is t = k / T so that one
model signature ``model(x, t, **extras)`` serves every path. The β schedule is named
(:mod:`paramgen.paths.schedules`), optionally rescaled to zero terminal SNR, and the path carries
the timestep spacing its samplers use (:func:`paramgen.solvers.ddpm_timesteps`), as a diffusers
scheduler does.
"""

from __future__ import annotations

import copy
import math
from typing import ClassVar, Literal

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.paths.base import Path, PathSample, check_pair, expand_like
from paramgen.paths.continuous import GUIDANCE_BETA_FLOOR
from paramgen.paths.schedules import beta_schedule, rescale_zero_terminal_snr

__all__ = ["DDPMPath", "PREDICTIONS", "SPACINGS"]

PREDICTIONS = ("epsilon", "v")
SPACINGS = ("linspace", "leading", "trailing")


class DDPMPath(Path):
    """Discrete variance-preserving diffusion.

    ``betas`` [T] and ``alphas_cumprod`` [T] (ᾱ_k = Π_{j≤k} (1 − β_j)) are float64 on the CPU;
    step k is shown to the model as t = k / T; ``name`` says the schedule and prediction
    ("ddpm" for the defaults, "ddpm-scaled-linear-zero-snr-v", ...). ``schedule`` names the
    betas (``beta_start`` / ``beta_end`` override a linear schedule's ends);
    ``zero_terminal_snr`` rescales them to ᾱ_T = 0, which needs ``prediction="v"``; ``spacing``
    is how samplers pick their timesteps.
    """

    default_sampler: ClassVar[str] = "ddim"
    default_steps: ClassVar[int] = 50

    def __init__(
        self,
        steps: int = 1000,
        *,
        schedule: str = "linear",
        beta_start: float | None = None,
        beta_end: float | None = None,
        zero_terminal_snr: bool = False,
        prediction: Literal["epsilon", "v"] = "epsilon",
        spacing: Literal["linspace", "leading", "trailing"] = "linspace",
    ):
        if steps < 1:
            raise ParamgenError(f"DDPMPath steps must be >= 1, got {steps}")
        if prediction not in PREDICTIONS:
            raise ParamgenError(
                f"unknown DDPM prediction {prediction!r}; expected one of {', '.join(PREDICTIONS)}"
            )
        if zero_terminal_snr and prediction == "epsilon":
            raise ParamgenError(
                "zero_terminal_snr leaves no data in the last step, where an ε-prediction "
                "cannot be turned into data (x̂₀ divides by √ᾱ_T = 0); use prediction='v'"
            )
        self.steps, self.schedule = steps, schedule
        self.beta_start, self.beta_end = beta_start, beta_end
        self.zero_terminal_snr, self.prediction = zero_terminal_snr, prediction
        self.spacing = _checked_spacing(spacing)
        self.name = self._name()
        betas = beta_schedule(schedule, steps, beta_start, beta_end)
        self.betas = rescale_zero_terminal_snr(betas) if zero_terminal_snr else betas
        self.alphas_cumprod = torch.cumprod(1 - self.betas, dim=0)

    def __repr__(self) -> str:
        ends = (
            ""
            if self.beta_start is None and self.beta_end is None
            else (f", beta_start={self.beta_start}, beta_end={self.beta_end}")
        )
        return (
            f"DDPMPath(steps={self.steps}, schedule={self.schedule!r}{ends}, "
            f"zero_terminal_snr={self.zero_terminal_snr}, prediction={self.prediction!r}, "
            f"spacing={self.spacing!r})"
        )

    def _name(self) -> str:
        """ "ddpm", plus what sets this path's ᾱ and target apart from the default (not the
        spacing: a model trained on a path samples on it with any spacing): the name a
        classifier or generator records and the path registry knows the presets by."""
        parts = ["ddpm"]
        if self.schedule != "linear":
            parts.append(self.schedule)
        if self.beta_start is not None or self.beta_end is not None:
            parts.append(f"betas-{self.beta_start}-{self.beta_end}")
        if self.zero_terminal_snr:
            parts.append("zero-snr")
        if self.prediction != "epsilon":
            parts.append(self.prediction)
        return "-".join(parts)

    def respaced(self, spacing: Literal["linspace", "leading", "trailing"]) -> DDPMPath:
        """The same path (same schedule, so the same trained model fits it) whose samplers space
        their timesteps by ``spacing``."""
        path = copy.copy(self)
        path.spacing = _checked_spacing(spacing)
        return path

    def target(self, data: Tensor, noise: Tensor, alpha_bar: Tensor | float) -> Tensor:
        """What the model regresses onto at ᾱ (broadcastable against data): ε, or v."""
        if self.prediction == "epsilon":
            return noise
        alpha_bar = torch.as_tensor(alpha_bar, dtype=data.dtype, device=data.device)
        return alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * data

    def estimates(self, output: Tensor, x: Tensor, alpha_bar: float) -> tuple[Tensor, Tensor]:
        """(x̂₀, ε̂) from the model's ``output`` at x_k with ᾱ_k = ``alpha_bar`` (a float)."""
        signal, spread = math.sqrt(alpha_bar), math.sqrt(1 - alpha_bar)
        if self.prediction == "epsilon":
            return (x - spread * output) / signal, output
        return signal * x - spread * output, spread * x + signal * output

    def sample_training(
        self, data: Tensor, noise: Tensor, generator: torch.Generator | None = None
    ) -> PathSample:
        """k ~ U{0, …, T−1}; x_k = √ᾱ_k·data + √(1 − ᾱ_k)·noise; target ε or v; t = k / T."""
        check_pair(data, noise)
        device = generator.device if generator is not None else data.device
        k = torch.randint(self.steps, (data.shape[0],), generator=generator, device=device)
        alpha_bar = expand_like(self.alphas_cumprod[k.cpu()], data).to(data)
        return PathSample(
            x_t=alpha_bar.sqrt() * data + (1 - alpha_bar).sqrt() * noise,
            t=(k.to(device=data.device, dtype=data.dtype) / self.steps),
            target=self.target(data, noise, alpha_bar),
        )

    def mixing(self, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
        """(√ᾱ_k, √(1 − ᾱ_k)) at k = round(t·T) (t on the grid k / T), against ``like``."""
        k = torch.round(t.detach().cpu().double() * self.steps).long().clamp(0, self.steps - 1)
        alpha_bar = expand_like(self.alphas_cumprod[k], like).to(like)
        return alpha_bar.sqrt(), (1 - alpha_bar).sqrt()

    def guidance_gain(self, t: Tensor, like: Tensor) -> Tensor:
        """ε: −√(1 − ᾱ_k), since ε = −√(1 − ᾱ)·∇ log p(x_k), so a score shifted by g gives
        ε̃ = ε − √(1 − ᾱ)·g (Dhariwal & Nichol 2021, eq. 14); through the ancestral step this
        moves the mean by (β_k/√α_k)·g, the paper's μ + Σ·g with Σ = β_k up to 1/√α_k ≤ 1.01.
        v: v = (ε − √(1 − ᾱ)·x)/√ᾱ at fixed x, so the gain is ε's divided by √ᾱ, floored at
        ``GUIDANCE_BETA_FLOOR`` as the continuous paths floor their data weight (where ᾱ → 0 a
        learned classifier's small gradient would be blown up)."""
        signal, noise_weight = self.mixing(t, like)
        if self.prediction == "epsilon":
            return -noise_weight
        return -noise_weight / signal.clamp(min=GUIDANCE_BETA_FLOOR)


def _checked_spacing(spacing: str) -> str:
    if spacing not in SPACINGS:
        raise ParamgenError(
            f"unknown timestep spacing {spacing!r}; expected one of {', '.join(SPACINGS)}"
        )
    return spacing
