"""Sinusoidal features of a scalar (time, noise level, condition value), shared by the nets."""

from __future__ import annotations

import math

import torch

__all__ = ["sinusoidal_features"]


def sinusoidal_features(t: torch.Tensor, dim: int, scale: float = 1000.0) -> torch.Tensor:
    """[N] scalars in ~[0, 1] → [N, dim] sin/cos features, geometric frequencies up to ``scale``."""
    half = dim // 2
    frequencies = torch.exp(
        torch.arange(half, device=t.device) * (-math.log(scale) / max(half - 1, 1))
    )
    angles = scale * t.float()[:, None] * frequencies[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)
