"""The one build driver: train checkpoints of any family for any task into a zoo group.

It owns what every zoo build shares — open-or-create, the base weights (stored with their
sha256), the schema, the group, resuming (finished values are skipped; another config is refused),
the run plan, training, keep-last-K, scoring and the append — so that a family's builder only
says what is particular to it (its config, its defaults, a row transform).

Run plans (``init``):

- ``chain``: the training value nearest 0 starts fresh; every other training value starts from
  the last checkpoint of its training neighbour towards 0, every held-out value from its nearest
  training value. Weights then change smoothly with the condition, which is what lets a generator
  interpolate (with independent runs, generated adapters at held-out values fell below reusing the
  nearest training value's). Held-out runs depend on training runs, never the reverse.
- ``per-run``: independent runs, each drawn from its own seed.
- ``shared``: every run starts from one anchor — the family's fresh weights under ``seed``,
  trained first for ``anchor_steps`` on the training values in turn where that is > 0 — and all
  runs draw the same minibatches, so rows differ by their condition alone.

The pending runs are cut into units of work (:mod:`zoo.builders.units`), trained in this process
or by an executor such as :class:`zoo.builders.ray_runs.RayRuns`; this process appends every
run's rows, in one call each, so a killed build loses at most the runs in flight, and a re-run
with the same config continues where it stopped (new values may be added).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from paramgen.errors import ParamgenError
from paramgen.families import Family, Tensors, get_family
from paramgen.runs import RunStart, TrainSettings, train_runs
from paramgen.schema import ParamSchema
from paramgen.tasks import Task, resolve_task, task_spec
from zoo.bases import zoo_base_loader
from zoo.builders.units import (
    BuildWork,
    PlannedRun,
    RunRows,
    WorkUnit,
    run_in_process,
    store_run,
    work_units,
)
from zoo.group import ZooGroup
from zoo.group_definition import GroupDefinition
from zoo.shards import ShardTag, stored_base_sha256
from zoo.store import Zoo

__all__ = [
    "INIT_HELP",
    "BuildPlan",
    "Executor",
    "Init",
    "RunReport",
    "build_zoo",
    "last_checkpoint",
]

Init = Literal["chain", "per-run", "shared"]
Executor = Callable[
    [BuildWork, Sequence[WorkUnit], Mapping[int, Tensors | None]], Iterator[list[RunRows]]
]  # trains units (each after those in its ``after``), yielding each unit's rows as it ends

INIT_HELP = (
    "chain (each run warm-starts from its training neighbour: smooth in the condition), per-run "
    "(independent runs) or shared (one start, or trained anchor, for all)."
)


@dataclass(frozen=True)
class BuildPlan:
    """Which runs, how each trains, and which checkpoints it keeps (family- and task-agnostic)."""

    values: tuple[float, ...] = field(
        default=(), metadata={"help": "Condition values, one run each (none: unconditional)."}
    )
    heldout: tuple[float, ...] = field(
        default=(), metadata={"help": "Values marked heldout (the generator never sees them)."}
    )
    init: Init = field(default="chain", metadata={"help": INIT_HELP})
    steps: int = field(default=300, metadata={"help": "Training steps per run."})
    keep_last: int = field(default=10, metadata={"help": "Checkpoints kept from each run's end."})
    keep_every: int = field(default=1, metadata={"help": "Steps between kept checkpoints."})
    lr: float = field(default=1e-2, metadata={"help": "Adam learning rate of the runs."})
    batch_size: int = field(default=64, metadata={"help": "Minibatch size."})
    seed: int = field(default=0, metadata={"help": "Seed of the base weights and every run."})
    anchor_steps: int = field(default=0, metadata={"help": "shared: the anchor's training."})
    anchor_lr: float | None = field(default=None, metadata={"help": "The anchor's rate (lr)."})
    method: Literal["batched", "sequential"] = field(
        default="batched", metadata={"help": "Train runs together where family and task can."}
    )
    runs_per_batch: int = field(default=16, metadata={"help": "Runs trained together at most."})

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        object.__setattr__(self, "heldout", tuple(float(v) for v in self.heldout))
        if len(set(self.values)) != len(self.values) or not all(map(math.isfinite, self.values)):
            raise ParamgenError(f"values must be distinct finite numbers, got {self.values}")
        strays = [v for v in self.heldout if not any(math.isclose(v, w) for w in self.values)]
        if strays:
            raise ParamgenError(
                f"held-out values {strays} are not among the values {self.values}; add them to "
                "values or hold out one of those"
            )
        if self.init not in ("chain", "per-run", "shared"):
            raise ParamgenError(f"init must be chain, per-run or shared, got {self.init!r}")
        if self.method not in ("batched", "sequential"):
            raise ParamgenError(f"method must be batched or sequential, got {self.method!r}")
        if self.anchor_steps < 0 or (self.anchor_steps and self.init != "shared"):
            raise ParamgenError(
                f"anchor_steps must be >= 0 and needs init='shared', got {self.anchor_steps} "
                f"with init={self.init!r}"
            )
        if self.anchor_steps and not self.training_values:
            raise ParamgenError("an anchor needs at least one training value (not held out)")
        if self.runs_per_batch < 1:
            raise ParamgenError(f"runs_per_batch must be >= 1, got {self.runs_per_batch}")
        _ = self.settings  # raises on bad steps, lr, batch size or keep_last / keep_every

    @property
    def settings(self) -> TrainSettings:
        """How each run trains and which checkpoints it keeps."""
        return TrainSettings(self.steps, self.lr, self.batch_size, self.keep_last, self.keep_every)

    @property
    def training_values(self) -> tuple[float, ...]:
        """The values not held out, in plan order."""
        return tuple(v for v in self.values if self.split_of(v) == "train")

    def split_of(self, value: float | None) -> str:
        """``heldout`` for a held-out value, else ``train`` (an unconditional run trains)."""
        if value is None:
            return "train"
        return "heldout" if any(math.isclose(value, v) for v in self.heldout) else "train"

    def run_seed(self, run: int) -> int:
        """A run's seed: its own under chain / per-run; under shared one for all (with an anchor,
        another than the anchor's, so runs draw other minibatches than it did)."""
        if self.init == "shared":
            return self.seed + (1 if self.anchor_steps else 0)
        return self.seed * 1000 + run

    def parents(self) -> dict[float, float | None]:
        """Each value's parent under ``chain``: the value whose last checkpoint it starts from."""
        train = list(self.training_values)
        if self.init != "chain" or not train:
            return dict.fromkeys(self.values)
        anchor = min(train, key=abs)
        parents: dict[float, float | None] = {}
        for value in self.values:
            if value == anchor:
                parents[value] = None
            elif self.split_of(value) == "train":
                low, high = sorted((anchor, value))
                inward = [v for v in train if low <= v <= high and v != value]
                parents[value] = min(inward, key=lambda v: abs(v - value))
            else:
                parents[value] = min(train, key=lambda v: (abs(v - value), abs(v)))
        return parents


@dataclass(frozen=True)
class RunReport:
    """One finished run: its value, split and kept checkpoints' scores (None: already built),
    and the shard holding its rows ("": the zoo)."""

    value: float | None
    split: str
    scores: list[float] | None
    shard: str = ""


def last_checkpoint(group: ZooGroup, condition: str | None, value: float | None) -> Tensors:
    """The tensors of the last step stored at ``condition=value`` (any row if unconditional)."""
    rows = group.indices(**({condition: value} if condition else {}))
    if rows.size == 0:
        raise ParamgenError(
            f"group {group.name!r} has no row at {condition}={value}; build it first or choose "
            "another value"
        )
    return group.tensors(int(rows[group.read(rows).step.argmax()]))


@dataclass
class _Build:
    """One build's resolved pieces."""

    family: Family
    config: Any
    task: Task
    plan: BuildPlan
    base: nn.Module
    group: ZooGroup
    prepare_row: Callable[[Tensors], Tensors] | None
    base_sha256: str | None

    def built(self, value: float | None) -> bool:
        condition = {self.task.condition: value} if self.task.condition else {}
        return self.group.indices(**condition).size >= self.plan.keep_last

    def work(self) -> BuildWork:
        """What each unit of this build needs besides its starts."""
        return BuildWork(
            self.family,
            self.config,
            self.task,
            self.base,
            self.plan.settings,
            self.group.schema,
            self.plan.method == "batched",
            GroupDefinition.of(self.group),
            ShardTag(self.group.name, self.base_sha256),
            self.prepare_row,
        )

    def store(self, rows: RunRows) -> RunReport:
        """Append a run's rows to the group (unless a shard holds them already)."""
        if not rows.shard:
            store_run(self.group, self.task, self.plan.settings.kept_steps, rows)
        return RunReport(rows.run.value, rows.run.split, rows.scores, rows.shard)

    def start_of(self, parent: float | None) -> Tensors | None:
        """The start of a run whose chain parent is ``parent`` (built before this build): its
        last checkpoint, or a fresh start (None) where there is no parent."""
        if parent is None:
            return None
        return last_checkpoint(self.group, self.task.condition, parent)

    def anchor(self) -> Tensors:
        """The shared start: fresh weights under ``seed``, trained on the training values."""
        fresh = RunStart(tuple(self.plan.training_values), self.plan.seed)
        if self.plan.anchor_steps == 0:
            torch.manual_seed(self.plan.seed)
            return self.family.extract(self.family.attach(self.base, self.config), self.config)
        settings = TrainSettings(
            self.plan.anchor_steps, self.plan.anchor_lr or self.plan.lr, self.plan.batch_size
        )
        (kept,) = train_runs(self.family, self.config, self.base, self.task, [fresh], settings)
        return kept[-1]


def build_zoo(
    path: str | Path,
    family: Family | str,
    family_config: Any,
    task: Task | str,
    plan: BuildPlan = BuildPlan(),
    on_run: Callable[[RunReport], None] | None = None,
    prepare_row: Callable[[Tensors], Tensors] | None = None,
    execute: Executor = run_in_process,
) -> str:
    """Build (or finish building) the group of ``family`` × ``task`` in the zoo at ``path``
    (created if missing); returns the group's name.

    ``task`` is a Task or an import string ``package.module:object``; ``prepare_row`` maps each
    kept checkpoint to the row stored (e.g. LoRA's canonical form); ``on_run`` is called once per
    value, as its rows are appended; ``execute`` trains the units (in this process by default;
    ``zoo.builders.ray_runs.RayRuns`` as Ray tasks). This process stays the zoo's only writer.
    """
    path = Path(path)
    family = get_family(family) if isinstance(family, str) else family
    spec, task = task_spec(task), resolve_task(task)
    if (task.condition is None) != (not plan.values):
        raise ParamgenError(
            f"task {task.name!r} is "
            + (
                f"conditioned on {task.condition!r}: give values"
                if task.condition
                else "unconditional: give no values (it trains one run)"
            )
        )
    with Zoo.open(path, "a") if path.exists() else Zoo.create(path) as zoo:
        base = task.bind(zoo_base_loader(zoo, spec), plan.seed)
        template = family.extract(family.attach(base, family_config), family_config)
        wanted = {"task": spec, "builder": json.loads(json.dumps(asdict(plan)))}
        group = zoo.create_group(
            family=family.name,
            backbone=task.backbone_name,
            task=task.name,
            schema=ParamSchema.from_state_dict(template),
            conditions={task.condition: ()} if task.condition else {},
            metrics=[task.metric],
            family_config=family.config_to_dict(family_config),
            backbone_spec={"name": task.backbone_name, **wanted},
            exist_ok=True,
        )
        _refuse_another_config(group, wanted, path)
        base_sha256 = stored_base_sha256(zoo, group.backbone)
        build = _Build(family, family_config, task, plan, base, group, prepare_row, base_sha256)
        _run_pending(build, on_run or (lambda report: None), execute)
    return group.name


def _refuse_another_config(group: ZooGroup, wanted: dict, path: Path) -> None:
    """A group continues only with the config it was built with (its values may grow)."""
    if not len(group):
        return
    built = {"task": group.backbone_spec.get("task"), **group.backbone_spec.get("builder", {})}
    asked = {"task": wanted["task"], **wanted["builder"]}
    changed = sorted(
        k for k in asked if k not in ("values", "heldout") and built.get(k) != asked[k]
    )
    if changed:
        raise ParamgenError(
            f"group {group.name!r} in {path} was built with another config (fields {changed} "
            "differ); finish it with the same config or use a new zoo file"
        )


def _run_pending(build: _Build, on_run: Callable[[RunReport], None], execute: Executor) -> None:
    plan = build.plan
    parents = plan.parents() if plan.values else {None: None}
    pending = []
    for run, value in enumerate(plan.values or (None,)):
        if build.built(value):
            on_run(RunReport(value, plan.split_of(value), None))
        else:
            seed, split = plan.run_seed(run), plan.split_of(value)
            pending.append(PlannedRun(run, value, seed, parents[value], split))
    if not pending:
        return
    waiting = {run.value for run in pending}
    shared = build.anchor() if plan.init == "shared" else None
    known = {  # starts known before the build: fresh, the anchor, or a finished parent's last
        run.run: shared if shared is not None else build.start_of(run.parent)
        for run in pending
        if run.parent is None or run.parent not in waiting
    }
    size = plan.runs_per_batch if plan.method == "batched" else 1
    for rows in execute(build.work(), work_units(pending, parents, size), known):
        for run_rows in rows:
            on_run(build.store(run_rows))
