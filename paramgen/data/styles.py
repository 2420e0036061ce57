"""Continuous, deterministic style transforms of digit images."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["rotate"]


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate [N, C, H, W] images counter-clockwise by ``degrees`` about their centre."""
    radians = math.radians(degrees)
    cos, sin = math.cos(radians), math.sin(radians)
    # affine_grid maps output to input coordinates, so the inverse rotation goes in theta.
    theta = torch.tensor([[cos, sin, 0.0], [-sin, cos, 0.0]], dtype=images.dtype)
    grid = F.affine_grid(theta.expand(len(images), 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
