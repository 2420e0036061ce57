"""Conditions or metrics for a batch of rows → one ``[n, *shape]`` column per name, checked.

Importers take either one mapping for every row (``{"angle": 30}``) or one mapping per row (what a
manifest gives). Both become explicit columns here, before anything is written, so a bad value in
row 37 of 48 names that row and leaves the zoo untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from paramgen.errors import ParamgenError
from zoo.group import ArrayLike

__all__ = ["RowValues", "value_columns"]

RowValues = Mapping[str, ArrayLike] | Sequence[Mapping[str, ArrayLike]]


def _finite_in_float32(values: np.ndarray) -> bool:
    """Whether ``values`` stay finite stored as float32 (beyond ±3.4e38 they become Inf)."""
    with np.errstate(over="ignore"):
        return bool(np.isfinite(values.astype(np.float32)).all())


def _numbers(value: ArrayLike, what: str) -> np.ndarray:
    try:
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().numpy().astype(np.float64)
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ParamgenError(
            f"{what} must be a number or a list of numbers, got {value!r}"
        ) from error


def value_columns(
    values: RowValues | None, labels: Sequence[str], what: str, *, required: bool
) -> dict[str, np.ndarray]:
    """Columns ``name -> float32 [len(labels), *shape]`` from shared or per-row ``values``.

    ``labels`` name the rows in messages (e.g. their folders). ``required`` (conditions): every
    row must give every name, with finite numbers. Otherwise (metrics) a name a row leaves out is
    NaN there — "not measured" in the zoo.
    """
    rows = len(labels)
    per_row = [values or {}] * rows if values is None or isinstance(values, Mapping) else values
    if len(per_row) != rows:
        raise ParamgenError(
            f"{len(per_row)} sets of {what}s for {rows} rows; give one per row or one for all"
        )
    names = sorted(set().union(*per_row))
    columns: dict[str, np.ndarray] = {}
    for name in names:
        cells: list[np.ndarray | None] = []
        for label, row in zip(labels, per_row, strict=True):
            if name in row:
                cells.append(_numbers(row[name], f"{what} {name!r} of {label}"))
            elif required:
                raise ParamgenError(
                    f"{label} has no {what} {name!r}; every row needs the same {what}s {names}"
                )
            else:
                cells.append(None)
        shape = next(cell.shape for cell in cells if cell is not None)
        for label, cell in zip(labels, cells, strict=True):
            if cell is not None and cell.shape != shape:
                raise ParamgenError(
                    f"{what} {name!r} of {label} has shape {cell.shape}, other rows {shape}"
                )
            if required and not _finite_in_float32(cell):
                raise ParamgenError(
                    f"{what} {name!r} of {label} is not a finite float32 number "
                    f"({cell.tolist()}); give finite values within ±3.4e38"
                )
        filled = [np.full(shape, np.nan) if cell is None else cell for cell in cells]
        with np.errstate(over="ignore"):  # a metric beyond float32 is refused at append, by name
            columns[name] = np.stack(filled).astype(np.float32)
    return columns
