"""A zoo group's rows as the generator's TrainingSet (the library never reads zoo files itself)."""

from __future__ import annotations

from paramgen.generator import TrainingSet
from zoo.group import ZooGroup

__all__ = ["training_set"]


def training_set(group: ZooGroup, split: str | None = "train") -> TrainingSet:
    """Rows of ``split`` (None: every row) with their conditions and the group's description."""
    rows = group.read(group.indices(split=split))
    return TrainingSet(
        params=rows.params,
        conditions=rows.conditions,
        schema=group.schema,
        metadata={
            "group": group.name,
            "family": group.family,
            "family_config": group.family_config,
            "backbone": group.backbone,
            "split": split,
        },
    )
