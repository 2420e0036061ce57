"""Turn a user's mistake into one red line on stderr and exit status 1 — no traceback.

A fit process started by ``paramgen train --nproc N`` hands its line to the launcher instead
(torchrun's error file), which prints each distinct line once: N processes meeting the same
mistake would print it N times.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from paramgen.errors import ParamgenError

__all__ = ["LAUNCHED_VARIABLE", "user_errors"]

LAUNCHED_VARIABLE = "PARAMGEN_LAUNCHED"  # set by `paramgen train --nproc` for its processes

_stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
F = TypeVar("F", bound=Callable)


def _fail(message: str) -> None:
    error_file = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if os.environ.get(LAUNCHED_VARIABLE) and error_file:
        record = {"message": message, "timestamp": int(time.time()), "paramgen": True}
        Path(error_file).write_text(json.dumps(record))
    else:
        _stderr.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1) from None


def user_errors(command: F) -> F:
    """Decorate a CLI command so ParamgenError, a file the system refuses (missing, read-only,
    a directory where a file belongs, a full disk) and running out of memory end it with a
    one-line message."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ParamgenError as error:
            _fail(str(error))
        except OSError as error:
            if error.errno is None:  # not the system refusing a path: a bug to report whole
                raise
            where = f": {error.filename}" if error.filename else ""
            _fail(f"{error.strerror or error}{where}; check the path and its permissions")
        except MemoryError:
            _fail("not enough memory for this request; ask for less at once (e.g. a smaller --n)")

    return guarded  # type: ignore[return-value]
