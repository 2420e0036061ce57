"""The main job's report: summary tables, per-condition table, accuracy-vs-condition plot."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from zoo.evaluation import ConditionScores  # noqa: E402
from zoo.novelty_report import plot_novelty  # noqa: E402

__all__ = ["summarize_scores", "write_report"]

_BASELINES = (
    ("trained", "(a) trained at that value"),
    ("nearest_condition", "(b) nearest training value"),
    ("noise_added", "(c) zoo + matched noise"),
    ("interpolated", "(d) ΔW interpolation of neighbours"),
    ("no_adapter", "(e) no adapter"),
)


def _pool(scores: Sequence[ConditionScores], field: str) -> list[float]:
    values: list[float] = []
    for score in scores:
        value = getattr(score, field)
        values.extend(value if isinstance(value, list) else [value])
    return values


def summarize_scores(scores: Sequence[ConditionScores]) -> dict[str, dict[str, float]]:
    """Per split: median accuracy of generated adapters and of each baseline, pooled over values."""
    summary = {}
    for split in sorted({s.split for s in scores}):
        chosen = [s for s in scores if s.split == split]
        row = {"values": len(chosen), "generated": statistics.median(_pool(chosen, "generated"))}
        row |= {name: statistics.median(_pool(chosen, name)) for name, _ in _BASELINES}
        row["generated_over_trained"] = row["generated"] / row["trained"]
        row["median_nearest_distance"] = statistics.median(_pool(chosen, "nearest_distance"))
        summary[split] = row
    return summary


def _plot(scores: Sequence[ConditionScores], path: Path, condition: str) -> None:
    values = [s.value for s in scores]
    figure, axes = plt.subplots(figsize=(8, 4.2))
    for s in scores:
        if s.split == "heldout":
            axes.axvspan(s.value - 2.5, s.value + 2.5, color="0.9", lw=0)
    lines = {
        "generated (median)": [statistics.median(s.generated) for s in scores],
        "(a) trained (median)": [statistics.median(s.trained) for s in scores],
        "(b) nearest training value": [statistics.median(s.nearest_condition) for s in scores],
        "(d) ΔW interpolation": [s.interpolated for s in scores],
        "(e) no adapter": [s.no_adapter for s in scores],
    }
    for (label, ys), style in zip(lines.items(), ("o-", "s--", "^:", "d-.", "k-"), strict=True):
        axes.plot(values, ys, style, ms=3.5, lw=1.2, label=label)
    axes.set_xlabel(f"{condition} (grey: held-out values)")
    axes.set_ylabel("accuracy on styled test digits")
    axes.set_ylim(0, 1)
    axes.legend(fontsize=7, loc="lower center", ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _novelty_table(scores: Sequence[ConditionScores]) -> list[str]:
    """Per source, pooled over values: median accuracy, nearest distance and max IoU."""
    lines = [
        "| source | median accuracy | median distance to nearest training row | median max IoU |",
        "|---|---|---|---|",
    ]
    rows = {
        "generated": [
            _pool(scores, "generated"),
            _pool(scores, "nearest_distance"),
            [v for s in scores for v in s.max_iou.get("generated", [])],
        ],
        "training": [
            _pool(scores, "nearest_condition"),
            _pool(scores, "training_distance"),
            _pool(scores, "training_max_iou"),
        ],
    }
    for name in [*scores[0].baselines, "noise matched"] if scores else []:
        rows[name] = [
            [v for s in scores for v in {**s.baselines, "noise matched": s.noise_added}[name]],
            [v for s in scores for v in s.distances.get(name, [])],
            [v for s in scores for v in s.max_iou.get(name, [])],
        ]
    for name, columns in rows.items():
        cells = [f"{statistics.median(c):.3f}" if c else "—" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def write_report(
    folder: Path, scores: Sequence[ConditionScores], condition: str, facts: dict, pca_png: str
) -> Path:
    """``report.md``, ``accuracy_vs_condition.png`` and ``scores.json`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarize_scores(scores)
    _plot(scores, folder / "accuracy_vs_condition.png", condition)
    scatters = plot_novelty(scores, folder, "accuracy")
    (folder / "scores.json").write_text(
        json.dumps(
            {"summary": summary, "facts": facts, "scores": [s.as_dict() for s in scores]}, indent=1
        )
    )
    header = "| split | values | generated | " + " | ".join(label for _, label in _BASELINES)
    header += " | generated / trained | NN distance |"
    lines = [
        "# paramgen run report",
        "",
        *(f"- {key}: {value}" for key, value in facts.items()),
        "",
        "## Median accuracy on the styled held-out test digits",
        "",
        header,
        "|" + "---|" * (header.count("|") - 1),
    ]
    for split, row in summary.items():
        cells = [f"{row[name]:.3f}" for name, _ in _BASELINES]
        lines.append(
            f"| {split} | {row['values']} | **{row['generated']:.3f}** | "
            + " | ".join(cells)
            + f" | {row['generated_over_trained']:.3f} | {row['median_nearest_distance']:.2f} |"
        )
    lines += [
        "",
        "NN distance: median distance of a generated adapter to its nearest training row, in "
        "the generator's normalised space (0 would mean a copy).",
        "",
        f"![accuracy]({'accuracy_vs_condition.png'})",
        "",
        f"![latent PCA]({pca_png})",
        "",
        "## Memorisation baselines and novelty (Zeng et al. 2025)",
        "",
        *_novelty_table(scores),
        "",
        *(f"![novelty]({path.name})" for path in scatters),
        "",
        f"## Per {condition}",
        "",
        f"| {condition} | split | generated | (a) | (b) | (c) | (d) | (e) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in scores:
        medians = [
            statistics.median(x)
            for x in (s.generated, s.trained, s.nearest_condition, s.noise_added)
        ]
        lines.append(
            f"| {s.value:g} | {s.split} | "
            + " | ".join(f"{m:.3f}" for m in medians)
            + f" | {s.interpolated:.3f} | {s.no_adapter:.3f} |"
        )
    (folder / "report.md").write_text("\n".join(lines) + "\n")
    return folder / "report.md"
