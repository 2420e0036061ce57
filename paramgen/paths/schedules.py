"""Named β schedules of the DDPM path, and the zero-terminal-SNR rescale.

* ``linear``: β linear from 1e-4 to 0.02 (Ho et al. 2020); ᾱ_T ≈ 4e-5.
* ``scaled-linear``: √β linear from √0.00085 to √0.012, Stable Diffusion's schedule; it ends at
  ᾱ_T = 0.0047 (√ᾱ_T = 0.068), so the last training step still holds some data — the flaw One
  More Step and the rescale below address.
* ``cosine``: ᾱ(t) = cos²((t + 0.008)/1.008 · π/2) discretised as β_k = 1 − ᾱ((k+1)/T)/ᾱ(k/T),
  each β capped at 0.999 (Nichol & Dhariwal 2021; diffusers' ``squaredcos_cap_v2``).

All in float64 on the CPU, as diffusers builds them (they agree to its float32 values).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from paramgen.errors import ParamgenError

__all__ = ["BETA_SCHEDULES", "beta_schedule", "rescale_zero_terminal_snr"]

# name → the (β_start, β_end) its betas run between by default; cosine has none
BETA_SCHEDULES: dict[str, tuple[float, float] | None] = {
    "linear": (1e-4, 2e-2),
    "scaled-linear": (0.00085, 0.012),
    "cosine": None,
}
COSINE_OFFSET, COSINE_MAX_BETA = 0.008, 0.999


def _cosine_alpha_bar(t: Tensor) -> Tensor:
    return torch.cos((t + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2


def beta_schedule(
    name: str, steps: int, beta_start: float | None = None, beta_end: float | None = None
) -> Tensor:
    """β [steps] (float64) of the schedule ``name``; ``beta_start`` / ``beta_end`` override the
    linear schedules' ends (None: the schedule's own)."""
    if name not in BETA_SCHEDULES:
        raise ParamgenError(
            f"unknown beta schedule {name!r}; expected one of {', '.join(BETA_SCHEDULES)}"
        )
    ends = BETA_SCHEDULES[name]
    if ends is None:
        if beta_start is not None or beta_end is not None:
            raise ParamgenError(
                f"the {name!r} schedule has no beta_start / beta_end; leave them unset"
            )
        grid = torch.arange(steps + 1, dtype=torch.float64) / steps
        alpha_bar = _cosine_alpha_bar(grid)
        return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=COSINE_MAX_BETA)
    start = ends[0] if beta_start is None else beta_start
    end = ends[1] if beta_end is None else beta_end
    if not 0 < start <= end < 1:
        raise ParamgenError(
            "DDPM betas must satisfy 0 < beta_start <= beta_end < 1, got "
            f"beta_start={start}, beta_end={end}"
        )
    if name == "linear":
        return torch.linspace(start, end, steps, dtype=torch.float64)
    return torch.linspace(math.sqrt(start), math.sqrt(end), steps, dtype=torch.float64) ** 2


def rescale_zero_terminal_snr(betas: Tensor) -> Tensor:
    """β [T] rescaled so that ᾱ_T = 0 exactly while ᾱ_1 is kept (Lin et al. 2023, Algorithm 1):
    √ᾱ is shifted down by its last value and stretched back to its first. The data then has no
    weight in the last step, which only a v- (or x₀-) predicting model can denoise."""
    root = torch.cumprod(1 - betas, dim=0).sqrt()
    first, last = root[0].item(), root[-1].item()
    root = (root - last) * (first / (first - last))
    alpha_bar = root**2
    alphas = torch.cat([alpha_bar[:1], alpha_bar[1:] / alpha_bar[:-1]])
    return 1 - alphas
