"""Checks on the condition values a generator is asked for: finite, and inside the training range.

Outside the range the generator extrapolates: that may be what the user wants (a held-out angle
beyond the zoo's), so it is a ``ConditionRangeWarning``, or a ``ParamgenError`` when sampling with
``strict=True``. NaN or Inf would poison every sample: always an error.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from paramgen.errors import ParamgenError

__all__ = [
    "RANGE_TOLERANCE",
    "ConditionRangeWarning",
    "OutOfRange",
    "check_finite",
    "report_outside_range",
]

RANGE_TOLERANCE = 1e-6  # relative to the training range: float rounding is not extrapolation


@dataclass(frozen=True)
class OutOfRange:
    """A condition element asked for outside its training range [low, high].

    ``value`` is the asked-for value farthest from the range; ``count`` how many were outside.
    """

    name: str  # "rotation", or "rgb[2]" for an element of a vector condition
    value: float
    low: float
    high: float
    count: int = 1

    def __str__(self) -> str:
        others = self.count - 1
        more = f" (and {others} more value{'s' * (others > 1)})" if others else ""
        return (
            f"condition {self.name}={self.value:g}{more} is outside the training range "
            f"[{self.low:g}, {self.high:g}]"
        )


class ConditionRangeWarning(UserWarning):
    """The generator was asked for a condition outside its training range: it extrapolates."""

    def __init__(self, outside: OutOfRange) -> None:
        super().__init__(f"{outside}; the generator extrapolates (pass strict=True to refuse)")
        self.outside = outside


def check_finite(conditions: Mapping[str, torch.Tensor]) -> None:
    """Raise naming the first condition holding NaN or Inf, or a number beyond float32's ±3.4e38
    that becomes Inf (they would poison every sample)."""
    for name, value in conditions.items():
        if not torch.isfinite(torch.as_tensor(value, dtype=torch.float32)).all():
            raise ParamgenError(
                f"condition {name!r} contains NaN or Inf (or a number beyond float32's ±3.4e38); "
                "pass finite values"
            )


def report_outside_range(found: list[OutOfRange], strict: bool) -> None:
    """Warn (``ConditionRangeWarning``) about each of ``found``, or with ``strict`` refuse them."""
    if strict and found:
        raise ParamgenError(
            "; ".join(map(str, found))
            + "; pass values inside the training range (strict sampling does not extrapolate)"
        )
    for outside in found:
        warnings.warn(ConditionRangeWarning(outside), stacklevel=_caller_level())


# paramgen's and torch's folders: a warning points at the first frame outside them.
_INTERNAL = tuple(os.path.dirname(f) + os.sep for f in (__file__, torch.__file__))


def _caller_level() -> int:
    """The ``stacklevel`` of the first caller outside paramgen and torch (sample_rows → …)."""
    level, frame = 2, sys._getframe(2)  # 2: the caller of report_outside_range
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL):
        level, frame = level + 1, frame.f_back
    return level
