"""`zoo import-peft` with many folders (shared values or a manifest) and `zoo store-backbone`,
on a user's own tiny model rather than a built-in backbone."""

import math
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn
from typer.testing import CliRunner

from cli.app import app
from paramgen.schema import state_dict_sha256
from zoo.store import Zoo

pytestmark = pytest.mark.usefixtures("one_thread")

runner = CliRunner()
GROUP = "lora/tiny-mlp/demo"
PEFT_PREFIX = "base_model.model."


class TinyMLP(nn.Module):
    """A user's own model: two linear layers with a BatchNorm between (a 0-d int buffer too)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.norm = nn.BatchNorm1d(8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.norm(self.fc1(x))))


def save_adapter(folder: Path, seed: int, alpha: float = 4.0) -> Path:
    """A LoRA adapter on TinyMLP with random B, so every seed gives different tensors."""
    torch.manual_seed(seed)
    config = LoraConfig(r=2, lora_alpha=alpha, target_modules=["fc1", "fc2"], lora_dropout=0.0)
    model = get_peft_model(TinyMLP(), config)
    for name, parameter in model.named_parameters():
        if "lora_B" in name:
            nn.init.normal_(parameter)
    model.save_pretrained(folder)
    return folder


def adapter_tensors(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "adapter_model.safetensors")


@pytest.fixture(scope="module")
def adapters(tmp_path_factory) -> list[Path]:
    """Five adapter folders a0 … a4 under one directory."""
    root = tmp_path_factory.mktemp("adapters")
    return [save_adapter(root / f"a{k}", seed=k) for k in range(5)]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def import_peft(zoo: Path, *args):
    return invoke("zoo", "import-peft", zoo, *args, "--backbone", "tiny-mlp", "--task", "demo")


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def assert_exports_match(zoo: Path, row: int, folder: Path, out: Path) -> None:
    """``zoo export`` of ``row`` writes exactly the tensors of the adapter ``folder``."""
    result = invoke("zoo", "export", zoo, GROUP, "--row", row, "--out", out)
    assert result.exit_code == 0, result.output
    exported, source = adapter_tensors(out), adapter_tensors(folder)
    assert exported.keys() == source.keys()
    for key, tensor in source.items():
        assert torch.equal(exported[key], tensor), key


def test_many_folders_in_one_call_share_the_condition(tmp_path, adapters):
    zoo = tmp_path / "zoo.h5"
    result = import_peft(zoo, *adapters, "--condition", "angle=30", "--create")
    assert result.exit_code == 0, result.output
    assert f"5 adapters as rows 0–4 of {GROUP} (5 rows)" in result.output
    with Zoo.open(zoo) as opened:
        rows = opened.group(GROUP).read()
    assert rows.conditions["angle"].tolist() == [30.0] * 5
    assert rows.metrics == {} and rows.split == ["train"] * 5
    assert_exports_match(zoo, 3, adapters[3], tmp_path / "row3")
    # A second call appends after the first rows, into the same group.
    result = import_peft(zoo, adapters[0], "--condition", "angle=45")
    assert result.exit_code == 0 and "as row 5 of" in result.output
    assert_exports_match(zoo, 5, adapters[0], tmp_path / "row5")


def test_manifest_gives_each_folder_its_conditions_metrics_and_provenance(tmp_path, adapters):
    # Relative folders are relative to the manifest's folder; an absolute one stays as it is.
    manifest = adapters[0].parent / "manifest.csv"
    manifest.write_text(
        "folder,split,seed,condition.angle,condition.rgb,metric.accuracy\n"
        "a2,heldout,7,-30,0.5;0.25,0.75\n"
        f'{adapters[0]},,,15,"1,2",\n'
        "a4,train,1,0,-1;0,0.5\n"
    )
    zoo = tmp_path / "zoo.h5"
    result = import_peft(zoo, "--manifest", manifest, "--create", "--seed", "3")
    assert result.exit_code == 0, result.output
    with Zoo.open(zoo) as opened:
        group = opened.group(GROUP)
        rows = group.read()
        assert group.condition_shapes == {"angle": (), "rgb": (2,)}
    assert rows.conditions["angle"].tolist() == [-30.0, 15.0, 0.0]
    assert rows.conditions["rgb"].tolist() == [[0.5, 0.25], [1.0, 2.0], [-1.0, 0.0]]
    accuracy = rows.metrics["accuracy"].tolist()
    assert accuracy[0] == 0.75 and math.isnan(accuracy[1]) and accuracy[2] == 0.5
    assert rows.split == ["heldout", "train", "train"]
    assert rows.seed.tolist() == [7, 3, 1]  # the empty cell takes --seed
    for row, folder in enumerate((adapters[2], adapters[0], adapters[4])):
        assert_exports_match(zoo, row, folder, tmp_path / f"row{row}")


def test_without_conditions_the_group_is_unconditional(tmp_path, adapters):
    zoo = tmp_path / "zoo.h5"
    assert import_peft(zoo, *adapters[:2], "--create").exit_code == 0
    with Zoo.open(zoo) as opened:
        assert opened.group(GROUP).condition_shapes == {} and len(opened.group(GROUP)) == 2
    # The group has no conditions, so giving one later is refused by name.
    assert_one_line_error(
        import_peft(zoo, adapters[2], "--condition", "angle=1"), "unknown ['angle']"
    )


def _broken_copies(root: Path, adapters: list[Path]) -> dict[str, list[Path]]:
    """Five-folder batches whose middle folder is wrong in one way each."""
    nan = save_adapter(root / "nan", seed=10)
    tensors = adapter_tensors(nan)
    key = next(k for k in tensors if "fc2.lora_B" in k)
    tensors[key][0, 0] = float("nan")
    save_file(tensors, nan / "adapter_model.safetensors")
    alpha = save_adapter(root / "alpha", seed=11, alpha=8.0)
    no_weights = save_adapter(root / "no_weights", seed=12)
    (no_weights / "adapter_model.safetensors").unlink()
    bad = {"nan": nan, "alpha": alpha, "no_weights": no_weights, "missing": root / "missing"}
    return {name: [*adapters[:2], folder, *adapters[3:]] for name, folder in bad.items()}


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("nan", "has NaN or Inf in ['fc2.lora_B.weight']"),
        ("alpha", "differs from adapter"),
        ("no_weights", "has no adapter_model.safetensors"),
        ("missing", "does not exist"),
    ],
)
def test_a_bad_folder_in_the_middle_appends_nothing(tmp_path, adapters, case, message):
    batch = _broken_copies(tmp_path, adapters)[case]
    zoo = tmp_path / "zoo.h5"
    # Into a new zoo: nothing is created at all.
    assert_one_line_error(import_peft(zoo, *batch, "--create"), str(batch[2]), message)
    assert not zoo.exists()
    # Into a zoo whose group already has rows: the row count stays.
    assert import_peft(zoo, adapters[0], "--create").exit_code == 0
    assert_one_line_error(import_peft(zoo, *batch), str(batch[2]), message)
    with Zoo.open(zoo) as opened:
        assert len(opened.group(GROUP)) == 1


@pytest.mark.parametrize("value", ["nan", "inf", "1e39"])
def test_conditions_that_are_not_finite_in_float32_append_nothing(tmp_path, adapters, value):
    zoo = tmp_path / "zoo.h5"
    assert import_peft(zoo, adapters[0], "--condition", "angle=30", "--create").exit_code == 0
    before = zoo.read_bytes()
    result = import_peft(zoo, *adapters[1:3], "--condition", f"angle={value}")
    assert_one_line_error(result, "condition 'angle'", "not a finite float32 number")
    assert zoo.read_bytes() == before


def test_an_adapter_unlike_the_existing_group_is_refused(tmp_path, adapters):
    zoo = tmp_path / "zoo.h5"
    assert import_peft(zoo, adapters[0], "--create").exit_code == 0
    other = save_adapter(tmp_path / "alpha", seed=3, alpha=8.0)
    result = import_peft(zoo, other)
    assert_one_line_error(result, str(other), f"differs from group '{GROUP}'", "lora_alpha")


@pytest.mark.parametrize(
    ("manifest", "extra", "message"),
    [
        ("folder,conditon.angle\na0,1\n", (), "unknown ['conditon.angle']"),
        ("folder,condition.angle\na0,1\na1,\n", (), "line 3: condition.angle is empty"),
        ("folder,condition.angle\na0,abc\n", (), "line 2: condition.angle is 'abc'"),
        ("folder,metric.accuracy\na0,0.1;0.2\n", (), "expected one number"),
        ("folder,split\na0,test\n", (), "split 'test' is not one of"),
        ("folder,seed\na0,1.5\n", (), "expected a whole number"),
        ("folder\n", (), "has a header but no rows"),
        ("folder,condition.angle\na0,1\n", ("a0",), "not both"),
        ("folder,condition.angle\na0,1\n", ("--condition", "angle=1"), "not both"),
    ],
)
def test_manifest_mistakes_are_one_line_errors(tmp_path, adapters, manifest, extra, message):
    path = adapters[0].parent / "bad.csv"
    path.write_text(manifest)
    zoo = tmp_path / "zoo.h5"
    assert_one_line_error(import_peft(zoo, "--manifest", path, "--create", *extra), message)
    assert not zoo.exists()


def test_neither_folders_nor_manifest(tmp_path):
    assert_one_line_error(import_peft(tmp_path / "z.h5", "--create"), "at least one adapter folder")


# -------------------------------------------------------------------------------- store-backbone
@pytest.fixture
def weights_file(tmp_path) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "tiny.safetensors"
    save_file(TinyMLP().state_dict(), path)
    return path


def flat(text: str) -> str:
    """CLI output without whitespace or table rules, so wrapped values read whole."""
    return "".join(text.split()).replace("│", "")


def test_store_backbone_stores_prints_and_info_shows_the_sha(tmp_path, weights_file):
    zoo = tmp_path / "zoo.h5"
    expected = state_dict_sha256(load_file(weights_file))
    result = invoke(
        "zoo",
        "store-backbone",
        zoo,
        "tiny-mlp",
        weights_file,
        "--create",
        "--spec",
        "arch=mlp-6-8-3",
    )
    assert result.exit_code == 0, result.output
    assert f"sha256 {expected}" in result.output and "stored base weights" in result.output
    with Zoo.open(zoo) as opened:
        stored = opened.backbone_weights("tiny-mlp")
        spec = opened.backbone_spec("tiny-mlp")
    assert spec == {"arch": "mlp-6-8-3", "file": "tiny.safetensors", "name": "tiny-mlp"}
    for name, tensor in load_file(weights_file).items():
        assert stored[name].dtype == tensor.dtype and torch.equal(stored[name], tensor), name
    info = invoke("zoo", "info", zoo)
    assert info.exit_code == 0 and expected in flat(info.output)
    # Storing the same weights again is a no-op; the sha is printed again.
    again = invoke("zoo", "store-backbone", zoo, "tiny-mlp", weights_file)
    assert again.exit_code == 0 and "already held identical" in again.output
    assert f"sha256 {expected}" in again.output
    # Groups on this backbone show the same sha in their table.
    assert import_peft(zoo, save_adapter(tmp_path / "a", seed=0)).exit_code == 0
    assert f"baseweightssha256{expected[:12]}" in flat(invoke("zoo", "info", zoo).output)


def test_store_backbone_refuses_other_weights_under_the_same_name(tmp_path, weights_file):
    zoo = tmp_path / "zoo.h5"
    assert invoke("zoo", "store-backbone", zoo, "tiny-mlp", weights_file, "--create").exit_code == 0
    torch.manual_seed(1)
    save_file(TinyMLP().state_dict(), tmp_path / "other.safetensors")
    result = invoke("zoo", "store-backbone", zoo, "tiny-mlp", tmp_path / "other.safetensors")
    assert_one_line_error(result, "already holds different base weights", "'tiny-mlp'")


def test_store_backbone_file_mistakes_are_one_line_errors(tmp_path, weights_file):
    zoo = tmp_path / "zoo.h5"
    (tmp_path / "corrupt.safetensors").write_bytes(weights_file.read_bytes()[:40])
    (tmp_path / "adir").mkdir()
    nan = TinyMLP().state_dict()
    nan["fc2.weight"][1, 1] = float("inf")
    save_file(nan, tmp_path / "nan.safetensors")
    save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, tmp_path / "bf16.safetensors")
    cases = {
        "missing.safetensors": "does not exist",
        "adir": "is a directory",
        "corrupt.safetensors": "not a readable safetensors file",
        "nan.safetensors": "tensor 'fc2.weight'",
        "bf16.safetensors": "torch.bfloat16",
    }
    for name, message in cases.items():
        result = invoke("zoo", "store-backbone", zoo, "tiny-mlp", tmp_path / name, "--create")
        assert_one_line_error(result, name, message)
    assert not zoo.exists()
    assert_one_line_error(
        invoke("zoo", "store-backbone", zoo, "tiny-mlp", weights_file, "--spec", "novalue"),
        "KEY=VALUE",
    )
    assert_one_line_error(
        invoke("zoo", "store-backbone", zoo, "a/b", weights_file, "--create"), "contain no '/'"
    )
