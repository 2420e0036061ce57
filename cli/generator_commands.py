"""``paramgen train | generate | eval | inspect pca``: the generator from the command line."""

from __future__ import annotations

import json
import statistics
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import torch
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from safetensors.torch import save_file

from cli.build_commands import parse_values
from cli.errors import user_errors
from cli.progress import StageBars
from cli.zoo_commands import parse_assignments
from paramgen.errors import ParamgenError
from paramgen.families import get_family
from paramgen.generator import FIT_CHECKPOINT, GeneratorConfig, ParamGenerator, config_for_family
from paramgen.generator.condition_checks import ConditionRangeWarning
from paramgen.inspect import latent_pca, save_pca
from paramgen.persistence import CONFIG_FILE
from zoo.evaluation import evaluate_generator
from zoo.novelty_report import plot_novelty
from zoo.peft_io import PeftAdapter, write_peft_adapter
from zoo.report import summarize_scores
from zoo.row_scoring import group_task
from zoo.store import Zoo, group_name
from zoo.training_set import training_set

__all__ = ["train", "generate", "evaluate", "inspect_app"]

_console = Console(emoji=False, highlight=False)
_stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
_DEFAULT = GeneratorConfig()
GeneratorDir = Annotated[
    Path, typer.Argument(help="Folder of a trained generator (config.json + model.safetensors).")
]
inspect_app = typer.Typer(
    help="Look inside a generator's latent parameter space.", no_args_is_help=True
)


class Autoencoder(StrEnum):
    conv = "conv"
    linear = "linear"


class OutputFormat(StrEnum):
    peft = "peft"
    safetensors = "safetensors"
    zoo = "zoo"


def _load(folder: Path) -> ParamGenerator:
    return ParamGenerator.from_pretrained(folder)


def _conditions(generator: ParamGenerator, assignments: list[str]) -> dict:
    """``--condition`` values; none for an unconditional generator, else a clear error."""
    if generator.condition_shapes and not assignments:
        wanted = " ".join(
            f"--condition {name}=VALUE" for name in sorted(generator.condition_shapes)
        )
        raise ParamgenError(
            f"this generator is conditioned on {sorted(generator.condition_shapes)}; pass {wanted}"
        )
    return parse_assignments(assignments, "--condition")


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


@user_errors
def train(
    zoo: Annotated[Path, typer.Argument(help="Zoo file.")],
    group: Annotated[str, typer.Option(help="Group family/backbone/task to learn.")],
    out: Annotated[Path, typer.Option(help="Folder for the trained generator.")],
    split: Annotated[
        str, typer.Option(help="Rows to learn from: train, heldout, or all.")
    ] = "train",
    path: Annotated[
        str, typer.Option(help="linear or trig (flow matching), or ddpm.")
    ] = _DEFAULT.path,
    condition: Annotated[
        str, typer.Option(help="scalar (the condition values) or style-images.")
    ] = _DEFAULT.condition,
    centre: Annotated[
        str | None,
        typer.Option(
            help="Centre of the z-scoring: tensor (one mean per tensor), or element (the mean "
            "row: for fine-tunes of one base). Default: the family's (element for dpi and mac, "
            "else tensor)."
        ),
    ] = None,
    autoencoder: Annotated[
        Autoencoder | None,
        typer.Option(
            help="conv (p-diff's 1D convolutions) or linear (exact for zoos of fewer rows than "
            "latent dimensions). Default: the family's (linear for dpi and mac, else conv)."
        ),
    ] = None,
    latent_noise: Annotated[
        float, typer.Option(help="Std of the noise added to latents in training.")
    ] = _DEFAULT.latent_noise,
    ae_steps: Annotated[int, typer.Option(help="Autoencoder training steps.")] = 1000,
    denoiser_steps: Annotated[int, typer.Option(help="Latent denoiser training steps.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the whole fit.")] = _DEFAULT.seed,
    checkpoint_every: Annotated[
        int, typer.Option(help="Save the training state every N steps (resume point).")
    ] = 100,
    force: Annotated[
        bool,
        typer.Option(help="Retrain from scratch even if OUT holds a generator or a checkpoint."),
    ] = False,
) -> None:
    """Fit a generator (autoencoder, then latent denoiser) on a zoo group and save it to OUT.

    The training state is saved to OUT/fit-checkpoint.safetensors as it goes: if the fit is
    interrupted, the same command resumes from the last checkpoint and ends with the same weights.
    """
    checkpoint = out / FIT_CHECKPOINT
    if force:
        checkpoint.unlink(missing_ok=True)
    elif (out / CONFIG_FILE).exists():
        _console.print(f"{out} already holds a trained generator; kept (pass --force to retrain)")
        return
    elif checkpoint.exists():
        _console.print(f"resuming from {checkpoint}")
    with Zoo.open(zoo) as store:
        data = training_set(store.group(group), None if split == "all" else split)
    chosen = {} if centre is None else {"centre": centre}
    if autoencoder is not None:
        chosen["ae_channels"] = () if autoencoder == Autoencoder.linear else _DEFAULT.ae_channels
    config = config_for_family(
        data.metadata.get("family"),
        **chosen,
        path=path,
        condition=condition,
        latent_noise=latent_noise,
        ae_steps=ae_steps,
        denoiser_steps=denoiser_steps,
        seed=seed,
    )
    try:
        with StageBars(_console) as bars:
            generator = ParamGenerator.fit(
                data, config, bars.training_step, checkpoint, checkpoint_every
            )
    except KeyboardInterrupt:
        _console.print(f"interrupted; run the same command again to resume from {checkpoint}")
        raise typer.Exit(130) from None
    generator.save_pretrained(out)
    checkpoint.unlink(missing_ok=True)
    _console.print(f"trained on {len(data.params)} rows of {group}; saved to {out}")


@user_errors
def generate(
    generator_dir: GeneratorDir,
    out: Annotated[Path, typer.Option(help="Output folder (peft, safetensors) or zoo file (zoo).")],
    condition: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=VALUE, e.g. rotation=30 (repeat for several; none for an unconditional "
            "generator)."
        ),
    ] = None,
    n: Annotated[int, typer.Option(help="How many parameter sets.")] = 10,
    format: Annotated[
        OutputFormat, typer.Option(help="peft folders, safetensors files, or rows of a zoo group.")
    ] = OutputFormat.peft,
    seed: Annotated[
        int, typer.Option(help="Sampling seed (eval with the same seed scores the same sets).")
    ] = 0,
    steps: Annotated[int | None, typer.Option(help="Solver steps (default: per path).")] = None,
    sampler: Annotated[
        str | None, typer.Option(help="euler, heun, euler-maruyama, ddpm or ddim.")
    ] = None,
    guidance: Annotated[
        float, typer.Option(help="Classifier-free guidance scale (1 = none).")
    ] = 1.0,
    strict: Annotated[
        bool,
        typer.Option(
            help="Refuse condition values outside the training range (default: warn, extrapolate)."
        ),
    ] = False,
) -> None:
    """Sample N parameter sets for a condition (none if unconditional) and write them out."""
    generator = _load(generator_dir)
    values = _conditions(generator, condition or [])
    with _range_warnings_printed():
        rows = generator.sample_rows(
            values, n, seed=seed, steps=steps, sampler=sampler, guidance=guidance, strict=strict
        )
    meta = generator.metadata
    if format is OutputFormat.zoo:
        family, backbone, task = meta["group"].split("/")
        with Zoo.open(out, "a") if out.exists() else Zoo.create(out) as store:
            target = store.create_group(
                family=family,
                backbone=backbone,
                task=f"{task}-generated",
                schema=generator.schema,
                conditions=generator.condition_shapes,
                family_config=meta.get("family_config", {}),
                exist_ok=True,
            )
            written = target.append(rows, conditions=values, seed=seed, split="generated")
        target_name = group_name(family, backbone, f"{task}-generated")
        _console.print(
            f"appended rows {written.start}…{written.stop - 1} to {target_name} in {out}"
        )
        return
    out.mkdir(parents=True, exist_ok=True)
    description = json.dumps({"generator": str(generator_dir), "condition": values, "seed": seed})
    for index, row in enumerate(rows):
        tensors = generator.schema.unflatten(row)
        if format is OutputFormat.peft:
            if "peft" not in get_family(meta.get("family")).export_formats:
                raise ParamgenError(
                    f"this generator makes {meta.get('family')!r} weights; use --format safetensors"
                )
            write_peft_adapter(
                out / f"sample_{index:03d}", PeftAdapter(meta["family_config"], tensors)
            )
        else:
            contiguous = {name: tensor.contiguous() for name, tensor in tensors.items()}
            save_file(
                contiguous,
                out / f"sample_{index:03d}.safetensors",
                metadata={"paramgen": description},
            )
    _console.print(f"wrote {n} {format.value} parameter sets to {out}")


@user_errors
def evaluate(
    generator_dir: GeneratorDir,
    zoo: Annotated[
        Path, typer.Argument(help="Zoo holding the generator's group and base weights.")
    ],
    values: Annotated[
        str | None, typer.Option(help="Condition values (default: every value in the group).")
    ] = None,
    n: Annotated[int, typer.Option(help="Parameter sets generated per value.")] = 20,
    seed: Annotated[int, typer.Option(help="Sampling seed (same as generate's).")] = 0,
    task: Annotated[
        str | None,
        typer.Option(
            help="The task to score with, package.module:object (default: the one the group "
            "was built for; needed for imported groups)."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the scores as JSON here, and the novelty scatters beside it."),
    ] = None,
) -> None:
    """Score generated weights per condition value through the group's family and task, next to
    the baselines (a)–(e), the memorisation baselines and the novelty figures."""
    generator = _load(generator_dir)
    with Zoo.open(zoo) as store:
        name = generator.metadata["group"]
        group = store.group(name)
        condition = next(iter(group.condition_shapes), None)
        if values:
            chosen = list(parse_values(values))
        elif condition:
            chosen = sorted(set(group.read().conditions[condition].tolist()))
        else:
            chosen = [None]
        scores = evaluate_generator(generator, store, name, chosen, n=n, seed=seed, task=task)
        metric = group_task(group, task).metric
    _console.print(score_table(scores, f"{name}: median {metric}", condition or "value"))
    summary = summarize_scores(scores)
    for split, row in summary.items():
        _console.print(
            f"{split}: generated {row['generated']:.4g} vs trained {row['trained']:.4g} "
            f"(ratio {row['generated_over_trained']:.3f})"
        )
    if out:
        out.write_text(
            json.dumps({"summary": summary, "scores": [s.as_dict() for s in scores]}, indent=1)
        )
        for path in plot_novelty(scores, out.parent, metric):
            _console.print(f"wrote {path}")


def score_table(scores: list, title: str, condition: str) -> Table:
    """Per value: medians of generated rows and of every baseline, novelty of generated rows."""
    table = Table(title=title)
    baselines = list(scores[0].baselines) if scores else []
    columns = [condition, "split", "generated", "(a) trained", "(b) nearest", "(c) noise"]
    columns += ["(d) interp", "(e) base", *baselines, "NN dist", "max IoU"]
    for column in columns:
        table.add_column(column)
    for s in scores:
        lists = [s.generated, s.trained, s.nearest_condition, s.noise_added]
        cells = [_median(x) for x in lists] + [s.interpolated, s.no_adapter]
        cells += [_median(s.baselines[b]) for b in baselines]
        cells += [_median(s.nearest_distance), _median(s.max_iou.get("generated", []))]
        label = "—" if s.value is None else f"{s.value:g}"
        table.add_row(label, s.split, *(f"{c:.4g}" for c in cells))
    return table


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@inspect_app.command("pca")
@user_errors
def inspect_pca(
    generator_dir: GeneratorDir,
    zoo: Annotated[Path, typer.Argument(help="Zoo holding the generator's training rows.")],
    out: Annotated[Path, typer.Option(help="Folder for latent_pca.png and latent_pca.csv.")],
    per_value: Annotated[int, typer.Option(help="Generated latents per condition value.")] = 4,
) -> None:
    """PCA of latents: training rows vs generated ones, coloured by condition (PNG + CSV)."""
    generator = _load(generator_dir)
    with Zoo.open(zoo) as store:
        data = training_set(store.group(generator.metadata["group"]), split=None)
    (style,) = data.conditions
    values = sorted(set(data.conditions[style].tolist()))
    generated = torch.cat([generator.sample_latents({style: v}, per_value, seed=1) for v in values])
    view = latent_pca(
        generator.encode(data.params).numpy(),
        data.conditions[style].numpy(),
        generated.numpy(),
        [v for v in values for _ in range(per_value)],
    )
    out.mkdir(parents=True, exist_ok=True)
    save_pca(view, out / "latent_pca.png", out / "latent_pca.csv", style)
    _console.print(f"wrote {out / 'latent_pca.png'} and {out / 'latent_pca.csv'}")
