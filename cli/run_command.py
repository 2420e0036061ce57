"""``paramgen run``: the main job on the built-in default.

Until the generator lands it builds the default rotation-LoRA zoo (37 angles from −90° to 90°,
alternating 15° bins held out) and shows what is in it. Re-running resumes: finished runs are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.build_commands import build_lora_with_progress, parse_values
from cli.errors import user_errors
from cli.zoo_commands import info
from zoo.builders import LoraZooConfig

__all__ = ["run"]


@user_errors
def run(
    out: Annotated[
        Path, typer.Option(help="Folder for the run's outputs (the zoo goes in out/zoo.h5).")
    ] = Path("runs/default"),
    fresh: Annotated[
        bool, typer.Option(help="Delete an existing zoo in OUT and start over.")
    ] = False,
    angles: Annotated[
        str, typer.Option(help="Rotation angles: START:STOP:STEP or a comma list.")
    ] = "-90:90:5",
    steps: Annotated[
        int, typer.Option(help="Fine-tuning steps per adapter.")
    ] = LoraZooConfig.steps,
) -> None:
    """Build the default rotation-LoRA zoo on digits-cnn (resumable) and print its summary."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "zoo.h5"
    if fresh:
        path.unlink(missing_ok=True)
    build_lora_with_progress(path, LoraZooConfig(values=parse_values(angles), steps=steps))
    info(path)
