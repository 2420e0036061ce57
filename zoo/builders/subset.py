"""p-diff's checkpoint collection: keep training a task's model and save a subset every k steps.

Wang et al. (2024) take a trained network, train only its last normalisation layers further and
save them at every step (v2: 300 checkpoints) — samples of good weights for those layers. Here any
task's base (built in, or a user's ``package.module:object``) continues training with only the
tensors matching ``patterns`` free (the :class:`paramgen.families.subset.SubsetFamily`), and
``checkpoints`` rows are kept ``every`` steps apart after ``warmup`` steps. An unconditional task
gives one run and rows with no condition; a conditioned task one run per value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from paramgen.errors import ParamgenError
from paramgen.families.subset import SubsetConfig, SubsetFamily
from paramgen.tasks import Task
from paramgen.tasks.digits import DigitsClassification
from zoo.builders.driver import INIT_HELP, BuildPlan, Executor, Init, RunReport, build_zoo
from zoo.builders.units import run_in_process

__all__ = ["SubsetZooConfig", "build_subset_zoo"]


@dataclass(frozen=True)
class SubsetZooConfig:
    """What to collect: which tensors of which task's model, how many checkpoints, how often."""

    patterns: tuple[str, ...] = field(
        default=("fc2.*",),
        metadata={"help": "Name patterns of the tensors kept free and stored (fnmatch)."},
    )  # digits-cnn's last layer: 410 numbers
    task: Task | str = field(
        default_factory=DigitsClassification,
        metadata={"help": "The task whose model is trained (a paramgen Task)."},
    )
    values: tuple[float, ...] = field(
        default=(),
        metadata={"help": "Condition values of a conditioned task, one run each ('' for none)."},
    )
    heldout: tuple[float, ...] = field(
        default=(), metadata={"help": "Held-out values (a comma list; '' for none)."}
    )
    checkpoints: int = field(
        default=200, metadata={"help": "Checkpoints kept per run (p-diff: 200-300)."}
    )
    every: int = field(default=1, metadata={"help": "Steps between kept checkpoints."})
    warmup: int = field(
        default=0, metadata={"help": "Training steps before the first kept checkpoint."}
    )
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate."})
    batch_size: int = field(default=64, metadata={"help": "Minibatch size."})
    seed: int = field(default=0, metadata={"help": "Seed of the base weights and runs."})
    init: Init = field(
        default="per-run",
        metadata={"help": INIT_HELP + " chain / shared for a conditioned task."},
    )

    def __post_init__(self) -> None:
        for name in ("checkpoints", "every"):
            if getattr(self, name) < 1:
                raise ParamgenError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise ParamgenError(f"warmup must be >= 0 steps, got {self.warmup}")
        _ = self.family_config, self.plan  # raise on bad patterns and numbers

    @property
    def family_config(self) -> SubsetConfig:
        """The name patterns of the tensors kept."""
        return SubsetConfig(self.patterns)

    @property
    def plan(self) -> BuildPlan:
        """``warmup`` steps, then ``checkpoints`` kept ``every`` steps apart."""
        return BuildPlan(
            values=self.values,
            heldout=self.heldout,
            init=self.init,
            steps=self.warmup + self.checkpoints * self.every,
            keep_last=self.checkpoints,
            keep_every=self.every,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
        )


def build_subset_zoo(
    path: str | Path,
    config: SubsetZooConfig = SubsetZooConfig(),
    on_run: Callable[[RunReport], None] | None = None,
    execute: Executor = run_in_process,
) -> str:
    """Collect the checkpoints into the zoo at ``path``; returns the group's name.
    ``execute`` trains the runs (in this process by default; ``RayRuns`` on Ray workers)."""
    return build_zoo(
        path,
        SubsetFamily(),
        config.family_config,
        config.task,
        config.plan,
        on_run,
        execute=execute,
    )
