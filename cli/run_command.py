"""``paramgen run``: the main job on the built-in default.

Until the generator lands it builds the default rotation-LoRA zoo and shows what is in it.
Re-running resumes: finished runs are kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cli.errors import user_errors
from cli.zoo_commands import info
from zoo.builders import RotationLoraConfig, build_rotation_lora_zoo

__all__ = ["run"]

_console = Console()


@user_errors
def run(
    out: Annotated[
        Path, typer.Option(help="Folder for the run's outputs (the zoo goes in out/zoo.h5).")
    ] = Path("runs/default"),
    fresh: Annotated[
        bool, typer.Option(help="Delete an existing zoo in OUT and start over.")
    ] = False,
) -> None:
    """Build the default rotation-LoRA zoo on digits-cnn (resumable) and print its summary."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "zoo.h5"
    if fresh:
        path.unlink(missing_ok=True)
    config = RotationLoraConfig()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=_console) as progress:
        bar = progress.add_task("LoRA runs", total=len(config.angles))

        def report(angle: float, best: float | None) -> None:
            outcome = "already built" if best is None else f"best accuracy {best:.3f}"
            progress.console.print(f"angle {angle:+.0f}°: {outcome}")
            progress.advance(bar)

        build_rotation_lora_zoo(path, config, on_run=report)
    info(path)
