"""The DDPM path (Ho et al. 2020): discrete, variance preserving, ε-prediction.

x_k = √ᾱ_k·data + √(1 − ᾱ_k)·noise and the model predicts the noise ε; its time input is
t = k / T so that one model signature ``model(x, t, **extras)`` serves every path.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.paths.base import Path, PathSample, check_pair, expand_like

__all__ = ["DDPMPath"]


class DDPMPath(Path):
    """Discrete variance-preserving diffusion with linear betas and ε-prediction.

    ``betas`` [T] and ``alphas_cumprod`` [T] (ᾱ_k = Π_{j≤k} (1 − β_j)) are float64 on the CPU;
    step k is shown to the model as t = k / T.
    """

    name = "ddpm"
    prediction: ClassVar[Literal["velocity", "epsilon"]] = "epsilon"
    default_sampler: ClassVar[str] = "ddim"
    default_steps: ClassVar[int] = 50

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
        check_pair(data, noise)
        device = generator.device if generator is not None else data.device
        k = torch.randint(self.steps, (data.shape[0],), generator=generator, device=device)
        alpha_bar = expand_like(self.alphas_cumprod[k.cpu()], data).to(data)
        return PathSample(
            x_t=alpha_bar.sqrt() * data + (1 - alpha_bar).sqrt() * noise,
            t=(k.to(device=data.device, dtype=data.dtype) / self.steps),
            target=noise,
        )

    def mixing(self, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
        """(√ᾱ_k, √(1 − ᾱ_k)) at k = round(t·T) (t on the grid k / T), against ``like``."""
        k = torch.round(t.detach().cpu().double() * self.steps).long().clamp(0, self.steps - 1)
        alpha_bar = expand_like(self.alphas_cumprod[k], like).to(like)
        return alpha_bar.sqrt(), (1 - alpha_bar).sqrt()

    def guidance_gain(self, t: Tensor, like: Tensor) -> Tensor:
        """−√(1 − ᾱ_k): ε = −√(1 − ᾱ)·∇ log p(x_k), so a score shifted by g gives
        ε̃ = ε − √(1 − ᾱ)·g (Dhariwal & Nichol 2021, eq. 14). Through the ancestral step this
        moves the mean by (β_k/√α_k)·g, the paper's μ + Σ·g with Σ = β_k up to 1/√α_k ≤ 1.01."""
        _, noise_weight = self.mixing(t, like)
        return -noise_weight
