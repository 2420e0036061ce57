"""``paramgen zoo check`` (fsck for a zoo) and ``paramgen zoo upgrade`` (checksums for an old one).

``check`` reads every row and base-weights tensor against its checksum and prints each damaged
row by index; it exits 1 when anything is damaged. ``--salvage OUT`` then copies every intact row
and base weight into a new zoo. ``upgrade`` gives a version-1 zoo (rows without checksums) its
checksums, computed from the rows as they are now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from cli.errors import user_errors
from cli.zoo_files import ZooPath
from paramgen.errors import ParamgenError
from zoo.integrity import ZooCheck, check_zoo, salvage_zoo, upgrade_zoo

__all__ = ["check", "upgrade"]

_console = Console(emoji=False, highlight=False)
_SHOWN_ROWS = 50


def _rows(rows: list[int]) -> str:
    shown = ", ".join(map(str, rows[:_SHOWN_ROWS]))
    return shown + (f" … ({len(rows)} in all)" if len(rows) > _SHOWN_ROWS else "")


def _print(report: ZooCheck) -> None:
    unchecked = report.version == 1
    for group in report.groups:
        name = escape(group.name)
        if group.unreadable:
            _console.print(f"{name}: [bold red]unreadable[/] ({escape(group.unreadable)})")
        elif group.damaged:
            _console.print(
                f"{name}: [bold red]{len(group.damaged)} of {group.rows} rows damaged[/]: "
                f"{_rows(group.damaged)}"
            )
        else:
            _console.print(f"{name}: {group.rows} rows intact" + (" (readable)" * unchecked))
    for name, why in report.damaged_backbones.items():
        _console.print(f"base weights {escape(name)}: [bold red]damaged[/] ({escape(why)})")
    if unchecked:
        _console.print(
            "this zoo is format version 1: its rows have no checksums, so only unreadable rows "
            f"are found; run `paramgen zoo upgrade {escape(str(report.path))}`"
        )


@user_errors
def check(
    path: ZooPath,
    salvage: Annotated[
        Path | None,
        typer.Option(help="Copy every intact row and base weight into this new zoo file."),
    ] = None,
) -> None:
    """Check every row and base weight of a zoo against its checksum; exit 1 if any is damaged."""
    if salvage is not None and salvage.exists():
        raise ParamgenError(f"--salvage {salvage} already exists; give a new file")
    report = check_zoo(path)
    _print(report)
    if salvage is not None:
        salvage_zoo(path, salvage, report)
        _console.print(f"copied the intact rows into {escape(str(salvage))}")
    if not report.clean:
        raise typer.Exit(1)


@user_errors
def upgrade(path: ZooPath) -> None:
    """Add row checksums to a version-1 zoo (from its rows as they are now); then it is writable."""
    done = upgrade_zoo(path)
    if not done:
        _console.print(f"{escape(str(path))} already carries checksums (format version 2)")
    for group, rows in done:
        _console.print(f"{escape(group)}: checksums for {rows} rows")
