"""``paramgen train-classifier``: a noise-aware classifier of a generator's latents, for guidance.

Classes are cut from one scalar condition of a zoo group at ``--boundaries`` (e.g. rotation < 0
vs ≥ 0); the rows are encoded by the generator, noised along its path, and the classifier is
saved as a folder that ``paramgen generate --guide`` reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.errors import user_errors
from cli.generator_dir import GeneratorDir, load_generator
from cli.parsing import parse_values
from cli.progress import StageBars
from paramgen.classifiers import ClassifierFit, condition_classes
from paramgen.errors import ParamgenError
from paramgen.generator import ParamGenerator, TrainingSet
from paramgen.generator.latent_guidance import fit_latent_classifier
from zoo.store import Zoo
from zoo.training_set import training_set

__all__ = ["train_classifier"]

_console = Console(emoji=False, highlight=False)


ZooOption = Annotated[Path, typer.Option(help="Zoo file holding the labelled rows.")]
GroupOption = Annotated[str, typer.Option(help="Group family/backbone/task of the rows.")]
ByOption = Annotated[str, typer.Option(help="The scalar condition whose value sets the class.")]
BoundariesOption = Annotated[
    str,
    typer.Option(
        help="Where one class ends and the next begins, e.g. 0 (two classes: below 0, from 0) "
        "or -10,10 (three)."
    ),
]
OutOption = Annotated[Path, typer.Option(help="Folder for the trained classifier.")]
SplitOption = Annotated[str, typer.Option(help="Rows to learn from: train, heldout, or all.")]
HeldoutOption = Annotated[
    float, typer.Option(help="Share of the rows kept out to calibrate the temperature.")
]


def _fit(generator: ParamGenerator, data: TrainingSet, by: str, boundaries: str, **training):
    """The classifier fit on ``data``'s rows, classes cut from condition ``by``, with a bar."""
    if by not in data.conditions:
        raise ParamgenError(
            f"{data.metadata['group']} has no condition {by!r}; its conditions: "
            f"{sorted(data.conditions)}"
        )
    cuts = parse_values(boundaries, "--boundaries")
    classes = condition_classes(data.conditions[by], by, cuts)
    steps = training["steps"]
    with StageBars(_console) as bars:
        return fit_latent_classifier(
            generator,
            data.params,
            classes.labels,
            class_names=classes.names,
            on_step=lambda step, _: bars.set("classifier", steps, step),
            **training,
        )


def _summary(fit: ClassifierFit, rows: int, group: str, out: Path) -> str:
    quality = (
        f"held-out accuracy {fit.heldout_accuracy:.3f} on noised latents, temperature "
        f"{fit.temperature:.2f}; "
        if fit.heldout_rows
        else ""
    )
    names = ", ".join(fit.classifier.class_names)
    return f"trained a classifier of {names} on {rows} rows of {group}; {quality}saved to {out}"


@user_errors
def train_classifier(
    generator_dir: GeneratorDir,
    zoo: ZooOption,
    group: GroupOption,
    by: ByOption,
    boundaries: BoundariesOption,
    out: OutOption,
    split: SplitOption = "train",
    steps: Annotated[int, typer.Option(help="Training steps.")] = 2000,
    heldout: HeldoutOption = 0.2,
    seed: Annotated[int, typer.Option(help="Seed of the split, the weights and the noise.")] = 0,
) -> None:
    """Train a noise-aware classifier of a generator's latents (for generate --guide)."""
    if steps < 1:
        raise ParamgenError(f"--steps must be >= 1, got {steps}")
    generator = load_generator(generator_dir)
    with Zoo.open(zoo) as store:
        data = training_set(store.group(group), None if split == "all" else split)
        fit = _fit(generator, data, by, boundaries, steps=steps, heldout=heldout, seed=seed)
    fit.classifier.save_pretrained(out)
    _console.print(_summary(fit, len(data.params), group, out))
