"""Training runs of any family on any task: each run's checkpoints, one run or many at once.

A run attaches the family to the base (from a start row, or fresh from its seed), trains on the
task's loss with Adam, and keeps ``keep_last`` checkpoints ``keep_every`` steps apart at the end
(p-diff's collection: the checkpoints at the end of a run are samples of good weights for its
condition). A run given several condition values cycles through them, one per minibatch (an
anchor trained for all of them). Where the family has a functional form and the task a batched
loss, runs of one value each train together through ``torch.func.vmap``: one Adam over stacked
tensors is exactly M independent Adams, so a batched run follows the sequential one up to float
rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from paramgen.errors import ParamgenError
from paramgen.families.protocol import Family, Tensors
from paramgen.tasks.protocol import Task
from paramgen.training import optimise

__all__ = ["RunStart", "TrainSettings", "can_batch", "train_runs"]


@dataclass(frozen=True)
class TrainSettings:
    """How each run trains and which checkpoints it keeps."""

    steps: int
    lr: float
    batch_size: int = 64
    keep_last: int = 1
    keep_every: int = 1

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "keep_last", "keep_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParamgenError(f"{name} must be an integer >= 1, got {value!r}")
        if (self.keep_last - 1) * self.keep_every >= self.steps:
            raise ParamgenError(
                f"keep_last={self.keep_last} checkpoints {self.keep_every} steps apart need more "
                f"than steps={self.steps}; train longer or keep fewer"
            )
        if not self.lr > 0:
            raise ParamgenError(f"lr must be > 0, got {self.lr}")

    @property
    def kept_steps(self) -> list[int]:
        """The steps whose checkpoints are kept, ascending (the last is ``steps``)."""
        return [self.steps - k * self.keep_every for k in reversed(range(self.keep_last))]


@dataclass(frozen=True)
class RunStart:
    """One run: the condition values it trains on (cycled), its seed, and its start row."""

    values: tuple[float | None, ...]
    seed: int
    start: Tensors | None = None


def can_batch(family: Family, base: nn.Module, config: Any, task: Task) -> bool:
    """Whether runs of this family and task can train and score many at once."""
    return task.batched and family.functional(base, config) is not None


def train_runs(
    family: Family,
    config: Any,
    base: nn.Module,
    task: Task,
    runs: Sequence[RunStart],
    settings: TrainSettings,
    batched: bool = True,
) -> list[list[Tensors]]:
    """Each run's kept checkpoints (family tensors), in run order."""
    if batched and can_batch(family, base, config, task) and all(len(r.values) == 1 for r in runs):
        return _train_together(family, config, base, task, runs, settings)
    return [_train_one(family, config, base, task, run, settings) for run in runs]


def _train_one(
    family: Family, config: Any, base: nn.Module, task: Task, run: RunStart, settings: TrainSettings
) -> list[Tensors]:
    torch.manual_seed(run.seed)  # a fresh start draws its initial weights from the run's seed
    model = family.attach(base, config, run.start)
    datas = [task.training_data(value) for value in run.values]
    kept, snapshots = set(settings.kept_steps), []
    step = 0

    def loss(generator: torch.Generator) -> torch.Tensor:
        nonlocal step
        step += 1
        return task.loss(model, datas[(step - 1) % len(datas)], settings.batch_size, generator)

    def keep(at: int, trained: nn.Module) -> None:
        if at in kept:
            snapshots.append(family.extract(trained, config))

    optimise(model, loss, steps=settings.steps, lr=settings.lr, seed=run.seed, on_step=keep)
    return snapshots


def _train_together(
    family: Family,
    config: Any,
    base: nn.Module,
    task: Task,
    runs: Sequence[RunStart],
    settings: TrainSettings,
) -> list[list[Tensors]]:
    starts = []
    for run in runs:
        start = run.start
        if start is None:
            torch.manual_seed(run.seed)
            start = family.extract(family.attach(base, config), config)
        starts.append({name: value.detach().clone() for name, value in start.items()})
    stacked = {name: torch.stack([s[name] for s in starts]).requires_grad_() for name in starts[0]}
    optimiser = torch.optim.Adam(stacked.values(), lr=settings.lr)
    generators = [torch.Generator().manual_seed(run.seed) for run in runs]
    datas = [task.training_data(run.values[0]) for run in runs]
    forward = family.functional(base.eval(), config)
    kept = set(settings.kept_steps)
    snapshots: list[list[Tensors]] = [[] for _ in runs]
    for step in range(1, settings.steps + 1):
        loss = task.batched_loss(forward, stacked, datas, settings.batch_size, generators)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if step in kept:
            for index, kept_run in enumerate(snapshots):
                kept_run.append({name: t[index].detach().clone() for name, t in stacked.items()})
    return snapshots
