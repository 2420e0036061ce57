"""``paramgen zoo …``: inspect a zoo, and move weights in and out of it."""

from __future__ import annotations

import math
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.errors import user_errors
from paramgen.errors import ParamgenError
from zoo.peft_io import export_peft_adapter, import_peft_adapter
from zoo.safetensors_io import export_row_safetensors, import_row_safetensors
from zoo.store import Zoo
from zoo.summary import summarize

__all__ = ["zoo_app", "parse_assignments"]

zoo_app = typer.Typer(
    help="Inspect a model zoo (HDF5) and import or export its weights.", no_args_is_help=True
)
_console = Console(emoji=False, highlight=False)

ZooPath = Annotated[Path, typer.Argument(help="Path of the zoo .h5 file.")]


class ExportFormat(StrEnum):
    peft = "peft"
    safetensors = "safetensors"


def _format(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4g}"


def parse_assignments(values: list[str], what: str) -> dict[str, float | list[float]]:
    """``["angle=30", "rgb=0.1,0.2"]`` → ``{"angle": 30.0, "rgb": [0.1, 0.2]}``."""
    parsed: dict[str, float | list[float]] = {}
    for item in values:
        name, sep, text = item.partition("=")
        try:
            numbers = [float(part) for part in text.split(",")]
        except ValueError:
            numbers = []
        if not sep or not name or not numbers:
            raise ParamgenError(f"{what} {item!r} must look like NAME=NUMBER or NAME=N1,N2,…")
        parsed[name] = numbers[0] if len(numbers) == 1 else numbers
    return parsed


@zoo_app.command("info")
@user_errors
def info(path: ZooPath) -> None:
    """Show each group of a zoo: rows, D, conditions, metrics, splits and base weights."""
    with Zoo.open(path) as zoo:
        summaries = summarize(zoo)
        backbones = zoo.backbones()
    _console.print(
        f"[bold]{escape(str(path))}[/]: {len(summaries)} group(s); "
        f"base weights for {escape(str(backbones or 'none'))}"
    )
    for s in summaries:
        table = Table(title=s.name, title_justify="left", show_header=False, box=box.SIMPLE)
        table.add_column("field", style="dim")
        table.add_column("value", overflow="fold")
        splits = ", ".join(f"{label} {count}" for label, count in s.splits.items())
        table.add_row("family", s.family)
        table.add_row("rows", f"{s.rows}" + (f" ({splits})" if splits else ""))
        table.add_row("D", f"{s.dim:,} parameters per row")
        for name, (lo, hi) in s.conditions.items():
            table.add_row(f"condition {name}", f"{_format(lo)} … {_format(hi)}")
        for name, mean in s.metrics.items():
            table.add_row(f"metric {name}", f"mean {_format(mean)}")
        table.add_row("base weights", f"sha256 {s.base_weights}")
        _console.print(table)


@zoo_app.command("import-peft")
@user_errors
def import_peft(
    path: ZooPath,
    adapter: Annotated[
        Path,
        typer.Argument(
            help="PEFT adapter folder (adapter_config.json + adapter_model.safetensors)."
        ),
    ],
    backbone: Annotated[str, typer.Option(help="Backbone the adapter was trained on.")],
    task: Annotated[str, typer.Option(help="Task name; the group is lora/<backbone>/<task>.")],
    condition: Annotated[
        list[str], typer.Option(help="NAME=VALUE (repeat; VALUE may be N1,N2,… for vectors).")
    ],
    metric: Annotated[list[str] | None, typer.Option(help="NAME=VALUE (repeat).")] = None,
    split: Annotated[str, typer.Option(help="train or heldout.")] = "train",
    run: Annotated[int, typer.Option(help="Training run id.")] = 0,
    step: Annotated[int, typer.Option(help="Training step of this checkpoint.")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the run.")] = 0,
    create: Annotated[bool, typer.Option(help="Create the zoo file if it does not exist.")] = False,
) -> None:
    """Append a PEFT LoRA adapter folder to a zoo as one row (the group is created if missing)."""
    conditions = parse_assignments(condition, "--condition")
    metrics = parse_assignments(metric or [], "--metric")
    zoo = Zoo.create(path) if create and not path.exists() else Zoo.open(path, mode="a")
    with zoo:
        group, row = import_peft_adapter(
            zoo,
            adapter,
            backbone=backbone,
            task=task,
            conditions=conditions,
            metrics=metrics,
            split=split,
            run=run,
            step=step,
            seed=seed,
        )
        _console.print(f"appended {adapter} as row {row} of {group.name} ({len(group)} rows)")


@zoo_app.command("import-safetensors")
@user_errors
def import_safetensors(
    path: ZooPath,
    group: Annotated[str, typer.Argument(help="Group name family/backbone/task.")],
    file: Annotated[
        Path, typer.Argument(help="A .safetensors file exported by `paramgen zoo export`.")
    ],
) -> None:
    """Append a row exported as safetensors (its conditions and metrics come from its metadata)."""
    with Zoo.open(path, mode="a") as zoo:
        row = import_row_safetensors(zoo.group(group), file)
        _console.print(f"appended {file} as row {row} of {group}")


@zoo_app.command("export")
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
