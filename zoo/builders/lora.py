"""Style-LoRA zoo: one LoRA fine-tune per condition value, keeping each run's last K checkpoints.

The built-in task fine-tunes ``digits-cnn`` on digits rendered at one style value
(:class:`paramgen.tasks.digits.StyledDigitsClassification`); ``task`` names a user's own task
instead (``package.module:object``, a :class:`paramgen.tasks.Task`), trained on the user's
backbone with ``targets``. Values fall into alternating bins (``heldout_bin`` wide, centred on 0);
odd bins are marked ``heldout`` so a generator can be tested on conditions it never saw. Runs are
a warm-start chain by default (see :mod:`zoo.builders.driver`): factor-space interpolation
between neighbouring training adapters then works as well as the adapters trained in between
(with independent runs, or SVD-canonical factors, it does not). Rows hold the factors as trained
(``canonical=False``) or in canonical SVD-balanced form, with the task's metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from paramgen.backbones import backbone_entry
from paramgen.errors import ParamgenError
from paramgen.families.lora import LoraFamily, LoraSpec
from paramgen.families.lora.algebra import canonicalize
from paramgen.tasks import Task, resolve_task
from paramgen.tasks.digits import StyledDigitsClassification
from zoo.builders.driver import BuildPlan, RunReport, build_zoo
from zoo.store import group_name

__all__ = ["LoraZooConfig", "build_lora_zoo"]


def _default_angles() -> tuple[float, ...]:
    return tuple(float(angle) for angle in range(-90, 91, 5))


@dataclass(frozen=True)
class LoraZooConfig:
    """What to build: the task and its values, and how each adapter is trained and sampled."""

    backbone: str = "digits-cnn"
    style: str = "rotation"
    values: tuple[float, ...] = field(default_factory=_default_angles)
    heldout_bin: float = 15.0
    rank: int = 4
    alpha: float = 4.0
    steps: int = 300
    keep_last: int = 10
    lr: float = 1e-2
    batch_size: int = 64
    seed: int = 0
    init: Literal["chain", "per-run", "shared"] = "chain"
    canonical: bool = False
    method: Literal["batched", "sequential"] = "batched"
    runs_per_batch: int = 16
    task: Task | str | None = None  # a user's task (replaces backbone and style)
    targets: tuple[str, ...] = ()  # LoRA target modules (default: the built-in backbone's)

    def __post_init__(self) -> None:
        if not self.values:
            raise ParamgenError("values must be non-empty: one run per condition value")
        if self.task is None:
            StyledDigitsClassification(self.style, self.backbone)  # raises on unknown names
        if not self.targets and (self.task is not None or not self.lora_targets):
            raise ParamgenError(
                "name the LoRA target modules of your backbone (targets / --targets), e.g. fc1,fc2"
            )
        _ = self.plan  # raises on bad values, steps, keep_last, init or method

    @property
    def lora_targets(self) -> tuple[str, ...]:
        """The target modules given, else the built-in backbone's."""
        return self.targets or backbone_entry(self.backbone).lora_targets

    @property
    def spec(self) -> LoraSpec:
        """The adapters' rank, alpha and targets."""
        return LoraSpec(targets=self.lora_targets, rank=self.rank, alpha=self.alpha)

    def resolved_task(self) -> Task | str:
        """The task the runs train for: the user's, else the built-in styled digits."""
        if self.task is None:
            return StyledDigitsClassification(self.style, self.backbone)
        return self.task

    @property
    def group(self) -> str:
        """The name of the group this config builds."""
        task = resolve_task(self.resolved_task())
        return group_name(LoraFamily.name, task.backbone_name, task.name)

    def split_of(self, value: float) -> str:
        """Alternating bins centred on 0: even bins train, odd bins are held out."""
        return "heldout" if math.floor(value / self.heldout_bin + 0.5) % 2 else "train"

    @property
    def plan(self) -> BuildPlan:
        """One run per value; odd ``heldout_bin`` bins held out."""
        return BuildPlan(
            values=self.values,
            heldout=tuple(v for v in self.values if self.split_of(v) == "heldout"),
            init=self.init,
            steps=self.steps,
            keep_last=self.keep_last,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
            method=self.method,
            runs_per_batch=self.runs_per_batch,
        )


def build_lora_zoo(
    path: str | Path,
    config: LoraZooConfig = LoraZooConfig(),
    on_run: Callable[[RunReport], None] | None = None,
) -> Path:
    """Build (or finish building) the LoRA zoo at ``path``; returns the path."""
    spec = config.spec
    build_zoo(
        path,
        LoraFamily(),
        spec,
        config.resolved_task(),
        config.plan,
        on_run,
        prepare_row=(lambda row: canonicalize(row, spec)) if config.canonical else None,
    )
    return Path(path)
