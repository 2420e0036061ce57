"""``paramgen zoo info``: each group of a zoo, summarised from its metadata (``zoo.summary``)."""

from __future__ import annotations

import math

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cli.errors import user_errors
from cli.zoo_files import ZooPath
from zoo.store import Zoo
from zoo.summary import BackboneSummary, GroupSummary, summarize, summarize_backbones

__all__ = ["info"]

_console = Console(emoji=False, highlight=False)


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
