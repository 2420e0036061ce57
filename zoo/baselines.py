"""Weight rows made without a generator: the baselines a generated row must beat.

Zeng et al. (2025, "Generative Modeling of Weights: Generalization or Memorization?") find that
weight generators mostly replay or interpolate their training checkpoints, and do not beat
simple baselines at being both new and good. These are such baselines, on flat rows [N, D] of
any family: training rows plus noise, averages of a few training rows (a weight ensemble) and a
diagonal Gaussian fitted to the rows. Each takes the training rows, a count and a
``torch.Generator`` (on the rows' device) and returns ``[count, D]`` rows of the same dtype.
"""

from __future__ import annotations

import math

import torch

from paramgen.errors import ParamgenError
from zoo.row_checks import check_count, check_rows

__all__ = [
    "NOISE_SCALES",
    "SPREAD_FLOOR",
    "average_of_random",
    "gaussian_fitted",
    "noise_added",
    "training_spread",
]

NOISE_SCALES: tuple[float, ...] = (0.1, 1.0)
"""The noise scales to report: 0.1 keeps a near-copy (it should keep its source's accuracy);
1.0 moves every element by the zoo's own spread, so a row lands about 1/√2 of the typical
distance between two training rows from its source (for rows that vary independently): the
novelty a generator claiming new weights should be compared at."""

SPREAD_FLOOR = 1e-3
"""Smallest per-element spread, relative to the RMS of all training values (see
``training_spread``)."""


def training_spread(train_rows: torch.Tensor) -> torch.Tensor:
    """Per-element spread [D] of ``train_rows`` [N ≥ 2, D]: the standard deviation over the rows
    (Bessel-corrected), floored at ``SPREAD_FLOOR`` × the RMS of all training values.

    The floor only matters for elements that never vary across the zoo (frozen or pruned
    weights): they get a small spread instead of none, so noise moves every element.
    """
    check_rows(train_rows, "train_rows", min_rows=2)
    floor = SPREAD_FLOOR * train_rows.square().mean().sqrt()
    return train_rows.std(dim=0).clamp(min=floor)


def noise_added(
    train_rows: torch.Tensor,
    count: int,
    scale: float,
    generator: torch.Generator,
    spread: torch.Tensor | None = None,
) -> torch.Tensor:
    """``count`` training rows drawn uniformly with replacement, plus Gaussian noise [count, D].

    Row i is ``train_rows[j_i] + scale · spread ⊙ z_i`` with ``z_i ~ N(0, I_D)``. ``scale`` is
    unit-free: ``spread`` [D] defaults to ``training_spread(train_rows)`` (needs N ≥ 2), so
    scale 1 adds, element by element, noise as large as the zoo's own variation. A caller may
    pass its own ``spread`` instead, e.g. the generator normaliser's per-element std.
    The picks and ``z`` are drawn the same way at every scale: one generator state gives rows on
    one ray from their training row per scale, and scale 0 returns the training rows exactly.
    """
    check_rows(train_rows, "train_rows", min_rows=1 if spread is not None else 2)
    check_count(count)
    if not math.isfinite(scale) or scale < 0:
        raise ParamgenError(f"scale must be a finite number ≥ 0, got {scale!r}")
    width = train_rows.shape[1]
    if spread is None:
        spread = training_spread(train_rows)
    elif spread.shape != (width,) or not torch.isfinite(spread).all() or (spread < 0).any():
        raise ParamgenError(
            f"spread must be a finite, non-negative [D] = [{width}] tensor, "
            f"got shape {tuple(spread.shape)}; pass one value per parameter"
        )
    picks = torch.randint(len(train_rows), (count,), generator=generator, device=train_rows.device)
    noise = torch.randn(
        count, width, generator=generator, device=train_rows.device, dtype=train_rows.dtype
    )
    return train_rows[picks] + (scale * spread.to(train_rows)) * noise


def average_of_random(
    train_rows: torch.Tensor, count: int, generator: torch.Generator, k: int = 16
) -> torch.Tensor:
    """``count`` rows [count, D], each the mean of k distinct training rows chosen at random.

    k is capped at N: with k ≥ N every output is the mean row. With k = 1 the outputs are
    training rows exactly (drawn with replacement across outputs).
    """
    check_rows(train_rows, "train_rows")
    check_count(count)
    check_count(k, "k")
    k = min(k, len(train_rows))
    # A random permutation per output; its first k entries are k distinct rows.
    order = torch.rand(count, len(train_rows), generator=generator, device=train_rows.device)
    picks = order.argsort(dim=1)[:, :k]  # [count, k]
    # The means as one matrix product: weights [count, N] hold 1/k at each output's picks.
    weights = torch.zeros(count, len(train_rows), dtype=train_rows.dtype, device=train_rows.device)
    return weights.scatter_(1, picks, 1.0 / k) @ train_rows


def gaussian_fitted(
    train_rows: torch.Tensor, count: int, generator: torch.Generator
) -> torch.Tensor:
    """``count`` samples [count, D] of N(μ, diag σ²), μ and σ the per-element mean and
    (Bessel-corrected) std of ``train_rows`` [N ≥ 2, D].

    It keeps each weight's marginal and drops every correlation between weights: an element
    constant across the zoo stays constant.
    """
    check_rows(train_rows, "train_rows", min_rows=2)
    check_count(count)
    noise = torch.randn(
        count,
        train_rows.shape[1],
        generator=generator,
        device=train_rows.device,
        dtype=train_rows.dtype,
    )
    return train_rows.mean(dim=0) + train_rows.std(dim=0) * noise
