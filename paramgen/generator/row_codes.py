"""Row codes: a few numbers per row that tie the tokens of a tokenized row together.

A tokenized generator samples every token of a row side by side, each told a prototype of the
condition and its own position. When no condition tells the rows apart (checkpoints of one model,
p-diff), each token then comes from another training row in effect, and the row is the mean row
plus noise: ``bench/token_dependence.py`` measured a within-row spread of the tokens' coefficients
of 0.53 where the training rows have none. The fix is two-level generation: each training row gets
a code, its first principal components over all of its token latents; a small denoiser learns the
codes' distribution; the prototypes are told the row's code (the true one in training); sampling
draws a code first, then every token of the row given it.
"""

from __future__ import annotations

import torch

__all__ = ["BASIS_ROWS", "principal_codes"]

BASIS_ROWS = 1024
"""Rows the principal directions are taken from (a seeded draw when there are more): the cost of
finding them stays bounded at any N; every row is then projected onto them."""


def principal_codes(latents: torch.Tensor, dim: int, generator: torch.Generator) -> torch.Tensor:
    """[N, dim] principal-component scores of ``latents`` [N, ...] (flattened per row), each
    scaled to unit spread over the rows. Components the rows do not span (fewer than ``dim + 1``
    distinct rows), or with under 1e-5 of the first one's variance, are zero."""
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
    spanned = values > values[0].clamp_min(1e-30) * 1e-5
    directions = centred.T.double() @ (vectors[:, spanned] / values[spanned].sqrt())
    scores = (flat - mean).double() @ directions  # [N, spanned]
    codes = torch.zeros(len(flat), dim, dtype=torch.float64)
    codes[:, : spanned.sum()] = scores / scores.std(dim=0).clamp_min(1e-12)
    return codes.float()
