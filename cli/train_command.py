"""``paramgen train``: fit a generator on a zoo group; its options are GeneratorConfig's fields."""

from __future__ import annotations

import warnings
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import torch
import typer
from rich.console import Console
from rich.markup import escape

from cli.config_options import with_config_options
from cli.distributed import launch, process_group, relaunched_arguments, under_torchrun
from cli.errors import user_errors
from cli.generator_options import generator_options
from cli.progress import StageBars
from paramgen.errors import ParamgenError
from paramgen.generator import FIT_CHECKPOINT, GeneratorConfig, ParamGenerator, config_for_family
from paramgen.generator.collective import Collective
from paramgen.generator.config import TrainingSet
from paramgen.persistence import CONFIG_FILE
from zoo.group import ZooGroup
from zoo.store import Zoo
from zoo.training_set import training_set

__all__ = ["TRAIN_OPTIONS", "train"]

_console = Console(emoji=False, highlight=False)
_stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
# Every GeneratorConfig field; an option left out keeps the family's default (config_for_family).
TRAIN_OPTIONS = generator_options(GeneratorConfig(), family_notes=True)


class Autoencoder(StrEnum):
    conv = "conv"
    linear = "linear"


AutoencoderOption = Annotated[
    Autoencoder | None,
    typer.Option(
        help="Shorthand for --ae-channels: conv (p-diff's 1D convolutions) or linear (exact "
        "for zoos of fewer rows than latent dimensions). Default: the family's."
    ),
]
NprocOption = Annotated[
    int,
    typer.Option(
        help="Fit on N processes of this machine (DistributedDataParallel over gloo, launched "
        "with torchrun; each reads its share of the rows). 1: in this process."
    ),
]
ForceOption = Annotated[
    bool,
    typer.Option(help="Retrain from scratch even if OUT holds a generator or a checkpoint."),
]
UnconditionalOption = Annotated[
    bool,
    typer.Option(
        help="Ignore the group's conditions: learn the distribution of all its rows (to steer "
        "later with generate --guide)."
    ),
]


def _ready_to_fit(out: Path, checkpoint: Path, force: bool) -> bool:
    """False when OUT already holds a generator (kept); else clears or announces the checkpoint."""
    if force:
        checkpoint.unlink(missing_ok=True)
    elif (out / CONFIG_FILE).exists():
        _console.print(f"{out} already holds a trained generator; kept (pass --force to retrain)")
        return False
    elif checkpoint.exists():
        _console.print(f"resuming from {checkpoint}")
    return True


def _config(
    family: str | None, overrides: dict, autoencoder: Autoencoder | None
) -> GeneratorConfig:
    """The family's generator config with the given options; ``--autoencoder`` names a channel
    layout: linear (no conv stages) or conv (GeneratorConfig's)."""
    if autoencoder is not None:
        if "ae_channels" in overrides:
            raise ParamgenError("give --autoencoder or --ae-channels, not both")
        linear = autoencoder is Autoencoder.linear
        overrides = {**overrides, "ae_channels": () if linear else GeneratorConfig().ae_channels}
    return config_for_family(family, **overrides)


def _training_data(
    group: ZooGroup, split: str, unconditional: bool, seed: int, collective: Collective
) -> TrainingSet:
    """The rows to fit on: of ``split`` ("all": every row), this process's share of them in a
    distributed fit, without their conditions if ``unconditional``."""
    share = (collective.rank, collective.world, seed) if collective.world > 1 else None
    data = training_set(group, None if split == "all" else split, share=share)
    return replace(data, conditions={}) if unconditional else data


def _fit(
    data: TrainingSet,
    config: GeneratorConfig,
    checkpoint: Path,
    every: int,
    collective: Collective,
) -> ParamGenerator:
    """The fitted generator, with progress bars; Ctrl-C ends with the resume hint (status 130).
    A warning from the fit is one ``warning:`` line on stderr, printed when it is raised."""
    try:
        with StageBars(_console) as bars, warnings.catch_warnings():
            warnings.showwarning = lambda message, *_: _stderr.print(
                f"[bold yellow]warning:[/] {escape(str(message))}"
            )
            progress = bars.training_step
            return ParamGenerator.fit(data, config, progress, checkpoint, every, collective)
    except KeyboardInterrupt:
        _console.print(f"interrupted; run the same command again to resume from {checkpoint}")
        raise typer.Exit(130) from None


@user_errors
@with_config_options(TRAIN_OPTIONS)
def train(
    zoo: Annotated[Path, typer.Argument(help="Zoo file.")],
    group: Annotated[str, typer.Option(help="Group family/backbone/task to learn.")],
    out: Annotated[Path, typer.Option(help="Folder for the trained generator.")],
    split: Annotated[
        str, typer.Option(help="Rows to learn from: train, heldout, or all.")
    ] = "train",
    autoencoder: AutoencoderOption = None,
    checkpoint_every: Annotated[
        int, typer.Option(help="Save the training state every N steps (resume point).")
    ] = 100,
    force: ForceOption = False,
    unconditional: UnconditionalOption = False,
    nproc: NprocOption = 1,
    *,
    overrides: dict[str, object],
) -> None:
    """Fit a generator (autoencoder, then latent denoiser) on a zoo group and save it to OUT.

    The training state is saved to OUT/fit-checkpoint.safetensors as it goes: if the fit is
    interrupted, the same command resumes from the last checkpoint and ends with the same weights.
    """
    checkpoint = out / FIT_CHECKPOINT
    if nproc != 1 and not under_torchrun():
        raise typer.Exit(launch(nproc, relaunched_arguments("train", "--nproc")))
    with process_group() as collective:
        _console.quiet = collective.rank > 0  # one report, from the first process
        if not _ready_to_fit(out, checkpoint, force):
            return
        with Zoo.open(zoo) as store:  # open while fitting: large training sets stream from it
            chosen = store.group(group)
            config = _config(chosen.family, overrides, autoencoder)
            data = _training_data(chosen, split, unconditional, config.seed, collective)
            generator = _fit(data, config, checkpoint, checkpoint_every, collective)
        count = int(collective.sum(torch.tensor(len(data.params))))
        if collective.rank == 0:
            generator.save_pretrained(out)
            checkpoint.unlink(missing_ok=True)
    _console.print(f"trained on {count} rows of {group}; saved to {out}")
