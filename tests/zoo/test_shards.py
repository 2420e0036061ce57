"""Shard files and ``merge_shards``: what a sharded build leaves, joined into its zoo."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cli.app import app
from paramgen.errors import ParamgenError
from zoo.group_definition import GroupDefinition
from zoo.shards import ShardManifest, ShardTag, merge_shards, open_shard, run_key
from zoo.store import Zoo

GROUP = "lora/toy/rot"
BASE = {"w": torch.arange(6.0).reshape(2, 3)}


@pytest.fixture
def zoo(zoo_path: Path) -> Path:
    """The shared zoo fixture with base weights stored for backbone ``toy``."""
    with Zoo.open(zoo_path, "a") as opened:
        opened.store_backbone("toy", BASE, {"name": "toy"})
    return zoo_path


def _definition(zoo: Path) -> GroupDefinition:
    with Zoo.open(zoo) as opened:
        return GroupDefinition.of(opened.group(GROUP))


def _tag(zoo: Path) -> ShardTag:
    with Zoo.open(zoo) as opened:
        return ShardTag(GROUP, str(opened.backbone_node("toy").attrs["sha256"]))


def _run_rows(run: int, dim: int) -> torch.Tensor:
    """3 rows of run ``run``, distinct from every other run's."""
    return torch.arange(3 * dim, dtype=torch.float32).reshape(3, dim) + 100.0 * run


def _write_shard(path: Path, zoo: Path, runs: list[int], tag: ShardTag | None = None) -> None:
    definition = _definition(zoo)
    shard, group = open_shard(path, definition, tag or _tag(zoo))
    with shard:
        for run in runs:
            group.append(
                _run_rows(run, definition.schema.dim),
                conditions={"angle": 10.0 * run},
                metrics={"accuracy": [0.5, 0.6, 0.7]},
                run=run,
                step=[1, 2, 3],
                seed=run,
                split="heldout" if run == 3 else "train",
            )


def _shard_dir(tmp_path: Path, zoo: Path, shards: dict[str, list[int]], runs=range(4)) -> Path:
    directory = tmp_path / "shards"
    for name, shard_runs in shards.items():
        _write_shard(directory / name, zoo, shard_runs)
    manifest = ShardManifest(GROUP)
    manifest.joined(GROUP, dict.fromkeys(shards, "node"), (run_key(r, 10.0 * r) for r in runs))
    manifest.write(directory)
    return directory


def _zoo_rows(zoo: Path) -> dict[int, torch.Tensor]:
    with Zoo.open(zoo) as opened:
        rows = opened.group(GROUP).read()
    return {int(run): rows.params[rows.run == run] for run in np.unique(rows.run)}


def test_merge_appends_every_run_of_every_shard_once(tmp_path, zoo):
    directory = _shard_dir(tmp_path, zoo, {"a-0.h5": [0, 2], "b-0.h5": [1, 3]})
    report = merge_shards(zoo, directory)
    assert (report.runs, report.rows, report.shards) == (4, 12, 2)
    stored = _zoo_rows(zoo)
    dim = _definition(zoo).schema.dim
    assert sorted(stored) == [0, 1, 2, 3]
    for run, params in stored.items():
        torch.testing.assert_close(params, _run_rows(run, dim), rtol=0, atol=0)
    with Zoo.open(zoo) as opened:
        labels = opened.group(GROUP).read_labels()
    assert labels.split.count("heldout") == 3 and sorted(set(labels.step)) == [1, 2, 3]
    again = merge_shards(zoo, directory)  # a second merge (or one after a kill) adds nothing
    assert (again.runs, again.already_merged) == (0, 4)
    assert len(_zoo_rows(zoo)[0]) == 3


def test_a_run_in_two_shards_is_merged_once(tmp_path, zoo):
    directory = _shard_dir(tmp_path, zoo, {"a-0.h5": [0, 1], "b-0.h5": [1, 2, 3]})
    report = merge_shards(zoo, directory)
    assert (report.runs, report.duplicates) == (4, 1)
    assert len(_zoo_rows(zoo)[1]) == 3


def _unchanged(zoo: Path, action) -> str:
    before = zoo.read_bytes()
    with pytest.raises(ParamgenError) as error:
        action()
    assert zoo.read_bytes() == before
    return str(error.value)


def test_a_missing_shard_is_named_and_nothing_is_merged(tmp_path, zoo):
    directory = _shard_dir(tmp_path, zoo, {"a-0.h5": [0, 2], "b-0.h5": [1, 3]})
    (directory / "b-0.h5").unlink()
    message = _unchanged(zoo, lambda: merge_shards(zoo, directory))
    assert "b-0.h5 (written on node)" in message and "copy them in" in message


def test_a_planned_run_in_no_shard_is_named(tmp_path, zoo):
    directory = _shard_dir(tmp_path, zoo, {"a-0.h5": [0, 2]}, runs=range(3))
    message = _unchanged(zoo, lambda: merge_shards(zoo, directory))
    assert "run 1 (+10)" in message and "same --shards directory" in message


def test_shards_of_another_build_are_refused(tmp_path, zoo):
    directory = _shard_dir(tmp_path, zoo, {"a-0.h5": [0, 1, 2, 3]})
    other = tmp_path / "other.h5"
    with Zoo.create(other) as opened:
        opened.store_backbone("toy", {"w": torch.zeros(2, 3)}, {"name": "toy"})
        GroupDefinition(**{**_definition(zoo).__dict__, "family_config": {"r": 2}}).create_in(
            opened
        )
    message = _unchanged(other, lambda: merge_shards(other, directory))
    assert "otherwise than" in message and "another build" in message
    other = tmp_path / "other-base.h5"  # the same definition, other base weights
    with Zoo.create(other) as opened:
        opened.store_backbone("toy", {"w": torch.zeros(2, 3)}, {"name": "toy"})
        _definition(zoo).create_in(opened)
    message = _unchanged(other, lambda: merge_shards(other, directory))
    assert "other base weights" in message


def test_a_shard_whose_tag_is_damaged_is_refused(tmp_path, zoo):
    directory = _shard_dir(tmp_path, zoo, {"a-0.h5": [0, 1, 2, 3]})
    with Zoo.open(directory / "a-0.h5", "a") as shard:
        shard.file.attrs["shard_of"] = "{cut"
    message = _unchanged(zoo, lambda: merge_shards(zoo, directory))
    assert "shard tag is not one paramgen wrote" in message


def test_a_shard_is_reopened_only_by_its_own_build(tmp_path, zoo):
    _write_shard(tmp_path / "s.h5", zoo, [0])
    with pytest.raises(ParamgenError, match="shard of another build"):
        open_shard(tmp_path / "s.h5", _definition(zoo), ShardTag("lora/toy/other", None))
    with pytest.raises(ParamgenError, match="not a shard"):
        with Zoo.open(zoo) as opened:
            ShardTag.of(opened, zoo)


def test_manifests_keep_one_group_and_refuse_foreign_text(tmp_path):
    manifest = ShardManifest(GROUP)
    with pytest.raises(ParamgenError, match="directory of its own"):
        manifest.joined("lora/toy/other", {}, ())
    (tmp_path / "shards.json").write_text("{not json")
    with pytest.raises(ParamgenError, match="not a shard manifest"):
        ShardManifest.read(tmp_path)
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "shards.json")  # would block a read forever
    with pytest.raises(ParamgenError, match="not a regular file"):
        ShardManifest.read(fifo)


def test_cli_merge_reports_and_fails_in_one_line(tmp_path, zoo):
    directory = _shard_dir(tmp_path, zoo, {"a-0.h5": [0, 1, 2, 3]})
    runner = CliRunner()
    done = runner.invoke(app, ["zoo", "merge", str(zoo), str(directory)])
    assert done.exit_code == 0, done.output
    assert "merged 4 runs (12 rows) from 1 shards" in done.output
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = runner.invoke(app, ["zoo", "merge", str(zoo), str(empty)])
    assert refused.exit_code == 1
    assert refused.output.startswith("error:") and "has no shards.json" in refused.output
    assert "Traceback" not in refused.output
