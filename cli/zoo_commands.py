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
from cli.import_commands import import_peft, import_safetensors
from cli.parsing import parse_spec
from cli.zoo_files import CreateOption, ZooPath, open_for_writing
from zoo.backbone_io import read_state_dict, store_backbone_weights
from zoo.peft_io import export_peft_adapter
from zoo.safetensors_io import export_row_safetensors
from zoo.store import Zoo
from zoo.summary import BackboneSummary, GroupSummary, summarize, summarize_backbones

__all__ = ["zoo_app"]

zoo_app = typer.Typer(
    help="Inspect a model zoo (HDF5) and import or export its weights.", no_args_is_help=True
)
_console = Console(emoji=False, highlight=False)


class ExportFormat(StrEnum):
    peft = "peft"
    safetensors = "safetensors"


def _format(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.4g}"


def _group_table(s: GroupSummary) -> Table:
    """One group: family, rows per split, D, condition ranges, metric means, base weights."""
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
    return table


def _backbones_table(stored: list[BackboneSummary]) -> Table:
    """The stored base weights: name, sha256, tensors and values."""
    table = Table(title="base weights", title_justify="left", show_header=False, box=box.SIMPLE)
    table.add_column("backbone", style="dim")
    table.add_column("value", overflow="fold")
    for b in stored:
        table.add_row(escape(b.name), f"sha256 {b.sha256}")
        table.add_row("", f"{b.tensors} tensors, {b.values:,} values")
    return table


@zoo_app.command("info")
@user_errors
def info(path: ZooPath) -> None:
    """Show each group of a zoo: rows, D, conditions, metrics, splits and base weights."""
    with Zoo.open(path) as zoo:
        summaries = summarize(zoo)
        stored = summarize_backbones(zoo)
    backbones = [b.name for b in stored]
    _console.print(
        f"[bold]{escape(str(path))}[/]: {len(summaries)} group(s); "
        f"base weights for {escape(str(backbones or 'none'))}"
    )
    for s in summaries:
        _console.print(_group_table(s))
    if stored:
        _console.print(_backbones_table(stored))


zoo_app.command("import-peft")(import_peft)


@zoo_app.command("store-backbone")
@user_errors
def store_backbone(
    path: ZooPath,
    name: Annotated[str, typer.Argument(help="Backbone name, as in import-peft --backbone NAME.")],
    weights: Annotated[
        Path,
        typer.Argument(
            help="A plain state-dict .safetensors file, as "
            "safetensors.torch.save_file(model.state_dict(), path) writes it."
        ),
    ],
    spec: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE to record with the weights (repeat), e.g. arch=mlp-2x64."),
    ] = None,
    create: CreateOption = False,
) -> None:
    """Store a backbone's base weights under /backbones/NAME with their sha256 (idempotent).

    The sha256 covers the tensors' names, shapes, dtypes and bytes — not the file's bytes.
    """
    given = {"file": weights.name} | parse_spec(spec or [])
    tensors = read_state_dict(weights)
    with open_for_writing(path, create) as zoo:
        stored = store_backbone_weights(zoo, name, tensors, given)
    verb = "already held identical" if stored.already_stored else "stored"
    _console.print(
        f"{escape(str(path))}: {verb} base weights of backbone {escape(name)} "
        f"({stored.tensors} tensors, {stored.values:,} values)",
        soft_wrap=True,
    )
    _console.print(f"sha256 {stored.sha256}", soft_wrap=True)


zoo_app.command("import-safetensors")(import_safetensors)


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
