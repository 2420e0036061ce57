"""What every ``paramgen eval --out`` JSON must hold, whatever the family and task: shared by the
CLI tests of each family (``from tests.eval_checks import check_eval_json``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from typer.testing import CliRunner

from cli.app import app

BASELINES = {"noise x0.1", "noise x1", "average of 16", "Gaussian fit"}


def check_eval_json(
    scores: dict,
    values: list[float | None],
    n: int,
    metric_range: tuple[float, float],
    wrong_examples: bool,
) -> None:
    """One entry per value, ``n`` generated rows each, the metric of generated rows and of every
    baseline finite and within ``metric_range``, nearest-row distances finite and >= 0, and the
    max error-set IoU in [0, 1] where the task has ``wrong_examples`` (classification), else none.
    """
    low, high = metric_range

    def in_range(metrics: list[float]) -> bool:
        return all(math.isfinite(m) and low <= m <= high for m in metrics)

    assert [s["value"] for s in scores["scores"]] == values
    for s in scores["scores"]:
        assert len(s["generated"]) == n and in_range(s["generated"]), s["generated"]
        assert s["trained"] and in_range(s["trained"]), s["trained"]
        for field in ("nearest_condition", "noise_added"):
            assert s[field] and in_range(s[field]), (field, s[field])
        assert s["baselines"].keys() == BASELINES
        for name, metrics in s["baselines"].items():
            assert len(metrics) == n and in_range(metrics), (name, metrics)
        rows = {
            "generated": n,
            **dict.fromkeys(BASELINES, n),
            "noise matched": len(s["noise_added"]),
        }
        assert s["distances"].keys() == rows.keys()
        for name, distances in s["distances"].items():
            assert len(distances) == rows[name], name
            assert all(math.isfinite(d) and d >= 0 for d in distances), (name, distances)
        assert len(s["nearest_distance"]) == n
        if wrong_examples:
            assert s["max_iou"].keys() == rows.keys()
            for name, ious in s["max_iou"].items():
                assert len(ious) == rows[name] and all(0 <= i <= 1 for i in ious), (name, ious)
        else:
            assert s["max_iou"] == {}
        # (d) interpolation needs a condition; (e) the bare base, where the family has one.
        assert (s["value"] is None) == math.isnan(s["interpolated"])
        if s["value"] is not None:
            assert in_range([s["interpolated"]])
        assert math.isnan(s["no_adapter"]) or in_range([s["no_adapter"]])
    for row in scores["summary"].values():
        assert in_range([row["generated"], row["trained"]])


def train_then_eval(zoo: Path, group: str, value: str, n: int, folder: Path) -> dict:
    """``paramgen train`` a tiny generator (3 + 3 steps) on ``group``, then ``paramgen eval`` it
    at ``value`` with ``n`` rows; returns the scores JSON (both commands must succeed)."""
    runner, generator, out = CliRunner(), folder / "generator", folder / "scores.json"
    args = ["train", str(zoo), "--group", group, "--out", str(generator)]
    result = runner.invoke(app, [*args, "--ae-steps", "3", "--denoiser-steps", "3"])
    assert result.exit_code == 0, result.output
    args = ["eval", str(generator), str(zoo), "--values", value, "--n", str(n), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text())
