"""What defines a zoo group — all but its rows — so that another file can hold the same group.

A salvaged copy and a build's shard files recreate a group from its definition; a group exists in
a file only once per definition (``Zoo.create_group`` refuses the same name with another schema,
condition shapes or family config).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from paramgen.schema import ParamSchema
from zoo.store import group_name

if TYPE_CHECKING:
    from zoo.group import ZooGroup
    from zoo.store import Zoo

__all__ = ["GroupDefinition"]


@dataclass(frozen=True)
class GroupDefinition:
    """A group's family, backbone, task, row schema, condition shapes, metric names, family
    config and backbone spec: the arguments of ``Zoo.create_group``."""

    family: str
    backbone: str
    task: str
    schema: ParamSchema
    conditions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    family_config: Mapping = field(default_factory=dict)
    backbone_spec: Mapping = field(default_factory=dict)

    @classmethod
    def of(cls, group: ZooGroup) -> GroupDefinition:
        """The definition of an existing ``group``."""
        return cls(
            family=group.family,
            backbone=group.backbone,
            task=group.task,
            schema=group.schema,
            conditions=dict(group.condition_shapes),
            metrics=tuple(group.metric_names),
            family_config=dict(group.family_config),
            backbone_spec=dict(group.backbone_spec),
        )

    @property
    def name(self) -> str:
        """The group's name in a zoo: ``family/backbone/task``."""
        return group_name(self.family, self.backbone, self.task)

    def create_in(self, zoo: Zoo, exist_ok: bool = False) -> ZooGroup:
        """This group in ``zoo``: created, or (``exist_ok``) the one there with this definition."""
        return zoo.create_group(
            family=self.family,
            backbone=self.backbone,
            task=self.task,
            schema=self.schema,
            conditions=self.conditions,
            metrics=self.metrics,
            family_config=self.family_config,
            backbone_spec=self.backbone_spec,
            exist_ok=exist_ok,
        )
