"""Style-DPI zoo: one DPI denoiser per style value, keeping each run's last K checkpoints.

Each run wraps a copy of the pretrained blind denoiser in a DPI over u, the position of log σ in
[0, 1] (θ0 = θ1 = the base weights at the start, as Park et al.), and trains it to predict the
noise on training digits of one style value, one σ per minibatch (DPI's fast path); the metric is
the noise-scaled denoising MSE on that style's test digits
(:class:`paramgen.tasks.denoising.StyledDigitsDenoising`). Held-out values are named explicitly.

Documented subset of the paper's setting: the zoo wraps ``digits-unet-small`` (8 channels, ~18.4k
parameters) rather than the 196k ``digits-unet``, and λ is a 64-entry table rather than 1,000, so
that a row (2 × 18,385 + 63 = 36,833 numbers) stays small enough for the parameter autoencoder on
a CPU. Runs share one start (the same λ logits) and the same minibatches (``init="shared"``): two
runs differ only by their style value, which is what a generator interpolates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from paramgen.errors import ParamgenError
from paramgen.families.dpi import DpiConfig, DpiFamily
from paramgen.tasks.denoising import StyledDigitsDenoising
from zoo.builders.driver import INIT_HELP, BuildPlan, Executor, Init, RunReport, build_zoo
from zoo.builders.units import run_in_process

__all__ = ["DpiZooConfig", "build_dpi_zoo"]


def _default_strokes() -> tuple[float, ...]:
    return tuple(-1.0 + 0.25 * i for i in range(9))


@dataclass(frozen=True)
class DpiZooConfig:
    """What to build: the style values, which are held out, and how each DPI is trained."""

    backbone: str = field(
        default="digits-unet-small",
        metadata={"help": "Built-in unconditional denoiser backbone: forward(x)."},
    )
    style: str = field(default="stroke", metadata={"help": "Style parameter of the condition."})
    values: tuple[float, ...] = field(
        default_factory=_default_strokes,
        metadata={"help": "Style values, one run each: START:STOP:STEP or a comma list."},
    )
    heldout: tuple[float, ...] = field(
        default=(0.25,),
        metadata={"help": "Held-out style values, each one of values (a comma list; '' for none)."},
    )
    steps: int = field(default=400, metadata={"help": "Training steps per DPI."})
    keep_last: int = field(
        default=5, metadata={"help": "Checkpoints kept from the end of each run."}
    )
    lr: float = field(
        default=2e-3,
        metadata={
            "help": "Adam learning rate of the weights (λ's logits: 100x, DPI.parameter_groups)."
        },
    )
    batch_size: int = field(default=64, metadata={"help": "Minibatch size."})
    table_size: int = field(
        default=64,
        metadata={
            "help": "Entries of the λ table (the paper uses 1,000; see the module docstring)."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed of the base weights and of every run."})
    init: Init = field(
        default="shared",
        metadata={"help": INIT_HELP},
    )

    def __post_init__(self) -> None:
        if not self.values:
            raise ParamgenError("values must be non-empty: one run per style value")
        _ = self.task, self.family_config, self.plan  # raise on bad names and numbers

    @property
    def task(self) -> StyledDigitsDenoising:
        """Denoising of digits at one style value, noise-scaled MSE as metric."""
        return StyledDigitsDenoising(self.style, self.backbone)

    @property
    def family_config(self) -> DpiConfig:
        """The λ table the base is wrapped with."""
        return DpiConfig(table_size=self.table_size)

    @property
    def plan(self) -> BuildPlan:
        """One run per style value from one shared start (``init``)."""
        return BuildPlan(
            values=self.values,
            heldout=self.heldout,
            init=self.init,
            steps=self.steps,
            keep_last=self.keep_last,
            lr=self.lr,
            batch_size=self.batch_size,
            seed=self.seed,
            method="sequential",
        )

    def split_of(self, value: float) -> str:
        """``heldout`` for a held-out value, else ``train``."""
        return self.plan.split_of(value)


def build_dpi_zoo(
    path: str | Path,
    config: DpiZooConfig = DpiZooConfig(),
    on_run: Callable[[RunReport], None] | None = None,
    execute: Executor = run_in_process,
) -> Path:
    """Build (or finish building) the style-DPI zoo at ``path``; returns the path. ``execute``
    trains the runs (in this process by default; ``RayRuns`` on Ray workers)."""
    build_zoo(
        path, DpiFamily(), config.family_config, config.task, config.plan, on_run, execute=execute
    )
    return Path(path)
