"""What a zoo holds, group by group: the numbers ``paramgen zoo info`` shows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zoo.store import Zoo

__all__ = ["GroupSummary", "summarize"]


@dataclass(frozen=True)
class GroupSummary:
    """Row count, D, condition ranges, metric means (over measured rows) and split sizes."""

    name: str
    family: str
    rows: int
    dim: int
    conditions: dict[str, tuple[float, float]]
    metrics: dict[str, float]
    splits: dict[str, int]
    base_weights: str


def summarize(zoo: Zoo) -> list[GroupSummary]:
    summaries = []
    for name in zoo.groups():
        group = zoo.group(name)
        rows = group.read()
        metrics = {}
        for metric, values in rows.metrics.items():
            measured = values[~values.isnan()]
            metrics[metric] = float(measured.mean()) if len(measured) else float("nan")
        summaries.append(
            GroupSummary(
                name=name,
                family=group.family,
                rows=len(rows),
                dim=group.schema.dim,
                conditions={
                    cname: (float(v.min()), float(v.max())) if len(rows) else (np.nan, np.nan)
                    for cname, v in rows.conditions.items()
                },
                metrics=metrics,
                splits={label: rows.split.count(label) for label in sorted(set(rows.split))},
                base_weights=(
                    zoo.file["backbones"][group.backbone].attrs["sha256"][:12]
                    if group.backbone in zoo.backbones()
                    else "not stored"
                ),
            )
        )
    return summaries
