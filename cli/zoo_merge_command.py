"""``paramgen zoo merge``: join a build's shard files (``--shards DIR``) into its zoo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from cli.errors import user_errors
from cli.progress import StageBars
from cli.zoo_files import ZooPath
from zoo.shards import ShardMerge

__all__ = ["merge"]

_console = Console(emoji=False, highlight=False)


@user_errors
def merge(
    path: ZooPath,
    shards: Annotated[
        Path, typer.Argument(help="The shard directory the build was given (--shards DIR).")
    ],
) -> None:
    """Append the runs of a build's shard files to the zoo it was built for.

    Nothing is written while a shard listed in DIR/shards.json is missing (copy it in from the
    node that wrote it), a shard belongs to another group or base weights, or a planned run is
    in no shard. Runs already in the zoo are skipped, so an interrupted merge is run again.
    """
    with ShardMerge.open(path, shards) as merge, StageBars(_console) as bars:
        report = merge.run(lambda: bars.advance("runs", len(merge.pending)))
    twice = f"; {report.duplicates} found twice, taken once" if report.duplicates else ""
    _console.print(
        f"{escape(str(path))}: merged {report.runs} runs ({report.rows} rows) from "
        f"{report.shards} shards; {report.already_merged} were already in the zoo{twice}. "
        "The shard files are no longer needed.",
        soft_wrap=True,
    )
