"""``paramgen zoo export``: one row of a group as a PEFT adapter folder or a safetensors file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.errors import user_errors
from cli.zoo_files import ZooPath
from zoo.peft_io import export_peft_adapter
from zoo.safetensors_io import export_row_safetensors
from zoo.store import Zoo

__all__ = ["export"]

_console = Console(emoji=False, highlight=False)


class ExportFormat(StrEnum):
    peft = "peft"
    safetensors = "safetensors"


@user_errors
def export(
    path: ZooPath,
    group: Annotated[str, typer.Argument(help="Group name family/backbone/task.")],
    out: Annotated[Path, typer.Option(help="Output folder (peft) or .safetensors file.")],
    row: Annotated[int, typer.Option(help="Row index (negative counts from the end).")] = 0,
    format: Annotated[
        ExportFormat,
        typer.Option(
            help="peft: an adapter folder for PeftModel.from_pretrained; "
            "safetensors: one file with metadata."
        ),
    ] = ExportFormat.peft,
) -> None:
    """Write one row of a group as a PEFT adapter folder or a safetensors file."""
    with Zoo.open(path) as zoo:
        chosen = zoo.group(group)
        if format is ExportFormat.peft:
            written = export_peft_adapter(chosen, row, out)
        else:
            written = export_row_safetensors(chosen, row, out)
    _console.print(f"wrote {written}")
