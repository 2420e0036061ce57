"""Turn a user's mistake into one red line on stderr and exit status 1 — no traceback."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from paramgen.errors import ParamgenError

__all__ = ["user_errors"]

_stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
F = TypeVar("F", bound=Callable)


def user_errors(command: F) -> F:
    """Decorate a CLI command so ParamgenError ends it with a one-line message."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ParamgenError as error:
            _stderr.print(f"[bold red]error:[/] {escape(str(error))}")
            raise typer.Exit(1) from None

    return guarded  # type: ignore[return-value]
