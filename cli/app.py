"""The Typer app behind the ``paramgen`` console script.

Sub-commands are imported only when the command line names one (``cli.lazy_group``): their
modules import torch, peft and scikit-learn, seconds that ``--help`` and ``--version`` skip.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.lazy_group import LazyCommand, lazy_group
from paramgen import __version__

__all__ = ["app", "main"]

_COMMANDS = lazy_group(
    LazyCommand(
        "run",
        "cli.run_command:run",
        "The main job: build the rotation-LoRA zoo, train the generator, generate adapters for "
        "seen\nand held-out angles, score them against baselines, write OUT/report/report.md "
        "(resumable).",
    ),
    LazyCommand(
        "train",
        "cli.train_command:train",
        "Fit a generator (autoencoder, then latent denoiser) on a zoo group and save it to OUT.",
    ),
    LazyCommand(
        "generate",
        "cli.generate_command:generate",
        "Sample N parameter sets for a condition (none if unconditional) and write them out.",
    ),
    LazyCommand(
        "train-classifier",
        "cli.classifier_command:train_classifier",
        "Train a noise-aware classifier of a generator's latents (for generate --guide).",
    ),
    LazyCommand(
        "train-one-more-step",
        "cli.one_more_step_command:train_one_more_step",
        "Fit One More Step on a DDPM generator's latents (for generate --one-more-step).",
    ),
    LazyCommand(
        "eval",
        "cli.evaluate_command:evaluate",
        "Score generated weights per condition value through the group's family and task, next "
        "to\nthe baselines (a)–(e), the memorisation baselines and the novelty figures.",
    ),
    LazyCommand(
        "zoo",
        "cli.zoo_commands:zoo_app",
        "Inspect a model zoo (HDF5) and import or export its weights.",
    ),
    LazyCommand(
        "inspect",
        "cli.inspect_commands:inspect_app",
        "Look inside a generator's latent parameter space.",
    ),
)

app = typer.Typer(
    name="paramgen",
    help="paramgen — parameter-space generation: build model zoos of weights, learn their "
    "distribution, and sample new weights that load straight into a backbone.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=_COMMANDS,
)


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


if __name__ == "__main__":  # python -m cli.app: what torchrun runs on each process of a fit
    main()
