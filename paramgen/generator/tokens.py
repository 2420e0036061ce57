"""Cut flat parameter rows into fixed-size tokens that never mix tensors (RPG, METHODS.md §1.4).

Each tensor of the schema is split into ``ceil(numel / size)`` tokens in row order; the last
token of a tensor is zero-padded and ``mask`` marks its real numbers, so a loss can leave the
padding out. A token's position is (tensor index, index within the tensor), which the token
models embed. Tokens are gathered on demand from the rows a training step reads, so nothing of
size [N, tokens, size] is ever built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from paramgen.embeddings import sinusoidal_features
from paramgen.errors import ParamgenError
from paramgen.schema import ParamSchema

__all__ = ["TokenBatch", "TokenLayout"]


@dataclass
class TokenBatch:
    """Tokens ``values`` [n, k, size] of n rows, their ids [n, k] and ``mask`` [n, k, size]."""

    values: torch.Tensor
    ids: torch.Tensor
    mask: torch.Tensor


class TokenLayout:
    """Where each token of a row lies: ``start`` [T], ``length`` [T], ``tensor`` [T], ``index``
    [T] (position within its tensor), for T = ``count`` tokens of ``size`` numbers."""

    def __init__(self, schema: ParamSchema, size: int) -> None:
        if size < 1:
            raise ParamgenError(f"token_size must be >= 1, got {size}")
        self.size, self.dim = size, schema.dim
        starts, lengths, tensors, indices = [], [], [], []
        for number, (spec, offset) in enumerate(zip(schema.specs, schema.offsets, strict=True)):
            for index in range(math.ceil(spec.numel / size)):
                starts.append(offset + index * size)
                lengths.append(min(size, spec.numel - index * size))
                tensors.append(number)
                indices.append(index)
        self.start = torch.tensor(starts)
        self.length = torch.tensor(lengths)
        self.tensor = torch.tensor(tensors)
        self.index = torch.tensor(indices)
        self.tensors = len(schema.specs)

    @property
    def count(self) -> int:
        """Tokens per row."""
        return len(self.start)

    def positions(self, ids: torch.Tensor, dim: int) -> torch.Tensor:
        """[*ids.shape, dim] sinusoidal features of (tensor, index within tensor), half each."""
        tensor = sinusoidal_features(self.tensor[ids].flatten() / 64.0, dim // 2, 100.0)
        index = sinusoidal_features(self.index[ids].flatten() / 1024.0, dim - dim // 2, 1000.0)
        return torch.cat([tensor, index], dim=1).view(*ids.shape, dim)

    def _columns(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        offsets = torch.arange(self.size)
        mask = offsets < self.length[ids][..., None]  # [*ids.shape, size]
        columns = torch.where(mask, self.start[ids][..., None] + offsets, self.dim)
        return columns, mask

    def cut(self, rows: torch.Tensor, ids: torch.Tensor) -> TokenBatch:
        """Tokens ``ids`` [n, k] of ``rows`` [n, D] (row i gives ids[i]); padding is zero."""
        columns, mask = self._columns(ids)  # [n, k, size]
        padded = torch.cat([rows, rows.new_zeros(len(rows), 1)], dim=1)  # column D: the padding
        values = padded.gather(1, columns.flatten(1)).view(columns.shape)
        return TokenBatch(values, ids, mask)

    def assemble(self, tokens: torch.Tensor) -> torch.Tensor:
        """Rows [n, D] from all their tokens [n, count, size] (padding dropped)."""
        if tokens.shape[1:] != (self.count, self.size):
            raise ParamgenError(
                f"expected tokens of shape [n, {self.count}, {self.size}], got {list(tokens.shape)}"
            )
        _, mask = self._columns(torch.arange(self.count))
        return tokens[:, mask]  # row order: tokens run through the row in order
