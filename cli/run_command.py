"""``paramgen run``: the main job on the built-in default (see ``zoo.main_job``)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.config_options import with_config_options
from cli.errors import user_errors
from cli.generator_options import generator_options
from cli.parsing import format_values, parse_values
from cli.progress import StageBars
from zoo.builders import LoraZooConfig
from zoo.main_job import MainJobConfig, run_main_job

__all__ = ["RUN_OPTIONS", "run"]

_console = Console(emoji=False, highlight=False)
_DEFAULT = MainJobConfig()
# The generator knobs of the main job, with its own defaults (MainJobConfig's generator).
RUN_OPTIONS = generator_options(_DEFAULT.generator, only=("ae_steps", "denoiser_steps", "path"))


@user_errors
@with_config_options(RUN_OPTIONS)
def run(
    out: Annotated[
        Path, typer.Option(help="Run folder: zoo, generator, evaluation and report.")
    ] = Path("runs/default"),
    fresh: Annotated[bool, typer.Option(help="Delete OUT first and start over.")] = False,
    angles: Annotated[
        str, typer.Option(help="Rotation angles: START:STOP:STEP or a comma list.")
    ] = format_values(_DEFAULT.zoo.values),
    steps: Annotated[int, typer.Option(help="Fine-tuning steps per adapter.")] = _DEFAULT.zoo.steps,
    samples: Annotated[int, typer.Option(help="Adapters generated per angle.")] = _DEFAULT.samples,
    *,
    overrides: dict[str, object],
) -> None:
    """The main job: build the rotation-LoRA zoo, train the generator, generate adapters for seen
    and held-out angles, score them against baselines, write OUT/report/report.md (resumable)."""
    if fresh and out.exists():
        shutil.rmtree(out)
    config = MainJobConfig(
        zoo=LoraZooConfig(values=parse_values(angles), steps=steps),
        generator=replace(_DEFAULT.generator, **overrides),
        samples=samples,
    )
    with StageBars(_console) as bars:
        report = run_main_job(
            out,
            config,
            on_run=lambda run: bars.advance("zoo: LoRA runs", len(config.zoo.values)),
            on_progress=lambda stage, *rest: bars.training_step(f"generator: {stage}", *rest),
            on_stage=lambda stage: bars.print(f"stage: {stage}"),
        )
    typer.echo(report.read_text())
    typer.echo(f"report: {report}")
