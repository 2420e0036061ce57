"""Per-tensor z-scoring of flat parameter rows, so layers of very different scale train together.

Each tensor of the schema gets one mean and one standard deviation over the training rows (p-diff
z-scores each tensor); the statistics are buffers, so they are saved with the generator.
"""

from __future__ import annotations

import torch
from torch import nn

from paramgen.schema import ParamSchema

__all__ = ["TensorwiseNormalizer"]


class TensorwiseNormalizer(nn.Module):
    """normalize: [N, D] raw rows → z-scored rows; denormalize: the inverse."""

    def __init__(self, schema: ParamSchema) -> None:
        super().__init__()
        sizes = torch.tensor([spec.numel for spec in schema.specs])
        self.register_buffer("sizes", sizes)
        self.register_buffer("mean", torch.zeros(len(sizes)))
        self.register_buffer("std", torch.ones(len(sizes)))

    @torch.no_grad()
    def fit(self, rows: torch.Tensor) -> TensorwiseNormalizer:
        """Statistics of ``rows`` [N, D], one pair per tensor."""
        pieces = rows.split(self.sizes.tolist(), dim=1)
        self.mean.copy_(torch.stack([piece.mean() for piece in pieces]))
        # A tensor that never varies (e.g. all-zero) keeps std 1 rather than dividing by 0.
        spread = torch.stack(
            [piece.std() if piece.numel() > 1 else piece.new_tensor(1.0) for piece in pieces]
        )
        self.std.copy_(torch.where(spread > 1e-8, spread, torch.ones_like(spread)))
        return self

    def _per_element(self, stat: torch.Tensor) -> torch.Tensor:
        return stat.repeat_interleave(self.sizes)

    def normalize(self, rows: torch.Tensor) -> torch.Tensor:
        return (rows - self._per_element(self.mean)) / self._per_element(self.std)

    def denormalize(self, rows: torch.Tensor) -> torch.Tensor:
        return rows * self._per_element(self.std) + self._per_element(self.mean)
