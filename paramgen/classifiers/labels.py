"""Class labels from a scalar condition cut at boundaries: "rotation < 0" vs "rotation ≥ 0"."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from paramgen.errors import ParamgenError

__all__ = ["ConditionClasses", "condition_classes"]


@dataclass(frozen=True)
class ConditionClasses:
    """Integer ``labels`` [N] and the ``names`` of the classes they index."""

    labels: torch.Tensor
    names: tuple[str, ...]


def condition_classes(
    values: torch.Tensor, name: str, boundaries: Sequence[float]
) -> ConditionClasses:
    """Class i holds the rows whose ``values`` [N] lie in [b_{i−1}, b_i) of the increasing
    ``boundaries`` (len(boundaries) + 1 classes); ``name`` (the condition's) names them."""
    values = torch.as_tensor(values)
    if values.ndim != 1:
        raise ParamgenError(
            f"condition {name!r} is not a scalar (shape {list(values.shape[1:])} per row); "
            "classes are cut from a scalar condition"
        )
    cuts = [float(b) for b in boundaries]
    if not cuts or any(a >= b for a, b in zip(cuts, cuts[1:], strict=False)):
        raise ParamgenError(f"boundaries must be one or more increasing numbers, got {cuts}")
    labels = torch.bucketize(values.double(), torch.tensor(cuts, dtype=torch.float64), right=True)
    edges = [f"{c:g}" for c in cuts]
    names = (
        [f"{name}<{edges[0]}"]
        + [f"{low}<={name}<{high}" for low, high in zip(edges, edges[1:], strict=False)]
        + [f"{name}>={edges[-1]}"]
    )
    empty = [names[i] for i in range(len(names)) if not (labels == i).any()]
    if empty:
        raise ParamgenError(
            f"no rows fall in the classes {empty}; choose boundaries inside the range of {name!r} "
            f"({values.min().item():g} … {values.max().item():g})"
        )
    return ConditionClasses(labels, tuple(names))
