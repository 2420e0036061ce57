"""Continuous, deterministic style transforms of digit images, with named parameters.

A :class:`Style` is a point in a small continuous style space; every parameter's neutral value
leaves the images unchanged, so styles can be used alone or combined:

- ``rotation``: degrees, counter-clockwise as displayed (row 0 at the top), about the centre.
- ``stroke``: −1 (thinnest) … 0 … +1 (thickest): a blend towards a 3×3 grey erosion / dilation.
- ``contrast``: 1 unchanged, 0 flat grey, −1 inverted (``0.5 + c·(x − 0.5)``).
- ``shear``: horizontal shear factor (x += shear·y).

Geometry (rotation, shear) is applied in one resampling, then stroke, then contrast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F

from paramgen.errors import ParamgenError

__all__ = ["Style", "STYLE_PARAMETERS", "apply_style"]


@dataclass(frozen=True)
class Style:
    """A point in style space; the defaults are the identity."""

    rotation: float = 0.0
    stroke: float = 0.0
    contrast: float = 1.0
    shear: float = 0.0

    def __post_init__(self) -> None:
        if not -1.0 <= self.stroke <= 1.0:
            raise ParamgenError(f"stroke must be in [-1, 1], got {self.stroke}")
        if not -1.0 <= self.contrast <= 1.0:
            raise ParamgenError(f"contrast must be in [-1, 1], got {self.contrast}")

    @classmethod
    def of(cls, **values: float) -> Style:
        """A style from named values, refusing names that are not style parameters."""
        unknown = sorted(set(values) - set(STYLE_PARAMETERS))
        if unknown:
            raise ParamgenError(
                f"unknown style parameters {unknown}; known: {list(STYLE_PARAMETERS)}"
            )
        return cls(**{name: float(value) for name, value in values.items()})

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


STYLE_PARAMETERS: tuple[str, ...] = tuple(f.name for f in fields(Style))


def _resample(images: torch.Tensor, rotation: float, shear: float) -> torch.Tensor:
    radians = -math.radians(rotation)  # image rows grow downwards: flip to turn anticlockwise
    cos, sin = math.cos(radians), math.sin(radians)
    # affine_grid maps output to input coordinates: the inverse of rotate-then-shear.
    forward = torch.tensor([[1.0, shear], [0.0, 1.0]]) @ torch.tensor([[cos, -sin], [sin, cos]])
    inverse = torch.linalg.inv(forward).to(images.dtype)
    theta = torch.cat([inverse, torch.zeros(2, 1, dtype=images.dtype)], dim=1)
    grid = F.affine_grid(theta.expand(len(images), 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _stroke(images: torch.Tensor, amount: float) -> torch.Tensor:
    if amount > 0:
        target = F.max_pool2d(images, 3, stride=1, padding=1)
    else:
        target = -F.max_pool2d(-images, 3, stride=1, padding=1)
    return images + abs(amount) * (target - images)


def apply_style(images: torch.Tensor, style: Style) -> torch.Tensor:
    """``images`` [N, C, H, W] in [0, 1] rendered in ``style`` (same shape, still in [0, 1])."""
    out = images
    if style.rotation or style.shear:
        out = _resample(out, style.rotation, style.shear)
    if style.stroke:
        out = _stroke(out, style.stroke)
    if style.contrast != 1.0:
        out = 0.5 + style.contrast * (out - 0.5)
    return out.clamp(0.0, 1.0)
