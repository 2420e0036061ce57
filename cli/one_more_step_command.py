"""``paramgen train-one-more-step``: One More Step for a generator on a DDPM path.

The step is fit on the generator's own latents of a zoo group's rows (with their conditions),
saved as a folder that ``paramgen generate --one-more-step`` reads. It matters on schedules whose
last step keeps data (``ddpm-scaled-linear``: √ᾱ_T = 0.068); on the default linear one the
latents' last step is nearly pure noise.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.classifier_command import GroupOption, SplitOption, ZooOption
from cli.errors import user_errors
from cli.generator_dir import GeneratorDir, load_generator
from cli.progress import StageBars
from paramgen.errors import ParamgenError
from paramgen.generator.one_more_step import fit_latent_one_more_step, require_ddpm_path
from zoo.store import Zoo
from zoo.training_set import training_set

__all__ = ["train_one_more_step"]

_console = Console(emoji=False, highlight=False)


@user_errors
def train_one_more_step(
    generator_dir: GeneratorDir,
    zoo: ZooOption,
    group: GroupOption,
    out: Annotated[Path, typer.Option(help="Folder for the trained step.")],
    split: SplitOption = "train",
    steps: Annotated[int, typer.Option(help="Training steps.")] = 3000,
    width: Annotated[int, typer.Option(help="Hidden width of the step's MLP.")] = 128,
    guidance: Annotated[
        float, typer.Option(help="Classifier-free guidance of the step when it samples (1 = none).")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the weights and the noise.")] = 0,
) -> None:
    """Fit One More Step on a DDPM generator's latents (for generate --one-more-step)."""
    if steps < 1 or width < 1:
        raise ParamgenError(f"--steps and --width must be >= 1, got {steps} and {width}")
    if not math.isfinite(guidance):
        raise ParamgenError(f"--guidance must be a finite number, got {guidance}")
    generator = load_generator(generator_dir)
    require_ddpm_path(generator)  # before the bars start
    with Zoo.open(zoo) as store:
        data = training_set(store.group(group), None if split == "all" else split)
        with StageBars(_console) as bars:
            step = fit_latent_one_more_step(
                generator,
                data,
                width=width,
                steps=steps,
                seed=seed,
                on_step=lambda done, loss: bars.set(
                    "one more step", steps, done, f"loss {loss:.4f}"
                ),
            )
    step.guidance_scale = guidance
    step.save_pretrained(out)
    _console.print(
        f"fit One More Step ({sum(p.numel() for p in step.parameters()):,} parameters) on "
        f"{len(data.params)} rows of {group}; saved to {out}"
    )
