"""Command-line text <-> values: number lists and ranges, name lists, NAME=VALUE assignments.

Every parser raises a ParamgenError naming the option and what it expected, so a typo is one
line on stderr (see ``cli.errors``), never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from paramgen.errors import ParamgenError

__all__ = [
    "format_values",
    "parse_assignments",
    "parse_ints",
    "parse_names",
    "parse_spec",
    "parse_values",
]


MAX_VALUES = 100_000  # a START:STOP:STEP range longer than this is a typo, not a request


def parse_values(text: str, name: str = "values") -> tuple[float, ...]:
    """``"-90:90:5"`` (inclusive range) or ``"-60,-30,30"`` → a tuple of finite floats;
    ``name`` in errors."""
    try:
        numbers = [float(part) for part in text.split(":" if ":" in text else ",")]
        if not all(math.isfinite(n) for n in numbers):
            raise ValueError
        if ":" in text:
            start, stop, step = numbers
            if step <= 0 or stop < start:
                raise ValueError
            count = int(round((stop - start) / step)) + 1
            if count > MAX_VALUES:
                raise ParamgenError(
                    f"{name} {text!r} names {count:,} values; at most {MAX_VALUES:,} (use a "
                    "larger STEP)"
                )
            return tuple(round(start + i * step, 10) for i in range(count))
        return tuple(numbers)
    except ParamgenError:
        raise
    except ValueError:
        raise ParamgenError(
            f"{name} {text!r} must be START:STOP:STEP (STOP >= START, STEP > 0) or a "
            "comma-separated list of finite numbers"
        ) from None


def parse_ints(text: str, name: str) -> tuple[int, ...]:
    """``"3,4,5,6,8"`` or ``"3:6:1"`` (``""``: none) → a tuple of integers; ``name`` in errors."""
    values = parse_values(text, name) if text.strip() else ()
    if any(not v.is_integer() for v in values):
        raise ParamgenError(f"{name} must be whole numbers, got {text!r}")
    return tuple(int(v) for v in values)


def parse_names(text: str) -> tuple[str, ...]:
    """``"fc1, fc2"`` → ``("fc1", "fc2")`` (empty parts dropped, ``""``: none)."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def format_values(values: Sequence[float | int | str]) -> str:
    """The text that parses back to ``values``: ``START:STOP:STEP`` for an evenly spaced run of
    three or more numbers (how a long default is shown in ``--help``), else a comma list."""
    if len(values) >= 3 and all(isinstance(v, float) for v in values):
        start, stop, step = values[0], values[-1], values[1] - values[0]
        compact = f"{start:g}:{stop:g}:{step:g}"
        if step > 0 and parse_values(compact) == tuple(values):
            return compact
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def parse_assignments(values: list[str], what: str) -> dict[str, float | list[float]]:
    """``["angle=30", "rgb=0.1,0.2"]`` → ``{"angle": 30.0, "rgb": [0.1, 0.2]}``."""
    parsed: dict[str, float | list[float]] = {}
    for item in values:
        name, sep, text = item.partition("=")
        try:
            numbers = [float(part) for part in text.split(",")]
        except ValueError:
            numbers = []
        if not sep or not name or not numbers:
            raise ParamgenError(f"{what} {item!r} must look like NAME=NUMBER or NAME=N1,N2,…")
        parsed[name] = numbers[0] if len(numbers) == 1 else numbers
    return parsed


def parse_spec(values: list[str]) -> dict[str, str]:
    """``["arch=mlp", "seed=0"]`` → ``{"arch": "mlp", "seed": "0"}`` (values stay text)."""
    parsed: dict[str, str] = {}
    for item in values:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ParamgenError(f"--spec {item!r} must look like KEY=VALUE")
        parsed[key.strip()] = text
    return parsed
