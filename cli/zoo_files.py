"""What the zoo commands share: the zoo-file argument, ``--create``, and opening for writing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from paramgen.errors import ParamgenError
from zoo.store import Zoo

__all__ = ["CreateOption", "ZooPath", "open_for_writing"]

ZooPath = Annotated[Path, typer.Argument(help="Path of the zoo .h5 file.")]
CreateOption = Annotated[bool, typer.Option(help="Create the zoo file if it does not exist.")]


@contextmanager
def open_for_writing(path: Path, create: bool) -> Iterator[Zoo]:
    """The zoo opened for writing; with ``create``, a new file where none exists — removed again
    when the command fails with a user error, so a refused import leaves no empty zoo behind."""
    new = create and not path.exists()
    try:
        with Zoo.create(path) if new else Zoo.open(path, mode="a") as zoo:
            yield zoo
    except ParamgenError:
        if new:
            path.unlink(missing_ok=True)
        raise
