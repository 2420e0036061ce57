"""A zoo build's units of work: the runs trained together in one call, and what each needs.

One partition serves every way a build runs — in this process, or as Ray tasks on many
workers — so both write the same rows, bit for bit (runs trained in one vmap batch round
differently from runs trained alone, so the batches themselves must agree). A unit holds runs of
one depth of the run plan whose parents lie in one branch of it (the runs below one child of the
root), at most ``runs_per_batch`` of them: under ``chain`` the runs on either side of the anchor
form two independent branches that train side by side on two workers, while the anchor's own
children still train together.

``BuildWork`` is what a unit needs besides its starts — family, task, base weights, settings —
shipped once to each worker; ``BuildWork.train`` trains a unit and scores its checkpoints into
the rows the zoo stores (``RunRows``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from paramgen.families import Family, Tensors
from paramgen.runs import RunStart, TrainSettings, can_batch, train_runs
from paramgen.schema import ParamSchema
from paramgen.tasks import Task
from zoo.group import ZooGroup
from zoo.group_definition import GroupDefinition
from zoo.shards import RunKey, ShardTag, run_key

__all__ = [
    "BuildWork",
    "PlannedRun",
    "RunRows",
    "WorkUnit",
    "run_in_process",
    "store_run",
    "work_units",
]

_SCORE_BLOCK = 16  # checkpoints scored side by side: a run's rows are not stacked all at once


@dataclass(frozen=True)
class PlannedRun:
    """One run of the plan: its number, condition value, seed, the value it starts from and
    its split."""

    run: int
    value: float | None
    seed: int
    parent: float | None = None  # chain: the run whose last checkpoint it starts from
    split: str = "train"

    @property
    def key(self) -> RunKey:
        """What the run is known by in a zoo (``zoo.shards.run_key``)."""
        return run_key(self.run, self.value)


@dataclass(frozen=True)
class WorkUnit:
    """Runs trained together in one call; ``after``: the units holding the runs they start
    from (an empty tuple: every start is known before the build)."""

    index: int
    runs: tuple[PlannedRun, ...]
    after: tuple[int, ...] = ()

    def describe(self) -> str:
        """The unit's runs by value, for messages ("the run" for an unconditional one)."""
        values = [run.value for run in self.runs]
        return "the run" if values == [None] else "runs at " + ", ".join(f"{v:+g}" for v in values)


def _ancestry(value: float | None, parents: Mapping[float | None, float | None]) -> list:
    """``value`` and the values it descends from, up to the plan's root."""
    line = [value]
    while parents.get(line[-1]) is not None:
        line.append(parents[line[-1]])
    return line


def work_units(
    runs: Sequence[PlannedRun],
    parents: Mapping[float | None, float | None],
    runs_per_batch: int,
) -> list[WorkUnit]:
    """The pending ``runs`` (in plan order) as units, each after the units it starts from.

    ``parents`` maps every value of the plan (built or not) to its parent; a run whose parent is
    not pending starts from a checkpoint known before the build."""
    groups: dict[tuple[int, Any], list[PlannedRun]] = {}
    for run in runs:
        line = _ancestry(run.value, parents)
        branch = line[-2] if len(line) > 2 else None  # the parent's ancestor below the root
        groups.setdefault((len(line) - 1, branch), []).append(run)
    units: list[WorkUnit] = []
    unit_of: dict[float | None, int] = {}
    for key in sorted(groups, key=lambda key: key[0]):  # stable: branches in plan order
        members = groups[key]
        for start in range(0, len(members), runs_per_batch):
            chunk = tuple(members[start : start + runs_per_batch])
            after = sorted({unit_of[r.parent] for r in chunk if r.parent in unit_of})
            units.append(WorkUnit(len(units), chunk, tuple(after)))
            unit_of.update((r.value, len(units) - 1) for r in chunk)
    return units


@dataclass(frozen=True)
class RunRows:
    """One trained run as the zoo stores it: its kept checkpoints flattened [n, D] (float32)
    and their scores. ``shard``: the shard file already holding the rows (a sharded Ray build,
    ``zoo.builders.ray_shards``); ``matrix`` then holds at most the last checkpoint."""

    run: PlannedRun
    matrix: torch.Tensor
    scores: list[float]
    shard: str = ""


@dataclass(frozen=True)
class BuildWork:
    """Everything a unit needs besides its starts; shipped once to each worker. ``group`` and
    ``shard_tag``: the zoo group the rows are for (what a shard writer recreates)."""

    family: Family
    config: Any
    task: Task
    base: nn.Module
    settings: TrainSettings
    schema: ParamSchema
    batched: bool
    group: GroupDefinition
    shard_tag: ShardTag
    prepare_row: Callable[[Tensors], Tensors] | None = None

    def train(
        self,
        unit: WorkUnit,
        known: Mapping[int, Tensors | None],
        parents: Sequence[Sequence[RunRows]] = (),
    ) -> list[RunRows]:
        """Train ``unit``'s runs and score their kept checkpoints. A run starts from ``known``
        [its number] if there, else from the last row of its parent among the ``parents``' rows
        (the results of the units in ``unit.after``)."""
        last = {rows.run.value: rows.matrix[-1] for result in parents for rows in result}
        starts = [
            RunStart(
                (run.value,),
                run.seed,
                known[run.run] if run.run in known else self.schema.unflatten(last[run.parent]),
            )
            for run in unit.runs
        ]
        trained = train_runs(
            self.family,
            self.config,
            self.base,
            self.task,
            starts,
            self.settings,
            batched=self.batched,
        )
        return [self._rows(run, kept) for run, kept in zip(unit.runs, trained, strict=True)]

    def _rows(self, run: PlannedRun, kept: list[Tensors]) -> RunRows:
        if self.prepare_row is not None:
            kept = [self.prepare_row(row) for row in kept]
        matrix = torch.empty(len(kept), self.schema.dim)  # filled in place: one copy
        for index, row in enumerate(kept):
            matrix[index] = self.schema.flatten(row)
        return RunRows(run, matrix, self.score(kept, run.value))

    def score(self, rows: list[Tensors], value: float | None) -> list[float]:
        """The task's metric of each of ``rows`` (family tensors) at condition ``value``."""
        if can_batch(self.family, self.base, self.config, self.task):
            forward = self.family.functional(self.base, self.config)
            scores = []
            for start in range(0, len(rows), _SCORE_BLOCK):  # a block at a time: bounded memory
                block = rows[start : start + _SCORE_BLOCK]
                stacked = {name: torch.stack([row[name] for row in block]) for name in block[0]}
                scores += self.task.batched_scores(forward, stacked, value).tolist()
            return scores
        return [
            self.task.score(self.family.apply(self.base, self.config, row), value) for row in rows
        ]


def store_run(group: ZooGroup, task: Task, steps: Sequence[int], rows: RunRows) -> np.ndarray:
    """Append one run's rows (kept at ``steps``) to ``group`` in one atomic append; returns
    their indices."""
    value = rows.run.value
    stored = group.append(
        rows.matrix,
        conditions={task.condition: value} if task.condition else {},
        metrics={task.metric: rows.scores},
        run=rows.run.run,
        step=list(steps),
        seed=rows.run.seed,
        split=rows.run.split,
    )
    return np.arange(stored.start, stored.stop)


def run_in_process(
    work: BuildWork, units: Sequence[WorkUnit], known: Mapping[int, Tensors | None]
) -> Iterator[list[RunRows]]:
    """Train ``units`` one after another in this process, yielding each unit's rows; a unit's
    rows are kept only until the last unit starting from them has trained."""
    waiting = {unit.index: sum(unit.index in u.after for u in units) for unit in units}
    results: dict[int, list[RunRows]] = {}
    for unit in units:
        rows = work.train(unit, known, [results[i] for i in unit.after])
        for index in unit.after:
            waiting[index] -= 1
            if not waiting[index]:
                del results[index]
        if waiting[unit.index]:
            results[unit.index] = rows
        yield rows
