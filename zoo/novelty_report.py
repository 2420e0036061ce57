"""Every evaluation's accuracy-vs-novelty scatters: generated rows, training rows, baselines."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from zoo.evaluation import ConditionScores
from zoo.novelty_plot import plot_metric_vs_novelty

__all__ = ["plot_novelty"]


def _pooled(scores: Sequence[ConditionScores], novelty: str) -> dict[str, tuple[list, list]]:
    """label → (novelty, metric) over every value; ``novelty`` is "distance" or "iou"."""
    points: dict[str, tuple[list, list]] = {}

    def add(label: str, xs: list[float], ys: list[float]) -> None:
        if xs and len(xs) == len(ys):
            points.setdefault(label, ([], []))
            points[label][0].extend(xs)
            points[label][1].extend(ys)

    for s in scores:
        figures = s.distances if novelty == "distance" else s.max_iou
        own = s.training_distance if novelty == "distance" else s.training_max_iou
        add("generated", figures.get("generated", []), s.generated)
        add("training", own, s.nearest_condition)
        for name, values in {**s.baselines, "noise matched": s.noise_added}.items():
            add(name, figures.get(name, []), values)
    return points


def plot_novelty(scores: Sequence[ConditionScores], folder: Path, metric: str) -> list[Path]:
    """``<metric>_vs_distance.png`` (nearest training row, normalised space) and, where the task
    knows wrong examples, ``<metric>_vs_iou.png`` (max error-set IoU) in ``folder``."""
    written = [
        plot_metric_vs_novelty(
            _pooled(scores, "distance"),
            folder / f"{metric}_vs_distance.png",
            metric,
            "distance to the nearest training row (normalised; training: nearest other)",
        )
    ]
    iou = _pooled(scores, "iou")
    if iou:
        written.append(
            plot_metric_vs_novelty(
                iou, folder / f"{metric}_vs_iou.png", metric, "max error-set IoU with training"
            )
        )
    return written
