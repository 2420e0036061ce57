"""``paramgen generate``: sample parameter sets and write them with the zoo's own writers."""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from cli.config_options import describe_choices
from cli.errors import user_errors
from cli.generator_dir import GeneratorDir, load_generator
from cli.parsing import parse_assignments, parse_values
from paramgen.classifiers import NoiseAwareClassifier
from paramgen.errors import ParamgenError
from paramgen.generator import ParamGenerator
from paramgen.generator.condition_checks import ConditionRangeWarning
from paramgen.generator.latent_guidance import latent_guides
from paramgen.generator.one_more_step import check_latent_one_more_step
from paramgen.guidance import Guide
from paramgen.solvers import SAMPLERS, OneMoreStep
from zoo.generated_io import (
    GeneratedRows,
    append_generated,
    export_generated_peft,
    export_generated_safetensors,
)

__all__ = ["generate"]

_console = Console(emoji=False, highlight=False)
_stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


class OutputFormat(StrEnum):
    peft = "peft"
    safetensors = "safetensors"
    zoo = "zoo"


_FILE_WRITERS = {
    OutputFormat.peft: export_generated_peft,
    OutputFormat.safetensors: export_generated_safetensors,
}
OutOption = Annotated[
    Path, typer.Option(help="Output folder (peft, safetensors) or zoo file (zoo).")
]
ConditionOption = Annotated[
    list[str] | None,
    typer.Option(
        help="NAME=VALUE, e.g. rotation=30 (repeat for several; none for an unconditional "
        "generator)."
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        help="peft folders (zoo import-peft reads them), safetensors files (zoo "
        "import-safetensors), or rows of the zoo group <task>-generated."
    ),
]
_SAMPLERS = describe_choices({name: sampler.help for name, sampler in SAMPLERS.items()})
SamplerOption = Annotated[
    str | None, typer.Option(help=escape(f"Sampler (default: the path's). {_SAMPLERS}"))
]
GuidanceOption = Annotated[float, typer.Option(help="Classifier-free guidance scale (1 = none).")]
GuideOption = Annotated[
    list[Path] | None,
    typer.Option(
        help="Folder of a latent classifier (paramgen train-classifier) that guides sampling; "
        "repeat for several."
    ),
]
GuideWeightsOption = Annotated[
    list[str] | None,
    typer.Option(
        help="W0,W1,…: one weight per class of the --guide at the same position, e.g. 30,30 "
        "to land between the two classes, 0,10 to push to the second."
    ),
]
SeedOption = Annotated[
    int, typer.Option(help="Sampling seed (eval with the same seed scores the same sets).")
]
OneMoreStepOption = Annotated[
    Path | None,
    typer.Option(
        help="Folder of a One More Step (paramgen train-one-more-step): a learned start for a "
        "DDPM generator's sampler."
    ),
]
StrictOption = Annotated[
    bool,
    typer.Option(
        help="Refuse condition values outside the training range (default: warn, extrapolate)."
    ),
]


def _conditions(generator: ParamGenerator, assignments: list[str]) -> dict:
    """``--condition`` values; none for an unconditional generator, else a clear error."""
    if generator.condition_shapes and not assignments:
        wanted = " ".join(
            f"--condition {name}=VALUE" for name in sorted(generator.condition_shapes)
        )
        raise ParamgenError(
            f"this generator is conditioned on {sorted(generator.condition_shapes)}; pass {wanted}"
        )
    values = parse_assignments(assignments, "--condition")
    for name, value in values.items():  # unknown names: the generator names the ones it knows
        shape = generator.condition_shapes.get(name, ())
        given, wanted = (1 if isinstance(value, float) else len(value)), math.prod(shape)
        if name in generator.condition_shapes and given != wanted:
            raise ParamgenError(
                f"--condition {name} takes {wanted} number{'s' * (wanted > 1)} (shape "
                f"{list(shape)}), got {given}; give one value per element"
            )
    return values


@contextmanager
def _range_warnings_printed() -> Iterator[None]:
    """Print each ConditionRangeWarning raised inside as one ``warning:`` line on stderr."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConditionRangeWarning)
        yield
    for warning in caught:
        if isinstance(warning.message, ConditionRangeWarning):
            _stderr.print(
                f"[bold yellow]warning:[/] {escape(str(warning.message.outside))}; "
                "the generator extrapolates (pass --strict to refuse)"
            )
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )


def _guides(generator: ParamGenerator, folders: list[Path], weights: list[str]) -> list[Guide]:
    """``--guide`` classifiers, each with its ``--guide-weights`` (in the same order)."""
    if len(folders) != len(weights):
        raise ParamgenError(
            f"got {len(folders)} --guide and {len(weights)} --guide-weights; give one "
            "--guide-weights W1,W2,… (one weight per class) after each --guide"
        )
    classifiers = [NoiseAwareClassifier.from_pretrained(folder) for folder in folders]
    parsed = [parse_values(text, "--guide-weights") for text in weights]
    return latent_guides(generator, classifiers, parsed)


def _first_step(generator: ParamGenerator, folder: Path | None) -> OneMoreStep | None:
    """The ``--one-more-step`` saved in ``folder`` (if one is given), checked against
    ``generator``."""
    if folder is None:
        return None
    return check_latent_one_more_step(generator, OneMoreStep.from_pretrained(folder))


def _write(rows: GeneratedRows, format: OutputFormat, out: Path) -> str:
    """Write ``rows`` in ``format`` to ``out``; returns the line that says where they went."""
    if format is OutputFormat.zoo:
        added = append_generated(out, rows)
        return f"appended rows {added.start}…{added.stop - 1} to {rows.generated_group} in {out}"
    _FILE_WRITERS[format](rows, out)
    return f"wrote {len(rows.params)} {format.value} parameter sets to {out}"


@user_errors
def generate(
    generator_dir: GeneratorDir,
    out: OutOption,
    condition: ConditionOption = None,
    n: Annotated[int, typer.Option(help="How many parameter sets.")] = 10,
    format: FormatOption = OutputFormat.peft,
    seed: SeedOption = 0,
    steps: Annotated[int | None, typer.Option(help="Solver steps (default: per path).")] = None,
    sampler: SamplerOption = None,
    guidance: GuidanceOption = 1.0,
    strict: StrictOption = False,
    guide: GuideOption = None,
    guide_weights: GuideWeightsOption = None,
    one_more_step: OneMoreStepOption = None,
) -> None:
    """Sample N parameter sets for a condition (none if unconditional) and write them out.

    With --guide, latent classifiers (paramgen train-classifier) steer the sampler: weight on
    one class is classifier guidance; weights (w0, w1) on both classes of a binary classifier
    pull samples to where it says p(class 1) = w1/(w0+w1), between the classes (zero-shot
    interpolation). Large weights want more --steps.
    """
    generator = load_generator(generator_dir)
    values = _conditions(generator, condition or [])
    sampling = dict(seed=seed, steps=steps, sampler=sampler, guidance=guidance, strict=strict)
    sampling["guides"] = _guides(generator, guide or [], guide_weights or [])
    sampling["first_step"] = _first_step(generator, one_more_step)
    with _range_warnings_printed():
        params = generator.sample_rows(values, n, **sampling)
    rows = GeneratedRows(
        params,
        generator.schema,
        generator.metadata["group"],
        condition_shapes=generator.condition_shapes,
        conditions=values,
        family_config=generator.metadata.get("family_config", {}),
        seed=seed,
    )
    _console.print(_write(rows, format, out))
