"""Row codes: a few numbers per row that tie the tokens of a tokenized row together.

A tokenized generator samples every token of a row side by side, each told a prototype of the
condition and its own position. When no condition tells the rows apart (checkpoints of one model,
p-diff), each token then comes from another training row in effect, and the row is the mean row
plus noise: ``bench/token_dependence.py`` measured a within-row spread of the tokens' coefficients
of 0.53 where the training rows have none. The fix is two-level generation: each training row gets
a code, its first principal components over all of its token latents; a small denoiser learns the
codes' distribution; the prototypes are told the row's code (the true one in training); sampling
draws a code first, then every token of the row given it. The code is what sets a row apart from
the others, so classifier guidance of such a generator steers the code.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["BASIS_ROWS", "CodeBasis", "principal_basis"]

BASIS_ROWS = 1024
"""Rows the principal directions are taken from (a seeded draw when there are more): the cost of
finding them stays bounded at any N; every row is then projected onto them."""


class CodeBasis(NamedTuple):
    """Row code = ((latents flattened) − ``mean``) @ ``directions`` / ``scale``."""

    mean: torch.Tensor  # [F]
    directions: torch.Tensor  # [F, dim], orthonormal columns (zero where not spanned)
    scale: torch.Tensor  # [dim]: the codes' spread over the rows it was fitted on (1 if none)

    def codes(self, latents: torch.Tensor) -> torch.Tensor:
        """[N, dim] codes of ``latents`` [N, ...]."""
        return (latents.flatten(1) - self.mean) @ self.directions / self.scale


def principal_basis(latents: torch.Tensor, dim: int, generator: torch.Generator) -> CodeBasis:
    """The ``dim`` principal directions of ``latents`` [N, ...] (flattened per row), scaled so
    that the rows' codes have unit spread. Directions the rows do not span (fewer than ``dim + 1``
    distinct rows), or with under 1e-5 of the first one's variance, are zero: so are their codes."""
    flat = latents.flatten(1)
    basis = flat
    if len(flat) > BASIS_ROWS:
        basis = flat[torch.randperm(len(flat), generator=generator)[:BASIS_ROWS]]
    mean = basis.mean(dim=0)
    centred = basis - mean
    # The rows' Gram matrix is small ([rows, rows]) where the rows are long: its eigenvectors give
    # the principal directions without a [features, features] matrix.
    values, vectors = torch.linalg.eigh((centred @ centred.T).double())
    values, vectors = values.flip(0)[:dim], vectors.flip(1)[:, :dim]
    # float32 products leave the unspanned directions ~1e-7 of the top one, not 0.
    kept = int((values > values[0].clamp_min(1e-30) * 1e-5).sum())  # a prefix: descending
    directions = torch.zeros(flat.shape[1], dim, dtype=torch.float64)
    directions[:, :kept] = centred.T.double() @ (vectors[:, :kept] / values[:kept].sqrt())
    scale = torch.ones(dim, dtype=torch.float64)
    scale[:kept] = ((flat - mean).double() @ directions[:, :kept]).std(dim=0)
    return CodeBasis(mean, directions.float(), scale.float().clamp_min(1e-12))
