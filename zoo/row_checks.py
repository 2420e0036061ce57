"""Input checks shared by the importers, the baseline makers and the novelty figures.

Each raises ``ParamgenError`` naming the argument, what was expected and what came, so a caller
who passes the wrong tensor learns which one and how to fix it.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from paramgen.errors import ParamgenError
from paramgen.schema import ParamSchema

__all__ = ["check_count", "check_rows", "check_same_width", "checked_row"]


def checked_row(
    tensors: Mapping[str, torch.Tensor], schema: ParamSchema, what: str
) -> torch.Tensor:
    """``tensors`` as a flat [D] row of ``schema`` once their names and shapes match it and every
    value is finite; ``what`` (an adapter folder, a checkpoint file) starts each message."""
    schema.check_keys(list(tensors), what)
    try:
        row = schema.flatten(tensors)
    except ParamgenError as error:
        raise ParamgenError(f"{what}: {error}") from None
    broken = sorted(name for name, tensor in tensors.items() if not tensor.isfinite().all())
    if broken:
        raise ParamgenError(
            f"{what} has NaN or Inf in {broken[:5]}; a diverged run should not enter the zoo "
            "— leave it out"
        )
    return row


def check_rows(rows: torch.Tensor, name: str, min_rows: int = 1) -> None:
    """``rows`` must be a finite floating-point [N, D] tensor with N ≥ ``min_rows`` and D ≥ 1."""
    if not isinstance(rows, torch.Tensor) or rows.dim() != 2 or not rows.is_floating_point():
        got = tuple(rows.shape) if isinstance(rows, torch.Tensor) else type(rows).__name__
        raise ParamgenError(f"{name} must be a floating-point [N, D] tensor of rows, got {got}")
    if len(rows) < min_rows or rows.shape[1] < 1:
        raise ParamgenError(
            f"{name} needs at least {min_rows} row(s) of at least one parameter, "
            f"got shape {tuple(rows.shape)}; pass more rows"
        )
    if not torch.isfinite(rows).all():
        bad = (~torch.isfinite(rows)).any(dim=1).nonzero().flatten()[:5].tolist()
        raise ParamgenError(f"{name} has non-finite values (rows {bad}…); drop or fix those rows")


def check_same_width(rows: torch.Tensor, name: str, reference: torch.Tensor, ref_name: str) -> None:
    """``rows`` [M, D] and ``reference`` [N, D] must share D (the same parameter layout)."""
    if rows.shape[1] != reference.shape[1]:
        raise ParamgenError(
            f"{name} has {rows.shape[1]} columns but {ref_name} has {reference.shape[1]}; "
            "both must be rows of the same parameter layout"
        )


def check_count(count: int, name: str = "count") -> None:
    """``count`` must be an integer ≥ 1."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ParamgenError(f"{name} must be an integer ≥ 1, got {count!r}")
