"""Import manifests (CSV, one row per adapter folder) and per-row value columns."""

import math

import numpy as np
import pytest

from paramgen.errors import ParamgenError
from zoo.import_manifest import ImportRows, read_import_manifest
from zoo.row_values import value_columns


def test_manifest_rows_resolve_folders_and_fill_empty_cells(tmp_path):
    path = tmp_path / "sub" / "m.csv"
    path.parent.mkdir()
    # A byte-order mark (spreadsheets write one), blank lines and spaces around cells are fine.
    path.write_text(
        "\ufefffolder, run ,condition.rgb,metric.loss\n"
        "\n"
        "a, 2 ,0.5;0.25, 1.5\n"
        f'{tmp_path / "b"},,"1,2",\n',
        encoding="utf-8",
    )
    rows = read_import_manifest(path, split="heldout", run=9, step=4)
    assert rows.paths == [path.parent / "a", tmp_path / "b"]
    assert rows.conditions == [{"rgb": [0.5, 0.25]}, {"rgb": [1.0, 2.0]}]
    assert rows.metrics == [{"loss": 1.5}, {}]
    assert rows.run == [2, 9] and rows.step == [4, 4] and rows.seed == [0, 0]
    assert rows.split == ["heldout", "heldout"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("path,condition.angle\na,1\n", r"columns \['path', 'condition.angle'\].*unknown"),
        ("folder,condition.\na,1\n", r"unknown \['condition.'\]"),
        ("folder,seed,seed\na,1,2\n", r"duplicated \['seed'\]"),
        ("folder,condition.angle\na,1,2\n", "line 2 has 3 fields, the header 2"),
        ("folder,condition.angle\n,1\n", "line 2: the folder cell is empty"),
        ("folder,condition.angle\na,1;x\n", r"condition.angle is '1;x'"),
        ("folder,run\na,two\n", "run is 'two'; expected a whole number"),
    ],
)
def test_manifest_mistakes_name_the_line_or_column(tmp_path, text, message):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(ParamgenError, match=message):
        read_import_manifest(path)


def test_manifest_that_is_missing_a_directory_or_not_text(tmp_path):
    with pytest.raises(ParamgenError, match="does not exist or is not a file"):
        read_import_manifest(tmp_path / "none.csv")
    with pytest.raises(ParamgenError, match="does not exist or is not a file"):
        read_import_manifest(tmp_path)
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00folder")
    with pytest.raises(ParamgenError, match="not a readable UTF-8 text file"):
        read_import_manifest(tmp_path / "bin.csv")


def test_same_values_for_every_folder_and_a_bad_split(tmp_path):
    rows = ImportRows.same_for_all([tmp_path / "a", tmp_path / "b"], {"angle": 3.0}, {}, seed=5)
    assert rows.conditions == [{"angle": 3.0}] * 2 and rows.seed == [5, 5]
    with pytest.raises(ParamgenError, match="split must be one of"):
        ImportRows.same_for_all([tmp_path / "a"], {}, {}, split="test")


def test_value_columns_shared_and_per_row():
    labels = ["r0", "r1", "r2"]
    shared = value_columns({"rgb": [1, 2]}, labels, "condition", required=True)
    assert shared["rgb"].shape == (3, 2) and shared["rgb"].dtype == np.float32
    per_row = value_columns([{"m": 1}, {}, {"m": 3}], labels, "metric", required=False)
    assert per_row["m"][0] == 1 and math.isnan(per_row["m"][1]) and per_row["m"][2] == 3
    assert value_columns(None, labels, "condition", required=True) == {}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([{"a": 1}, {}, {"a": 1}], "r1 has no condition 'a'"),
        ([{"a": 1}, {"a": [1, 2]}, {"a": 1}], r"'a' of r1 has shape \(2,\), other rows \(\)"),
        ([{"a": 1}, {"a": 1}, {"a": float("inf")}], "'a' of r2 is not a finite float32"),
        ([{"a": 1}, {"a": 1e39}, {"a": 1}], "'a' of r1 is not a finite float32"),
        ([{"a": 1}, {"a": "x"}, {"a": 1}], "'a' of r1 must be a number"),
        ([{"a": 1}], "1 sets of conditions for 3 rows"),
    ],
)
def test_value_columns_name_the_bad_row(values, message):
    with pytest.raises(ParamgenError, match=message):
        value_columns(values, ["r0", "r1", "r2"], "condition", required=True)
