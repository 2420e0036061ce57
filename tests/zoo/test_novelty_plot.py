"""The accuracy-vs-novelty scatter writes a PNG and refuses malformed points."""

import pytest

from paramgen.errors import ParamgenError
from zoo.novelty_plot import plot_metric_vs_novelty


def test_plot_writes_a_png(tmp_path):
    points = {
        "generated": ([0.1, 0.2, 0.3], [0.9, 0.8, 0.85]),
        "training": ([0.0, 0.0], [0.95, 0.93]),
        "noise ×1": ([1.0], [0.5]),
    }
    path = plot_metric_vs_novelty(
        points, tmp_path / "sub" / "novelty.png", "accuracy", "NN distance"
    )
    assert path == tmp_path / "sub" / "novelty.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_plot_refuses_mismatched_or_missing_points(tmp_path):
    with pytest.raises(ParamgenError, match="'generated'.* 2 novelty values but 1 accuracy"):
        plot_metric_vs_novelty(
            {"generated": ([0.1, 0.2], [0.9])}, tmp_path / "a.png", "accuracy", "x"
        )
    with pytest.raises(ParamgenError, match="points is empty"):
        plot_metric_vs_novelty({}, tmp_path / "a.png", "accuracy", "x")
