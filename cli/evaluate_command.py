"""``paramgen eval``: score generated weights per condition value next to the baselines."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.errors import user_errors
from cli.generator_dir import GeneratorDir, load_generator
from cli.parsing import parse_values
from zoo.evaluation import ConditionScores, evaluate_generator
from zoo.group import ZooGroup
from zoo.novelty_report import plot_novelty
from zoo.report import summarize_scores
from zoo.row_scoring import group_task
from zoo.store import Zoo

__all__ = ["evaluate", "score_table"]

_console = Console(emoji=False, highlight=False)
TaskOption = Annotated[
    str | None,
    typer.Option(
        help="The task to score with, package.module:object (default: the one the group "
        "was built for; needed for imported groups)."
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option(help="Write the scores as JSON here, and the novelty scatters beside it."),
]


def _values(group: ZooGroup, condition: str | None, values: str | None) -> list:
    """The values to score: those given, else every value in the group (None: unconditional)."""
    if values:
        return list(parse_values(values))
    if condition:
        return sorted(set(group.read().conditions[condition].tolist()))
    return [None]


def _write_scores(out: Path, scores: list[ConditionScores], summary: dict, metric: str) -> None:
    """The scores as JSON at ``out``, the novelty figures beside it."""
    out.write_text(
        json.dumps({"summary": summary, "scores": [s.as_dict() for s in scores]}, indent=1)
    )
    for path in plot_novelty(scores, out.parent, metric):
        _console.print(f"wrote {path}")


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
    task: TaskOption = None,
    out: OutOption = None,
) -> None:
    """Score generated weights per condition value through the group's family and task, next to
    the baselines (a)–(e), the memorisation baselines and the novelty figures."""
    generator = load_generator(generator_dir)
    with Zoo.open(zoo) as store:
        name = generator.metadata["group"]
        group = store.group(name)
        condition = next(iter(group.condition_shapes), None)
        chosen = _values(group, condition, values)
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
        _write_scores(out, scores, summary, metric)


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
