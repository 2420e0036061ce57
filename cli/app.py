"""The Typer app behind the ``paramgen`` console script."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.build_commands import build_app
from cli.evaluate_command import evaluate
from cli.generate_command import generate
from cli.inspect_commands import inspect_app
from cli.run_command import run
from cli.train_command import train
from cli.zoo_commands import zoo_app
from paramgen import __version__

__all__ = ["app", "main"]

app = typer.Typer(
    name="paramgen",
    help="paramgen — parameter-space generation: build model zoos of weights, learn their "
    "distribution, and sample new weights that load straight into a backbone.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
zoo_app.add_typer(build_app, name="build")
app.add_typer(zoo_app, name="zoo")
app.command("run")(run)
app.command("train")(train)
app.command("generate")(generate)
app.command("eval")(evaluate)
app.add_typer(inspect_app, name="inspect")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"paramgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """paramgen command line."""


def main() -> None:
    app()
