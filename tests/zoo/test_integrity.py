"""Every row's bytes are checked on read; ``zoo check`` finds each damaged row, ``--salvage``
copies exactly the intact ones, and version-1 zoos are read unchecked until upgraded."""

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cli.app import app
from paramgen.errors import ParamgenError
from paramgen.schema import ParamSchema, ParamSpec
from zoo.checksums import CorruptRowsError
from zoo.integrity import check_zoo, salvage_zoo, upgrade_zoo
from zoo.store import Zoo

GROUP = "lora/toy/rot"
ROWS, DIM = 300, 40
SCHEMA = ParamSchema((ParamSpec("a.weight", (4, 10)),))


@pytest.fixture
def zoo_file(tmp_path):
    """300 rows (params, an angle, an accuracy, runs and splits) and one backbone."""
    path = tmp_path / "zoo.h5"
    generator = torch.Generator().manual_seed(0)
    with Zoo.create(path) as zoo:
        group = zoo.create_group(
            family="lora", backbone="toy", task="rot", schema=SCHEMA,
            conditions={"angle": ()}, metrics=["accuracy"],
        )  # fmt: skip
        for start in range(0, ROWS, 100):
            group.append(
                torch.randn(100, DIM, generator=generator),
                conditions={"angle": np.arange(start, start + 100, dtype=np.float32)},
                metrics={"accuracy": np.full(100, 0.9)},
                run=np.arange(start, start + 100),
                split=["train", "heldout"] * 50,
            )
        zoo.store_backbone("toy", {"w": torch.randn(3, 3, generator=generator)}, {"name": "toy"})
    return path


def flip(path, column: str, row: int, byte: int = 1) -> None:
    """Flip one byte of ``row`` of dataset ``column`` of the group, in the file's bytes."""
    with h5py.File(path, "r") as file:
        dataset = file[f"groups/{GROUP}/{column}"]
        per_chunk, row_bytes = (
            dataset.chunks[0],
            dataset.dtype.itemsize * int(np.prod(dataset.shape[1:], dtype=int)),
        )
        chunk = dataset.id.get_chunk_info_by_coord((row // per_chunk * per_chunk,) + (0,) * (
            dataset.ndim - 1
        ))  # fmt: skip
        offset = chunk.byte_offset + (row % per_chunk) * row_bytes + byte % row_bytes
    with open(path, "r+b") as raw:
        raw.seek(offset)
        value = raw.read(1)
        raw.seek(offset)
        raw.write(bytes([value[0] ^ 0x10]))


def test_a_flipped_params_byte_is_refused_naming_its_row(zoo_file):
    before = Zoo.open(zoo_file).group(GROUP).read_params().clone()
    flip(zoo_file, "params", 123, byte=37)
    with Zoo.open(zoo_file) as zoo:
        group = zoo.group(GROUP)
        with pytest.raises(CorruptRowsError, match=r"rows \[123\] .* fail their params checksum"):
            group.read_params()
        with pytest.raises(ParamgenError, match="zoo check"):
            group.read([5, 123])
        others = np.setdiff1d(np.arange(ROWS), [123])
        assert torch.equal(group.read_params(others), before[others])


@pytest.mark.parametrize("column", ["conditions/angle", "metrics/accuracy", "run", "split"])
def test_a_flipped_label_byte_is_refused_naming_its_row(zoo_file, column):
    flip(zoo_file, column, 42, byte=0)
    with Zoo.open(zoo_file) as zoo, pytest.raises(CorruptRowsError, match=r"rows \[42\] .*label"):
        zoo.group(GROUP).read_labels()


@pytest.mark.parametrize("k", [1, 10, 100])
def test_check_finds_every_damaged_row_and_salvage_keeps_exactly_the_others(zoo_file, tmp_path, k):
    with Zoo.open(zoo_file) as zoo:
        original = zoo.group(GROUP).read()
    rng = np.random.default_rng(k)
    damaged = sorted(rng.choice(ROWS, size=k, replace=False).tolist())
    for i, row in enumerate(damaged):
        column = ("params", "conditions/angle", "run")[i % 3]
        flip(zoo_file, column, row, byte=int(rng.integers(0, 1000)))
    report = check_zoo(zoo_file)
    assert not report.clean and report.groups[0].damaged == damaged
    assert report.damaged_backbones == {}
    salvage_zoo(zoo_file, tmp_path / "salvaged.h5", report)
    intact = np.setdiff1d(np.arange(ROWS), damaged)
    with Zoo.open(tmp_path / "salvaged.h5") as zoo:
        rows = zoo.group(GROUP).read()
        assert check_zoo(tmp_path / "salvaged.h5").clean
        assert torch.equal(
            zoo.backbone_weights("toy")["w"].shape and rows.params, original.params[intact]
        )
        assert torch.equal(rows.conditions["angle"], original.conditions["angle"][intact])
        assert rows.run.tolist() == original.run[intact].tolist()
        assert rows.split == [original.split[i] for i in intact]


def test_check_reports_damaged_base_weights(zoo_file):
    with h5py.File(zoo_file, "r") as file:
        offset = file["backbones/toy/tensors/w"].id.get_offset()
    with open(zoo_file, "r+b") as raw:
        raw.seek(offset + 2)
        raw.write(b"\xff")
    report = check_zoo(zoo_file)
    assert list(report.damaged_backbones) == ["toy"] and "sha256" in report.damaged_backbones["toy"]


def as_version_1(path) -> None:
    """What a zoo written by the version-1 code looks like."""
    with h5py.File(path, "r+") as file:
        node = file[f"groups/{GROUP}"]
        del node["checksums"]
        count = int(node["committed"][0])
        del node["committed"]
        node.create_dataset("committed", data=np.array([count], dtype=np.int64))
        for owner in (node, file["backbones/toy"]):
            del owner.attrs["attrs_checksum"]
        file.attrs["version"] = 1


def test_a_version_1_zoo_reads_unchecked_and_is_upgraded_in_place(zoo_file):
    as_version_1(zoo_file)
    with Zoo.open(zoo_file) as zoo:
        assert zoo.version == 1 and not zoo.group(GROUP).checked
        before = zoo.group(GROUP).read()
    with pytest.raises(ParamgenError, match="paramgen zoo upgrade"):
        Zoo.open(zoo_file, "a")
    assert upgrade_zoo(zoo_file) == [(GROUP, ROWS)]
    assert upgrade_zoo(zoo_file) == []  # already version 2
    with Zoo.open(zoo_file, "a") as zoo:
        assert zoo.version == 2 and zoo.group(GROUP).checked
        assert torch.equal(zoo.group(GROUP).read().params, before.params)
    flip(zoo_file, "params", 7)
    assert check_zoo(zoo_file).groups[0].damaged == [7]


def test_cli_check_lists_damaged_rows_exits_1_and_salvages(zoo_file, tmp_path):
    runner = CliRunner()
    clean = runner.invoke(app, ["zoo", "check", str(zoo_file)])
    assert clean.exit_code == 0 and f"{ROWS} rows intact" in clean.output
    for row in (3, 250):
        flip(zoo_file, "params", row)
    before = zoo_file.read_bytes()
    out = tmp_path / "salvaged.h5"
    result = runner.invoke(app, ["zoo", "check", str(zoo_file), "--salvage", str(out)])
    assert result.exit_code == 1, result.output
    assert f"2 of {ROWS} rows damaged: 3, 250" in result.output and "copied" in result.output
    assert zoo_file.read_bytes() == before  # a check never writes the zoo it checks
    with Zoo.open(out) as zoo:
        assert len(zoo.group(GROUP)) == ROWS - 2
    again = runner.invoke(app, ["zoo", "check", str(zoo_file), "--salvage", str(out)])
    assert (
        again.exit_code == 1
        and again.output.startswith("error:")
        and "already exists" in again.output
    )


def test_cli_upgrade_then_the_zoo_is_writable(zoo_file):
    as_version_1(zoo_file)
    runner = CliRunner()
    old = runner.invoke(app, ["zoo", "check", str(zoo_file)])
    assert old.exit_code == 0 and "format version 1" in old.output
    result = runner.invoke(app, ["zoo", "upgrade", str(zoo_file)])
    assert result.exit_code == 0 and f"checksums for {ROWS} rows" in result.output
    with Zoo.open(zoo_file, "a") as zoo:
        assert zoo.group(GROUP).checked


def test_a_damaged_row_counter_hides_no_rows_and_invents_none(zoo_file):
    """A counter that no longer matches its complement (or its dataset) is refused."""
    for change in ([ROWS - 50, ~ROWS], [ROWS + 5, ~(ROWS + 5)]):
        with h5py.File(zoo_file, "r+") as file:
            file[f"groups/{GROUP}/committed"][...] = change
        with Zoo.open(zoo_file) as zoo, pytest.raises(ParamgenError, match="row counter|counter"):
            zoo.group(GROUP).read_params()


@pytest.mark.parametrize(
    ("owner", "key", "value"),
    [(f"groups/{GROUP}", "family_config", '{"rank": 5}'), ("backbones/toy", "spec", "{}")],
)
def test_metadata_that_still_parses_but_changed_is_refused(zoo_file, owner, key, value):
    with h5py.File(zoo_file, "r+") as file:
        file[owner].attrs[key] = value
    with Zoo.open(zoo_file) as zoo, pytest.raises(ParamgenError, match="fail their checksum"):
        zoo.group(GROUP) if owner.startswith("groups") else zoo.backbone_spec("toy")
