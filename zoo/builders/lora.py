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
from zoo.builders.driver import INIT_HELP, BuildPlan, Executor, RunReport, build_zoo
from zoo.builders.units import run_in_process
from zoo.store import group_name

__all__ = ["LoraZooConfig", "build_lora_zoo"]


def _default_angles() -> tuple[float, ...]:
    return tuple(float(angle) for angle in range(-90, 91, 5))


@dataclass(frozen=True)
class LoraZooConfig:
    """What to build: the task and its values, and how each adapter is trained and sampled."""

    backbone: str = field(default="digits-cnn", metadata={"help": "Built-in classifier backbone."})
    style: str = field(default="rotation", metadata={"help": "Style parameter of the condition."})
    values: tuple[float, ...] = field(
        default_factory=_default_angles,
        metadata={"help": "Style values, one run each: START:STOP:STEP or a comma list."},
    )
    heldout_bin: float = field(
        default=15.0,
        metadata={"help": "Width of the alternating train/held-out bins, centred on 0."},
    )
    rank: int = field(default=4, metadata={"help": "LoRA rank r."})
    alpha: float = field(default=4.0, metadata={"help": "LoRA alpha (scaling alpha/r)."})
    steps: int = field(default=300, metadata={"help": "Fine-tuning steps per run."})
    keep_last: int = field(
        default=10, metadata={"help": "Checkpoints kept from the end of each run."}
    )
    lr: float = field(default=1e-2, metadata={"help": "Adam learning rate."})
    batch_size: int = field(default=64, metadata={"help": "Minibatch size."})
    seed: int = field(default=0, metadata={"help": "Seed of the base weights and of every run."})
    init: Literal["chain", "per-run", "shared"] = field(
        default="chain",
        metadata={"help": INIT_HELP},
    )
    canonical: bool = field(
        default=False, metadata={"help": "Store the factors in canonical SVD-balanced form."}
    )
    method: Literal["batched", "sequential"] = field(
        default="batched",
        metadata={
            "help": "batched (vmap, faster on CPU) or sequential (one peft model at a time)."
        },
    )
    runs_per_batch: int = field(
        default=16, metadata={"help": "Runs trained together at most (batched)."}
    )
    task: Task | str | None = field(
        default=None,
        metadata={
            "help": "Your own task, package.module:object (a paramgen Task); replaces style and "
            "backbone. Give targets with it."
        },
    )
    targets: tuple[str, ...] = field(
        default=(),
        metadata={"help": "LoRA target modules, comma-separated (none: the built-in backbone's)."},
    )

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
    execute: Executor = run_in_process,
) -> Path:
    """Build (or finish building) the LoRA zoo at ``path``; returns the path. ``execute``
    trains the runs (in this process by default; ``RayRuns`` on Ray workers)."""
    spec = config.spec
    build_zoo(
        path,
        LoraFamily(),
        spec,
        config.resolved_task(),
        config.plan,
        on_run,
        prepare_row=(lambda row: canonicalize(row, spec)) if config.canonical else None,
        execute=execute,
    )
    return Path(path)
