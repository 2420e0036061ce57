"""Score flat weight rows of a zoo group through its family and task (any family, any task)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from paramgen.families import Family, get_family
from paramgen.runs import can_batch
from paramgen.schema import ParamSchema
from paramgen.tasks import Task, resolve_task
from zoo.bases import zoo_base_loader
from zoo.group import ZooGroup
from zoo.store import Zoo

__all__ = ["Assessment", "RowScorer", "group_task"]


def group_task(group: ZooGroup, task: Task | str | None = None) -> Task:
    """``task`` if given, else the task the group recorded when it was built."""
    return resolve_task(task if task is not None else group.backbone_spec.get("task", {}))


@dataclass(frozen=True)
class Assessment:
    """Per row: the task's metric, and [n, E] bool wrong examples (None where it has none)."""

    scores: list[float]
    wrong: torch.Tensor | None


@dataclass
class RowScorer:
    """Rows [n, D] → the task's metric (and wrong-example sets) of the models they describe."""

    family: Family
    config: Any
    task: Task
    base: nn.Module
    schema: ParamSchema

    @classmethod
    def of_group(cls, zoo: Zoo, group: ZooGroup, task: Task | str | None = None) -> RowScorer:
        """The group's family and config, its recorded task (or ``task``), its stored base (a
        missing base is an error: never a freshly pretrained stand-in)."""
        family = get_family(group.family)
        chosen = group_task(group, task)
        seed = int(group.backbone_spec.get("builder", {}).get("seed", 0))
        base = chosen.bind(zoo_base_loader(zoo, build_missing=False), seed)
        return cls(family, family.config_from_dict(group.family_config), chosen, base, group.schema)

    @property
    def batched(self) -> bool:
        """Whether rows are scored many at once through ``vmap``."""
        return can_batch(self.family, self.base, self.config, self.task)

    def _stacked(self, rows: torch.Tensor) -> dict[str, torch.Tensor]:
        tensors = [self.schema.unflatten(row) for row in rows]
        return {name: torch.stack([t[name] for t in tensors]) for name in tensors[0]}

    def scores(self, rows: torch.Tensor, value: float | None) -> list[float]:
        """The metric of each row's model at condition ``value``."""
        if len(rows) == 0:
            return []
        if self.batched:
            forward = self.family.functional(self.base, self.config)
            return self.task.batched_scores(forward, self._stacked(rows), value).tolist()
        return [self.score_tensors(self.schema.unflatten(row), self.config, value) for row in rows]

    def score_tensors(self, tensors: dict, config: Any, value: float | None) -> float:
        """The metric of one set of tensors under ``config`` (e.g. an interpolation's)."""
        return self.task.score(self.family.apply(self.base, config, tensors), value)

    def assess(self, rows: torch.Tensor, value: float | None) -> Assessment:
        """The metric and the wrong-example sets of each row's model, in one pass."""
        if len(rows) == 0:
            return Assessment([], None)
        if self.batched:
            forward = self.family.functional(self.base, self.config)
            scores, wrong = self.task.batched_assessment(forward, self._stacked(rows), value)
            return Assessment(scores.tolist(), wrong)
        models = [
            self.family.apply(self.base, self.config, self.schema.unflatten(row)) for row in rows
        ]
        sets = [self.task.wrong_examples(model, value) for model in models]
        return Assessment(
            [self.task.score(model, value) for model in models],
            None if sets[0] is None else torch.stack(sets),
        )

    def neutral_score(self, value: float | None) -> float:
        """The metric of the base without the family's weights (NaN where there is none)."""
        model = self.family.neutral(self.base, self.config)
        return float("nan") if model is None else self.task.score(model, value)
