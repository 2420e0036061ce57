"""Border circles: the synthetic setting of zero-shot interpolation (Deschenaux et al. 2024).

Each image is a black canvas with one white, antialiased disc whose centre lies only in the
outer ``band`` columns on either side; the label says which side (1 = right). The middle columns
are never seen in training, so a sample whose disc sits there was interpolated, not recalled. The
paper's 64×64 canvas (radius 2, centres x ∈ [2, 12) ∪ [52, 62)) is scaled here to 16×16.

Coordinates are pixel indices: pixel (row i, column j) has its centre at (x, y) = (j, i), so the
canvas spans [−0.5, size − 0.5] both ways. :func:`centroid_x` and :func:`blobs` read generated
images back (where the disc is, and whether there is exactly one of a plausible size).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

from paramgen.errors import ParamgenError

__all__ = [
    "Blobs",
    "CircleImages",
    "CircleLayout",
    "blobs",
    "border_circles",
    "centroid_x",
    "render_discs",
]


@dataclass(frozen=True)
class CircleLayout:
    """Where discs may go. Centres lie on columns/rows ``margin`` … ``size − 1 − margin``, each
    split into ``subdivisions`` sub-pixel positions; only the outer ``band`` columns on either
    side are used (the 16×16 default: columns 2–4 and 11–13 seen, 5–10 unseen)."""

    size: int = 16
    radius: float = 1.75
    margin: int = 2
    band: int = 3
    subdivisions: int = 2

    def __post_init__(self) -> None:
        if not 0 < self.radius <= self.margin + 0.5:
            raise ParamgenError(
                f"radius must be in (0, margin + 0.5] = (0, {self.margin + 0.5}] so that every "
                f"disc fits on the canvas, got {self.radius}"
            )
        if self.band < 1 or self.subdivisions < 1:
            raise ParamgenError(
                f"band and subdivisions must be >= 1, got {self.band} and {self.subdivisions}"
            )
        if 2 * self.band >= self.size - 2 * self.margin:
            raise ParamgenError(
                f"two bands of {self.band} columns leave no unseen middle between columns "
                f"{self.margin} and {self.size - 1 - self.margin}; use a smaller band"
            )

    @property
    def allowed(self) -> tuple[float, float]:
        """[low, high): the x (or y) range the allowed columns cover, pixel edges included."""
        return self.margin - 0.5, self.size - self.margin - 0.5

    @property
    def middle(self) -> tuple[float, float]:
        """[low, high): the x range of the unseen middle columns."""
        low, high = self.allowed
        return low + self.band, high - self.band

    def positions(self, first_column: int, count: int) -> Tensor:
        """[count·subdivisions] sub-pixel positions of ``count`` columns from ``first_column``,
        symmetric about each column's centre (e.g. ±0.25 for two subdivisions)."""
        offsets = (torch.arange(self.subdivisions) + 0.5) / self.subdivisions - 0.5
        columns = torch.arange(first_column, first_column + count, dtype=torch.float32)
        return (columns[:, None] + offsets).flatten()


@dataclass(frozen=True)
class CircleImages:
    """``images`` [N, 1, size, size] in [0, 1]; ``centres`` [N, 2] as (x, y); ``labels`` [N]
    int64, 1 where the disc is right of the canvas centre."""

    images: Tensor
    centres: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return len(self.labels)


def render_discs(centres: Tensor, size: int, radius: float, supersample: int = 8) -> Tensor:
    """[N, 2] centres (x, y) → [N, 1, size, size]: each pixel's covered share of the disc,
    estimated on a ``supersample`` × ``supersample`` grid inside it (antialiasing)."""
    fine = (torch.arange(size * supersample) + 0.5) / supersample - 0.5  # sub-pixel centres
    dx = fine[None, None, :] - centres[:, 0, None, None]  # [N, 1, S·s]
    dy = fine[None, :, None] - centres[:, 1, None, None]  # [N, S·s, 1]
    inside = (dx**2 + dy**2 <= radius**2).float()  # [N, S·s, S·s]
    return F.avg_pool2d(inside[:, None], supersample)


def border_circles(layout: CircleLayout | None = None) -> CircleImages:
    """Every allowed position of ``layout`` once (288 images for the default), left side first."""
    layout = layout or CircleLayout()
    right_first = layout.size - layout.margin - layout.band
    xs = torch.cat(
        [layout.positions(layout.margin, layout.band), layout.positions(right_first, layout.band)]
    )
    ys = layout.positions(layout.margin, layout.size - 2 * layout.margin)
    centres = torch.cartesian_prod(xs, ys)  # [N, 2] as (x, y)
    labels = (centres[:, 0] > (layout.size - 1) / 2).long()
    return CircleImages(render_discs(centres, layout.size, layout.radius), centres, labels)


def centroid_x(images: Tensor, floor: float = 0.2) -> Tensor:
    """[N, 1, H, W] in [0, 1] → [N]: the intensity-weighted mean column of the pixels brighter
    than ``floor`` (NaN where there are none). The floor keeps a generator's faint background
    from pulling every centroid towards the middle of the canvas."""
    weights = torch.where(images > floor, images, torch.zeros_like(images)).sum(dim=(1, 2))
    columns = torch.arange(images.shape[-1], dtype=images.dtype)
    total = weights.sum(dim=1)
    return torch.where(total > 0, (weights * columns).sum(dim=1) / total, torch.nan)


@dataclass(frozen=True)
class Blobs:
    """Per image: ``count`` [N] connected bright regions, ``area`` [N] bright pixels in all."""

    count: Tensor
    area: Tensor


def blobs(images: Tensor, threshold: float = 0.5) -> Blobs:
    """[N, 1, H, W] → the 8-connected regions of pixels above ``threshold`` in each image."""
    bright = (images[:, 0] > threshold).numpy()
    eight = np.ones((3, 3), dtype=bool)
    counts = [ndimage.label(mask, structure=eight)[1] for mask in bright]
    return Blobs(torch.tensor(counts), torch.from_numpy(bright.sum(axis=(1, 2))))
