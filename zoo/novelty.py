"""How new generated weights are: the two memorisation figures of Zeng et al. (2025).

In weight space, each generated row's distance to its nearest training row (0 for a copy). In
behaviour space, how much the set of test examples a generated model gets wrong overlaps the
set of a training checkpoint (intersection over union; 1 for a model that errs exactly like a
training checkpoint). Both work on plain tensors and know nothing about families or tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from paramgen.errors import ParamgenError
from zoo.row_checks import check_count, check_rows, check_same_width

__all__ = ["Nearest", "error_set_iou", "max_iou", "nearest_distance"]

_CHUNK_ELEMENTS = 2**24  # float64 elements per chunk of rows: 128 MiB


@dataclass(frozen=True)
class Nearest:
    """Each row's nearest training row: ``distance`` [M] float64 (L2, in the space compared
    in) and ``index`` [M] int64 (that training row's position in ``train_rows``)."""

    distance: torch.Tensor
    index: torch.Tensor


def _identity(rows: torch.Tensor) -> torch.Tensor:
    return rows


@torch.no_grad()
def nearest_distance(
    rows: torch.Tensor,
    train_rows: torch.Tensor,
    normalize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    chunk_elements: int = _CHUNK_ELEMENTS,
) -> Nearest:
    """The nearest of ``train_rows`` [N, D] to each of ``rows`` [M, D], and its L2 distance.

    ``normalize`` maps rows [n, D] → [n, D'] one row at a time (e.g. a generator's
    ``normalizer.normalize``, so every parameter counts in the units the generator learns in);
    distances are then measured between normalised rows. Rows are compared ``chunk_elements //
    D`` at a time in float64, so only the normalised ``rows`` and two chunks are held at once,
    never an [M, N, D] tensor. The search uses ``torch.cdist``'s |x|² + |y|² − 2x·y form,
    which loses small distances to cancellation; the winner's distance is then recomputed by
    subtraction, so a row equal to a training row reads 0 (exactly, for an element-wise
    ``normalize``).
    """
    check_rows(rows, "rows")
    check_rows(train_rows, "train_rows")
    check_same_width(rows, "rows", train_rows, "train_rows")
    check_count(chunk_elements, "chunk_elements")
    space = normalize or _identity
    step = max(1, chunk_elements // rows.shape[1])
    queries = space(rows)  # [M, D']
    chunks = [slice(part, part + step) for part in range(0, len(rows), step)]
    best = torch.full((len(rows),), torch.inf, dtype=torch.float64, device=rows.device)
    index = torch.zeros(len(rows), dtype=torch.int64, device=rows.device)
    for start in range(0, len(train_rows), step):
        train = space(train_rows[start : start + step]).double()  # [n, D']
        for chunk in chunks:
            value, where = torch.cdist(queries[chunk].double(), train).min(dim=1)  # [m]
            closer = value < best[chunk]  # ties keep the earlier training row
            best[chunk] = torch.where(closer, value, best[chunk])
            index[chunk] = torch.where(closer, where + start, index[chunk])
    distance = torch.empty_like(best)
    for chunk in chunks:
        nearest = space(train_rows[index[chunk]]).double()  # [m, D']
        distance[chunk] = torch.linalg.vector_norm(queries[chunk].double() - nearest, dim=1)
    return Nearest(distance=distance, index=index)


def _check_wrong(wrong: torch.Tensor, name: str) -> None:
    if not isinstance(wrong, torch.Tensor) or wrong.dim() != 2 or wrong.dtype != torch.bool:
        got = (
            f"{wrong.dtype} {tuple(wrong.shape)}"
            if isinstance(wrong, torch.Tensor)
            else type(wrong).__name__
        )
        raise ParamgenError(
            f"{name} must be a bool [models, test examples] tensor (True where a model is "
            f"wrong), got {got}"
        )


def error_set_iou(wrong_a: torch.Tensor, wrong_b: torch.Tensor) -> torch.Tensor:
    """IoU [M, N] float64 of the error sets of ``wrong_a`` [M, E] and ``wrong_b`` [N, E] (bool,
    True where model m gets test example e wrong): |A_m ∩ B_n| / |A_m ∪ B_n|.

    Two models that both get every example right have the same (empty) error set, so their IoU
    is defined as 1. The counts come from a float64 matrix product of 0/1 values: integer sums
    below 2^53 are exact in any order, and the ratio of two exact integers is correctly rounded,
    so the result does not depend on the machine.
    """
    _check_wrong(wrong_a, "wrong_a")
    _check_wrong(wrong_b, "wrong_b")
    if wrong_a.shape[1] != wrong_b.shape[1]:
        raise ParamgenError(
            f"wrong_a covers {wrong_a.shape[1]} test examples but wrong_b covers "
            f"{wrong_b.shape[1]}; score both on the same test set"
        )
    a, b = wrong_a.double(), wrong_b.double()
    both = a @ b.T  # [M, N] |A ∩ B|
    either = a.sum(dim=1, keepdim=True) + b.sum(dim=1) - both  # [M, N] |A ∪ B|
    return torch.where(either > 0, both / either.clamp(min=1), 1.0)


def max_iou(wrong_generated: torch.Tensor, wrong_train: torch.Tensor) -> torch.Tensor:
    """Each generated model's highest error-set IoU [M] against any training checkpoint.

    ``wrong_generated`` [M, E] and ``wrong_train`` [N ≥ 1, E] are bool (True where wrong). Near
    1: the model errs like some training checkpoint (a memorised copy); training checkpoints
    of independent runs score well below 1 against each other.
    """
    _check_wrong(wrong_train, "wrong_train")
    if len(wrong_train) == 0:
        raise ParamgenError("wrong_train has no training checkpoints; pass at least one row")
    return error_set_iou(wrong_generated, wrong_train).max(dim=1).values
