"""Samplers for the DDPM path (ε- or v-prediction models).

k runs down over ``steps`` timesteps spaced as the path says (:func:`ddpm_timesteps`); the last
step always jumps to the clean data (ᾱ_prev = 1). The model's output is turned into (x̂₀, ε̂) by
the path (:meth:`DDPMPath.estimates`). No x̂₀ clipping: latents are not bounded.

* ``ddpm``: ancestral sampling with the posterior variance β̃ (Ho et al. 2020, eq. 6–7), using
  the effective β_eff = 1 − ᾱ_k / ᾱ_prev between kept steps.
* ``ddim``: deterministic DDIM, η = 0 (Song et al. 2021, eq. 12).

A ``first_step`` (One More Step, :mod:`paramgen.solvers.one_more_step`) replaces the start
noise by x at the first kept timestep before either loop runs (:func:`paramgen.solvers.sample`).
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
    """``steps`` distinct timesteps, descending, spaced by ``path.spacing`` as diffusers' DDIM
    and DDPM schedulers space them (T = path.steps):

    * ``linspace``: round(linspace(T−1, 0, steps)), both ends kept (only T−1 when steps = 1);
    * ``leading``: k·(T // steps) for k = steps−1 … 0, plus Stable Diffusion's ``steps_offset``
      of 1 (T = 1000, 20 steps: 951, 901, …, 1), so the first step is well short of T−1 (the
      offset is dropped where it would pass T−1, i.e. steps = T);
    * ``trailing``: round(T − k·T/steps) − 1 for k = 0 … steps−1 (999, 949, …, 49), which starts
      at the last training step, as zero-terminal-SNR sampling needs (Lin et al. 2023, §3.3).
    """
    if steps > path.steps:
        raise ParamgenError(
            f"steps must be <= {path.steps} (the DDPM path's length) for DDPM samplers, got {steps}"
        )
    if path.spacing == "leading":
        stride = path.steps // steps
        offset = 1 if (steps - 1) * stride + 1 < path.steps else 0
        return [k * stride + offset for k in range(steps - 1, -1, -1)]
    if path.spacing == "trailing":
        points = torch.arange(path.steps, 0, -path.steps / steps, dtype=torch.float64)[:steps]
        return (points.round().long() - 1).tolist()
    return torch.linspace(path.steps - 1, 0, steps, dtype=torch.float64).round().long().tolist()


def _ddpm_pairs(path: DDPMPath, steps: int) -> list[tuple[int, float, float]]:
    """(k, ᾱ_k, ᾱ_prev) per step; ᾱ_prev = 1 after the last kept step (the clean data)."""
    ks = ddpm_timesteps(path, steps)
    bars = path.alphas_cumprod.tolist()
    prev = [bars[k] for k in ks[1:]] + [1.0]
    return [(k, bars[k], p) for k, p in zip(ks, prev, strict=True)]


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
        x0, _ = path.estimates(model(x, times(k / path.steps, x), **extras), x, bar)
        beta = 1 - bar / bar_prev  # effective β between the kept steps
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
        x0, eps = path.estimates(model(x, times(k / path.steps, x), **extras), x, bar)
        x = math.sqrt(bar_prev) * x0 + math.sqrt(1 - bar_prev) * eps
    return x
