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
from zoo.builders.driver import BuildPlan, Init, RunReport, build_zoo

__all__ = ["SubsetZooConfig", "build_subset_zoo"]


@dataclass(frozen=True)
class SubsetZooConfig:
    """What to collect: which tensors of which task's model, how many checkpoints, how often."""

    patterns: tuple[str, ...] = ("fc2.*",)  # digits-cnn's last layer: 410 numbers
    task: Task | str = field(default_factory=DigitsClassification)
    values: tuple[float, ...] = ()  # condition values of a conditioned task (one run each)
    heldout: tuple[float, ...] = ()
    checkpoints: int = 200
    every: int = 1
    warmup: int = 0  # steps before the first kept checkpoint
    lr: float = 1e-3
    batch_size: int = 64
    seed: int = 0
    init: Init = "per-run"  # one run per value; chain / shared for a conditioned task

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
) -> str:
    """Collect the checkpoints into the zoo at ``path``; returns the group's name."""
    return build_zoo(path, SubsetFamily(), config.family_config, config.task, config.plan, on_run)
