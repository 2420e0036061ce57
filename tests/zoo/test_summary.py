"""``zoo info``'s summary comes from attributes and the small per-row columns: it shows rows,
splits, D, condition ranges, metric means and base weights, and reads no row of params."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import zoo.group
from cli.app import app
from paramgen.schema import ParamSchema
from zoo.store import Zoo
from zoo.summary import summarize, summarize_backbones

PROC_IO = Path("/proc/self/io")


def _zoo(path: Path, rows: int, dim: int) -> Path:
    """One group lora/toy/rot of ``rows`` random rows (angle, accuracy; every 4th row held out,
    the last accuracy not measured) and the backbone's base weights."""
    schema = ParamSchema.from_state_dict({"w": torch.zeros(dim)})
    rng = np.random.default_rng(0)
    with Zoo.create(path) as store:
        group = store.create_group(
            family="lora",
            backbone="toy",
            task="rot",
            schema=schema,
            conditions={"angle": ()},
            metrics=["accuracy"],
        )
        accuracy = np.linspace(0.5, 0.9, rows)
        accuracy[-1] = np.nan
        group.append(
            rng.standard_normal((rows, dim), dtype=np.float32),
            conditions={"angle": np.linspace(-30, 60, rows)},
            metrics={"accuracy": accuracy},
            split=["heldout" if i % 4 == 0 else "train" for i in range(rows)],
        )
        store.store_backbone("toy", {"w": torch.ones(dim)}, {})
    return path


@pytest.fixture
def params_reads(monkeypatch) -> list[int]:
    """Rows of params read through ``read_rows`` (how ZooGroup reads every column)."""
    counted: list[int] = []
    read_rows = zoo.group.read_rows

    def spy(dataset, index):
        if dataset.name.endswith("/params"):
            counted.append(index.size)
        return read_rows(dataset, index)

    monkeypatch.setattr(zoo.group, "read_rows", spy)
    return counted


def test_summary_shows_the_groups_numbers_without_reading_params(tmp_path, params_reads):
    with Zoo.open(_zoo(tmp_path / "z.h5", rows=9, dim=50)) as store:
        (s,) = summarize(store)
        (b,) = summarize_backbones(store)
    assert (s.name, s.family, s.rows, s.dim) == ("lora/toy/rot", "lora", 9, 50)
    assert s.splits == {"heldout": 3, "train": 6}
    assert s.conditions == {"angle": (-30.0, 60.0)}
    assert math.isclose(s.metrics["accuracy"], 0.675, rel_tol=1e-6)  # the 8 measured
    assert s.base_weights == b.sha256[:12] and (b.tensors, b.values) == (1, 50)
    assert params_reads == []


def test_zoo_info_prints_the_summary_and_reads_no_params_row(tmp_path, params_reads):
    path = _zoo(tmp_path / "z.h5", rows=9, dim=50)
    result = CliRunner().invoke(app, ["zoo", "info", str(path)], terminal_width=120)
    assert result.exit_code == 0, result.output
    for shown in ("rows  ", "9 (heldout 3, train 6)", "50 parameters per row", "-30 … 60"):
        assert shown in result.output
    assert "mean 0.675" in result.output and "1 tensors, 50 values" in result.output
    assert params_reads == []


@pytest.mark.skipif(not PROC_IO.exists(), reason="needs Linux's /proc/self/io")
def test_summary_of_a_40_mb_zoo_reads_under_one_percent_of_it(tmp_path):
    path = _zoo(tmp_path / "big.h5", rows=200, dim=50_000)

    def read_calls() -> int:  # bytes through read()/pread(), page cache or not
        fields = dict(line.split(": ") for line in PROC_IO.read_text().splitlines())
        return int(fields["rchar"])

    before = read_calls()
    with Zoo.open(path) as store:
        summarize(store)
        summarize_backbones(store)
    assert read_calls() - before < path.stat().st_size / 100
