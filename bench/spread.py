"""Mean ± sd over seeds, as every benchmark's JSON reports it."""

from __future__ import annotations

import statistics

__all__ = ["mean_sd"]


def mean_sd(values: list[float], digits: int = 4) -> dict:
    """{"mean", "sd" (0 for a single value), "values"}, rounded to ``digits``."""
    return {
        "mean": round(statistics.mean(values), digits),
        "sd": round(statistics.stdev(values), digits) if len(values) > 1 else 0.0,
        "values": [round(v, digits) for v in values],
    }
