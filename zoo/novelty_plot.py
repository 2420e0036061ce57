"""The accuracy-vs-novelty scatter of Zeng et al. (2025): is a generator new *and* good?

One point per model, x its novelty (nearest distance to the training rows, or max error-set IoU),
y its metric; one marker per source (generated, training, each baseline). A generator earns its
keep where its points lie beyond the baselines' trade-off: as good at the same novelty, or newer
at the same accuracy.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from paramgen.errors import ParamgenError  # noqa: E402

__all__ = ["plot_metric_vs_novelty"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def plot_metric_vs_novelty(
    points: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    path: Path | str,
    metric_name: str,
    novelty_name: str,
) -> Path:
    """Scatter ``points[label] = (novelty values, metric values)`` per label to a PNG at ``path``.

    Labels keep their order in the legend and each gets its own marker (cycling after ten).
    ``novelty_name`` and ``metric_name`` label the axes, e.g. "nearest distance (normalised)"
    and "test accuracy". Returns the path written; its folder is created if missing.
    """
    if not points:
        raise ParamgenError("points is empty; pass at least one label with its (x, y) values")
    for label, (novelty, metric) in points.items():
        if len(novelty) != len(metric):
            raise ParamgenError(
                f"points[{label!r}] has {len(novelty)} novelty values but {len(metric)} "
                f"{metric_name} values; pass one of each per model"
            )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(6.4, 4.4))
    for (label, (novelty, metric)), marker in zip(
        points.items(), itertools.cycle(_MARKERS), strict=False
    ):
        axes.scatter(novelty, metric, marker=marker, s=22, alpha=0.75, label=label)
    axes.set_xlabel(novelty_name)
    axes.set_ylabel(metric_name)
    axes.legend(fontsize=7, loc="best")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
