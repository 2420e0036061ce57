"""`zoo import-safetensors` of plain state-dict checkpoints into a subset group (p-diff), on a
user's own tiny model whose head ends in a BatchNorm (so buffers, and an integer counter, too)."""

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from typer.testing import CliRunner

from cli.app import app
from paramgen.families import get_family
from zoo.store import Zoo

pytestmark = pytest.mark.usefixtures("one_thread")

runner = CliRunner()
GROUP = "subset/tiny-net/pdiff"
HEAD = {
    "head.0.weight",
    "head.0.bias",
    "head.1.weight",
    "head.1.bias",
    "head.1.running_mean",
    "head.1.running_var",
}  # head.1.num_batches_tracked is an integer counter: not part of a row


class TinyNet(nn.Module):
    """A body and a head (Linear → BatchNorm1d); p-diff generates the head."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(5, 6)
        self.head = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.body(x)))


def save_checkpoint(path: Path, seed: int) -> Path:
    """A checkpoint whose BatchNorm running statistics have moved (one training-mode batch)."""
    torch.manual_seed(seed)
    model = TinyNet()
    model(torch.randn(8, 5))
    save_file(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("ckpts")
    return [save_checkpoint(root / f"ckpt_{k:03d}.safetensors", seed=k) for k in range(5)]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def import_files(zoo: Path, *args):
    return invoke("zoo", "import-safetensors", zoo, GROUP, *args)


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_rows_equal_files(zoo: Path, rows: range, files: list[Path]) -> None:
    with Zoo.open(zoo) as opened:
        group = opened.group(GROUP)
        for row, file in zip(rows, files, strict=True):
            stored, source = group.tensors(row), load_file(file)
            assert set(stored) == HEAD
            for name, tensor in stored.items():
                assert torch.equal(tensor, source[name]), (row, name)


def test_checkpoints_become_an_unconditional_subset_group_in_one_call(tmp_path, checkpoints):
    zoo = tmp_path / "zoo.h5"
    result = import_files(zoo, *checkpoints, "--create", "--family", "subset", "--keys", "head.*")
    assert result.exit_code == 0, result.output
    assert f"5 files as rows 0–4 of {GROUP} (5 rows)" in result.output
    with Zoo.open(zoo) as opened:
        group = opened.group(GROUP)
        assert group.family == "subset" and group.condition_shapes == {}
        assert group.family_config == {"patterns": ["head.*"]}
        assert set(group.schema.names) == HEAD and group.schema.dim == 6 * 4 + 4 + 4 * 4
        rows = group.read()
    assert rows.split == ["train"] * 5 and rows.metrics == {} and rows.conditions == {}
    assert_rows_equal_files(zoo, range(5), checkpoints)
    # The rows run through the family: the head becomes the checkpoint's, the body the base's.
    family = get_family("subset")
    config = family.config_from_dict({"patterns": ["head.*"]})
    base = TinyNet()
    base.load_state_dict(load_file(checkpoints[0]))
    with Zoo.open(zoo) as opened:
        model = family.apply(base, config, opened.group(GROUP).tensors(3))
    applied, third = model.state_dict(), load_file(checkpoints[3])
    assert torch.equal(applied["head.1.running_var"], third["head.1.running_var"])
    assert torch.equal(applied["body.weight"], base.state_dict()["body.weight"])
    # An existing group keeps its patterns: --keys may be left out next time.
    again = import_files(zoo, checkpoints[1], "--step", "7")
    assert again.exit_code == 0 and f"as row 5 of {GROUP} (6 rows)" in again.output
    assert_rows_equal_files(zoo, range(5, 6), checkpoints[1:2])
    info = invoke("zoo", "info", zoo)
    assert info.exit_code == 0 and GROUP in info.output
    assert "6 (train 6)" in info.output and "44 parameters per row" in info.output


def test_manifest_gives_each_checkpoint_its_condition_metric_and_step(tmp_path, checkpoints):
    manifest = checkpoints[0].parent / "ckpts.csv"
    manifest.write_text(
        "file,step,split,condition.lr,metric.accuracy\n"
        "ckpt_002.safetensors,200,,0.1,0.9\n"
        f"{checkpoints[0]},0,heldout,0.01,\n"
        "ckpt_004.safetensors,400,,0.1,0.8\n"
    )
    zoo = tmp_path / "zoo.h5"
    result = import_files(zoo, "--manifest", manifest, "--create", "--keys", "head.*")
    assert result.exit_code == 0, result.output
    with Zoo.open(zoo) as opened:
        group = opened.group(GROUP)
        rows = group.read()
        assert group.condition_shapes == {"lr": ()}
    assert rows.conditions["lr"].tolist() == pytest.approx([0.1, 0.01, 0.1])
    accuracy = rows.metrics["accuracy"].tolist()
    assert accuracy[0] == pytest.approx(0.9) and math.isnan(accuracy[1])
    assert rows.step.tolist() == [200, 0, 400] and rows.split == ["train", "heldout", "train"]
    assert_rows_equal_files(zoo, range(3), [checkpoints[2], checkpoints[0], checkpoints[4]])


def _bad_batches(root: Path, checkpoints: list[Path]) -> dict[str, list[Path]]:
    """Five-file batches whose middle file is wrong in one way each."""
    state = load_file(checkpoints[2])
    save_file({k: v for k, v in state.items() if k != "head.0.bias"}, root / "nobias.safetensors")
    nan = dict(state)
    nan["head.1.running_var"] = torch.full((4,), float("nan"))
    save_file(nan, root / "nan.safetensors")
    (root / "corrupt.safetensors").write_bytes(checkpoints[2].read_bytes()[:60])
    (root / "adir.safetensors").mkdir()
    bad = {
        "nobias": root / "nobias.safetensors",
        "nan": root / "nan.safetensors",
        "corrupt": root / "corrupt.safetensors",
        "directory": root / "adir.safetensors",
        "missing": root / "missing.safetensors",
    }
    return {name: [*checkpoints[:2], path, *checkpoints[3:]] for name, path in bad.items()}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("nobias", "missing ['head.0.bias']"),
        ("nan", "has NaN or Inf in ['head.1.running_var']"),
        ("corrupt", "is not a readable safetensors file"),
        ("directory", "is a directory"),
        ("missing", "does not exist"),
    ],
)
def test_a_bad_file_in_the_middle_appends_nothing(tmp_path, checkpoints, case, message):
    batch = _bad_batches(tmp_path, checkpoints)[case]
    zoo = tmp_path / "zoo.h5"
    # Into a new zoo: nothing is left behind.
    result = import_files(zoo, *batch, "--create", "--keys", "head.*")
    assert_one_line_error(result, str(batch[2]), message)
    assert not zoo.exists()
    # Into a group that has rows: the row count stays.
    assert import_files(zoo, checkpoints[0], "--create", "--keys", "head.*").exit_code == 0
    assert_one_line_error(import_files(zoo, *batch), str(batch[2]), message)
    with Zoo.open(zoo) as opened:
        assert len(opened.group(GROUP)) == 1


def test_tensors_outside_the_patterns_are_ignored(tmp_path, checkpoints):
    """The rest of the model may hold anything — NaN, bfloat16 — it is not even loaded."""
    state = load_file(checkpoints[1])
    state["body.weight"] = torch.full((6, 5), float("nan"))
    state["body.bias"] = state["body.bias"].to(torch.bfloat16)
    save_file(state, tmp_path / "odd_body.safetensors")
    zoo = tmp_path / "zoo.h5"
    result = import_files(zoo, tmp_path / "odd_body.safetensors", "--create", "--keys", "head.*")
    assert result.exit_code == 0, result.output
    assert_rows_equal_files(zoo, range(1), [tmp_path / "odd_body.safetensors"])


def test_a_paramgen_exported_file_still_imports_as_before(tmp_path, checkpoints):
    zoo = tmp_path / "zoo.h5"
    manifest = checkpoints[0].parent / "one.csv"
    manifest.write_text("file,condition.lr,metric.accuracy\nckpt_001.safetensors,0.5,0.7\n")
    assert import_files(zoo, "--manifest", manifest, "--create", "--keys", "head.*").exit_code == 0
    exported = []
    for copy in range(2):
        out = tmp_path / f"row{copy}.safetensors"
        result = invoke("zoo", "export", zoo, GROUP, "--format", "safetensors", "--out", out)
        assert result.exit_code == 0, result.output
        exported.append(out)
    result = import_files(zoo, *exported)
    assert result.exit_code == 0 and f"2 files as rows 1–2 of {GROUP} (3 rows)" in result.output
    with Zoo.open(zoo) as opened:
        rows = opened.group(GROUP).read()
    assert rows.conditions["lr"].tolist() == [0.5] * 3  # from the files' metadata
    assert rows.metrics["accuracy"].tolist() == pytest.approx([0.7] * 3)
    assert_rows_equal_files(zoo, range(3), [checkpoints[1]] * 3)
    # Their values come with them: options that would set values are refused, and so is a mix.
    assert_one_line_error(
        import_files(zoo, exported[0], "--condition", "lr=1", "--split", "heldout"),
        str(exported[0]),
        "drop --condition, --split",
    )
    assert_one_line_error(
        import_files(zoo, checkpoints[2], exported[0]), str(exported[0]), "on their own"
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text[: len(text) // 2], "paramgen metadata"),
        (lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "run"}),
         "'run' is missing"),
    ],
)  # fmt: skip
def test_an_exported_file_with_damaged_metadata_appends_nothing(
    tmp_path, checkpoints, edit, message
):
    zoo = tmp_path / "zoo.h5"
    assert import_files(zoo, checkpoints[0], "--create", "--keys", "head.*").exit_code == 0
    out = tmp_path / "row.safetensors"
    assert (
        invoke("zoo", "export", zoo, GROUP, "--format", "safetensors", "--out", out).exit_code == 0
    )
    with safe_open(out, framework="pt") as handle:
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        metadata = handle.metadata()
    save_file(tensors, out, {**metadata, "paramgen": edit(metadata["paramgen"])})
    before = zoo.read_bytes()
    assert_one_line_error(import_files(zoo, out), str(out), message)
    assert zoo.read_bytes() == before


@pytest.mark.parametrize(
    ("group", "extra", "message"),
    [
        (GROUP, ("--family", "lora", "--keys", "head.*"), "--family lora does not match"),
        ("lora/tiny-net/demo", ("--keys", "head.*"), "is a lora group"),
        ("subset/tiny-net", ("--keys", "head.*"), "three parts family/backbone/task"),
        (GROUP, (), "give the patterns of the tensors to keep (--keys 'head.*')"),
        (GROUP, ("--keys", "tail.*"), "match no floating-point tensor"),
        (GROUP, ("--keys", "head.*", "--condition", "lr"), "NAME=NUMBER"),
        (GROUP, ("--keys", "head.*", "--split", "test"), "split must be one of"),
    ],
)
def test_group_and_option_mistakes_are_one_line_errors(
    tmp_path, checkpoints, group, extra, message
):
    zoo = tmp_path / "zoo.h5"
    result = invoke("zoo", "import-safetensors", zoo, group, checkpoints[0], "--create", *extra)
    assert_one_line_error(result, message)
    assert not zoo.exists()


def test_an_existing_group_keeps_its_patterns_and_layout(tmp_path, checkpoints):
    zoo = tmp_path / "zoo.h5"
    assert import_files(zoo, checkpoints[0], "--create", "--keys", "head.*").exit_code == 0
    assert_one_line_error(
        import_files(zoo, checkpoints[1], "--keys", "head.1.*"),
        "keeps the tensors ['head.*'], not ['head.1.*']",
    )
    assert_one_line_error(
        import_files(zoo, checkpoints[1], "--condition", "lr=1"), "unknown ['lr']"
    )
    torch.manual_seed(0)
    wider = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5))
    wide = tmp_path / "wide.safetensors"
    save_file({f"head.{k}": v for k, v in wider.state_dict().items()}, wide)
    assert_one_line_error(
        import_files(zoo, wide), str(wide), "'head.0.bias' has shape (5,), the schema expects (4,)"
    )
    with Zoo.open(zoo) as opened:
        assert len(opened.group(GROUP)) == 1


def test_neither_files_nor_manifest(tmp_path):
    assert_one_line_error(
        import_files(tmp_path / "z.h5", "--create", "--keys", "head.*"),
        "at least one safetensors file",
    )
