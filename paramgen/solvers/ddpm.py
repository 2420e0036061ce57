"""Samplers for the DDPM path (ε models).

k runs from T−1 down to 0 on ``steps`` timesteps with "linspace" spacing: round(linspace(T−1, 0,
steps)), which keeps both ends (only T−1 when steps = 1). The last step always jumps to the clean
data (ᾱ_prev = 1). No x̂₀ clipping: latents are not bounded.

* ``ddpm``: ancestral sampling with the posterior variance β̃ (Ho et al. 2020, eq. 6–7), using
  the effective β_eff = 1 − ᾱ_k / ᾱ_prev between kept steps.
* ``ddim``: deterministic DDIM, η = 0 (Song et al. 2021, eq. 12).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.paths import DDPMPath
from paramgen.solvers.common import Model, checked, randn, times

__all__ = ["ddpm_timesteps", "ddpm", "ddim"]


def ddpm_timesteps(path: DDPMPath, steps: int) -> list[int]:
    """round(linspace(T−1, 0, steps)): ``steps`` distinct timesteps, descending, both ends kept."""
    if steps > path.steps:
        raise ParamgenError(
            f"steps must be <= {path.steps} (the DDPM path's length) for DDPM samplers, got {steps}"
        )
    return torch.linspace(path.steps - 1, 0, steps, dtype=torch.float64).round().long().tolist()


def _ddpm_pairs(path: DDPMPath, steps: int) -> list[tuple[int, float, float]]:
    """(k, ᾱ_k, ᾱ_prev) per step; ᾱ_prev = 1 after the last kept step (the clean data)."""
    ks = ddpm_timesteps(path, steps)
    bars = path.alphas_cumprod.tolist()
    prev = [bars[k] for k in ks[1:]] + [1.0]
    return [(k, bars[k], p) for k, p in zip(ks, prev, strict=True)]


def _x0_hat(x: Tensor, eps: Tensor, alpha_bar: float) -> Tensor:
    return (x - math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha_bar)


@checked
def ddpm(
    path: DDPMPath,
    model: Model,
    x: Tensor,
    *,
    steps: int,
    diffusion: float = 0.0,
    generator: torch.Generator | None = None,
    **extras: Any,
) -> Tensor:
    """Ancestral DDPM sampling with the posterior variance, from noise x [N, ...] to data."""
    for k, bar, bar_prev in _ddpm_pairs(path, steps):
        eps = model(x, times(k / path.steps, x), **extras)
        beta = 1 - bar / bar_prev  # effective β between the kept steps
        x0 = _x0_hat(x, eps, bar)
        mean = (math.sqrt(bar_prev) * beta / (1 - bar)) * x0 + (
            math.sqrt(1 - beta) * (1 - bar_prev) / (1 - bar)
        ) * x
        variance = (1 - bar_prev) / (1 - bar) * beta  # β̃, zero on the last step
        x = mean + math.sqrt(variance) * randn(x, generator) if variance > 0 else mean
    return x


@checked
def ddim(
    path: DDPMPath,
    model: Model,
    x: Tensor,
    *,
    steps: int,
    diffusion: float = 0.0,
    generator: torch.Generator | None = None,
    **extras: Any,
) -> Tensor:
    """Deterministic DDIM (η = 0) from noise x [N, ...] to data."""
    for k, bar, bar_prev in _ddpm_pairs(path, steps):
        eps = model(x, times(k / path.steps, x), **extras)
        x = math.sqrt(bar_prev) * _x0_hat(x, eps, bar) + math.sqrt(1 - bar_prev) * eps
    return x
