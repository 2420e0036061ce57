"""Training rows read a minibatch at a time, so a fit never holds more than a chunk of them.

A training set's ``params`` is either a tensor [N, D] or a *row source*: any object with
``len()``, ``shape`` and ``source[index]`` → tensor [n, D] for a slice or a LongTensor of row
indices (zoo groups give one: :func:`zoo.training_set.training_set`). The fit reads random
minibatches by index, and passes over every row (normalisation statistics with the checkpoint's
fingerprint, then the latents of the denoiser stage) in chunks of at most ``CHUNK_BYTES``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch

from paramgen.errors import ParamgenError

__all__ = ["CHUNK_BYTES", "NormalizedRows", "RowSource", "checked_chunks", "row_chunks"]

CHUNK_BYTES = 1 << 28  # 256 MiB of float32 rows per chunk of a pass over the training set


class RowSource(Protocol):
    """Rows [N, D] read on demand: ``source[slice or LongTensor]`` → tensor [n, D]."""

    shape: tuple[int, int]

    def __len__(self) -> int: ...

    def __getitem__(self, index: slice | torch.Tensor) -> torch.Tensor: ...


def row_chunks(params: torch.Tensor | RowSource) -> Iterator[torch.Tensor]:
    """Consecutive blocks of ``params``' rows, each at most ``CHUNK_BYTES`` (at least one row)."""
    step = max(1, CHUNK_BYTES // (4 * max(1, params.shape[1])))
    for start in range(0, len(params), step):
        yield params[start : start + step]


def checked_chunks(params: torch.Tensor | RowSource) -> Iterator[torch.Tensor]:
    """``row_chunks``, refusing a chunk with NaN or Inf: a diverged run must not be learnt."""
    for chunk in row_chunks(params):
        if not torch.isfinite(chunk).all():
            raise ParamgenError("training rows contain NaN or Inf; drop those checkpoints first")
        yield chunk


class NormalizedRows:
    """``params`` seen through ``normalize``: minibatches and chunks of normalised rows."""

    def __init__(self, params: torch.Tensor | RowSource, normalize) -> None:
        self.params, self.normalize = params, normalize

    def __len__(self) -> int:
        return len(self.params)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        return self.normalize(self.params[index])

    def chunks(self) -> Iterator[torch.Tensor]:
        for chunk in row_chunks(self.params):
            yield self.normalize(chunk)
