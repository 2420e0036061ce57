"""Per-tensor z-scoring of flat parameter rows, so layers of very different scale train together.

Each tensor of the schema gets one standard deviation over the training rows (p-diff z-scores
each tensor). The centre is either one mean per tensor (``"tensor"``, p-diff) or the mean row
itself (``"element"``). Element centring is for zoos whose rows share most of their values, e.g.
fine-tunes of one base network (DPI checkpoints): z-scoring around a per-tensor mean leaves the
shared base in every row, so the autoencoder spends its capacity on re-drawing the base and the
small differences between rows — what a generator must get right — drown in its error. Around
the mean row only those differences remain, scaled to unit spread. The statistics are buffers, so
they are saved with the generator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import nn

from paramgen.errors import ParamgenError
from paramgen.schema import ParamSchema

__all__ = ["CENTRES", "Centre", "TensorwiseNormalizer"]

Centre = Literal["tensor", "element"]
CENTRES: tuple[Centre, ...] = ("tensor", "element")


class TensorwiseNormalizer(nn.Module):
    """normalize: [N, D] raw rows → z-scored rows; denormalize: the inverse."""

    def __init__(self, schema: ParamSchema, centre: Centre = "tensor") -> None:
        super().__init__()
        if centre not in CENTRES:
            raise ParamgenError(f"centre must be one of {list(CENTRES)}, got {centre!r}")
        self.centre = centre
        sizes = torch.tensor([spec.numel for spec in schema.specs])
        self.register_buffer("sizes", sizes)
        self.register_buffer("mean", torch.zeros(len(sizes) if centre == "tensor" else schema.dim))
        self.register_buffer("std", torch.ones(len(sizes)))

    @torch.no_grad()
    def fit(
        self,
        rows: torch.Tensor | Iterable[torch.Tensor],
        across: Callable[[torch.Tensor], torch.Tensor] = lambda sums: sums,
    ) -> TensorwiseNormalizer:
        """Statistics of ``rows`` [N, D], or of chunks of them read one at a time: the centre,
        then one spread per tensor around it (sums in float64, so one pass over the rows).
        ``across`` totals the sums over the processes of a distributed fit (each has its share
        of the rows)."""
        chunks = [rows] if isinstance(rows, torch.Tensor) else rows
        count = torch.zeros((), dtype=torch.float64)
        total = squares = torch.zeros(int(self.sizes.sum()), dtype=torch.float64)
        for chunk in chunks:
            chunk = chunk.double()
            count = count + len(chunk)
            total = total + chunk.sum(dim=0)
            squares = squares + chunk.square().sum(dim=0)
        count, total, squares = across(count), across(total), across(squares)
        if count == 0:
            raise ParamgenError("cannot fit normalisation statistics on zero rows")
        sizes = self.sizes.tolist()
        if self.centre == "tensor":
            per_tensor = torch.stack([piece.sum() for piece in total.split(sizes)])
            mean = per_tensor / (count * self.sizes)
            # Σ(x − μ_t)² over a tensor's elements and rows, from the sums of x and x².
            deviation = torch.stack([piece.sum() for piece in squares.split(sizes)])
            deviation = deviation - count * self.sizes * mean.square()
        else:  # the spread is then around the mean row, not around each tensor's mean
            mean = total / count
            per_element = squares - count * mean.square()
            deviation = torch.stack([piece.sum() for piece in per_element.split(sizes)])
        self.mean.copy_(mean)
        values = count * self.sizes
        spread = (deviation.clamp_min(0) / (values - 1).clamp_min(1)).sqrt()
        # A tensor that never varies (e.g. all-zero, or a single value) keeps std 1, not ÷ 0.
        spread = torch.where((spread > 1e-8) & (values > 1), spread, torch.ones_like(spread))
        self.std.copy_(spread)
        return self

    def _per_element(self, stat: torch.Tensor) -> torch.Tensor:
        # One value per tensor, or already one per element (element centring's mean row).
        return stat.repeat_interleave(self.sizes) if len(stat) == len(self.sizes) else stat

    def normalize(self, rows: torch.Tensor) -> torch.Tensor:
        return (rows - self._per_element(self.mean)) / self._per_element(self.std)

    def denormalize(self, rows: torch.Tensor) -> torch.Tensor:
        return rows * self._per_element(self.std) + self._per_element(self.mean)
