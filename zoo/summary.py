"""What a zoo holds, group by group: the numbers ``paramgen zoo info`` shows.

Read from attributes, dataset shapes and the small per-row columns (conditions, metrics, split: a
few bytes a row) — never the [N, D] params, which are nearly all of a zoo's bytes: summarising a
1 GB zoo reads kilobytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from zoo.h5file import damaged_file
from zoo.store import Zoo

__all__ = ["BackboneSummary", "GroupSummary", "summarize", "summarize_backbones"]


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


@dataclass(frozen=True)
class BackboneSummary:
    """Stored base weights: their sha256 and size (read from the file's layout, not loaded)."""

    name: str
    sha256: str
    tensors: int
    values: int


def summarize_backbones(zoo: Zoo) -> list[BackboneSummary]:
    summaries = []
    for name in zoo.backbones():
        node = zoo.backbone_node(name)
        with damaged_file(zoo.path, f"the tensors of base weights {name!r}"):
            # "order" lists the tensor names; a name with '/' is a nested path under tensors/.
            sizes = [node["tensors"][tensor].size for tensor in json.loads(node.attrs["order"])]
        summaries.append(BackboneSummary(name, node.attrs["sha256"], len(sizes), sum(sizes)))
    return summaries


def summarize(zoo: Zoo) -> list[GroupSummary]:
    summaries = []
    for name in zoo.groups():
        group = zoo.group(name)
        rows = group.read_labels()
        metrics = {}
        for metric, values in rows.metrics.items():
            measured = values[~np.isnan(values)]
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
                    zoo.backbone_node(group.backbone).attrs["sha256"][:12]
                    if group.backbone in zoo.backbones()
                    else "not stored"
                ),
            )
        )
    return summaries
