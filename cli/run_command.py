"""``paramgen run``: the main job on the built-in default (see ``zoo.main_job``)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.build_commands import parse_values
from cli.errors import user_errors
from cli.progress import StageBars
from zoo.builders import LoraZooConfig
from zoo.main_job import MainJobConfig, run_main_job

__all__ = ["run"]

_console = Console(emoji=False, highlight=False)
_DEFAULT = MainJobConfig()


@user_errors
def run(
    out: Annotated[
        Path, typer.Option(help="Run folder: zoo, generator, evaluation and report.")
    ] = Path("runs/default"),
    fresh: Annotated[bool, typer.Option(help="Delete OUT first and start over.")] = False,
    angles: Annotated[
        str, typer.Option(help="Rotation angles: START:STOP:STEP or a comma list.")
    ] = "-90:90:5",
    steps: Annotated[int, typer.Option(help="Fine-tuning steps per adapter.")] = _DEFAULT.zoo.steps,
    ae_steps: Annotated[
        int, typer.Option(help="Autoencoder training steps.")
    ] = _DEFAULT.generator.ae_steps,
    denoiser_steps: Annotated[
        int, typer.Option(help="Latent denoiser training steps.")
    ] = _DEFAULT.generator.denoiser_steps,
    path: Annotated[
        str, typer.Option(help="Generator path: linear, trig or ddpm.")
    ] = _DEFAULT.generator.path,
    samples: Annotated[int, typer.Option(help="Adapters generated per angle.")] = _DEFAULT.samples,
) -> None:
    """The main job: build the rotation-LoRA zoo, train the generator, generate adapters for seen
    and held-out angles, score them against baselines, write OUT/report/report.md (resumable)."""
    if fresh and out.exists():
        shutil.rmtree(out)
    generator = replace(
        _DEFAULT.generator, ae_steps=ae_steps, denoiser_steps=denoiser_steps, path=path
    )
    config = MainJobConfig(
        zoo=LoraZooConfig(values=parse_values(angles), steps=steps),
        generator=generator,
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
