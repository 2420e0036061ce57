"""The CLI: version, info, import/export, and one-line errors without tracebacks."""

import pytest
import torch
from peft import PeftModel
from typer.testing import CliRunner

from cli.app import app
from cli.parsing import parse_values
from paramgen import __version__
from paramgen.backbones import build_backbone
from paramgen.errors import ParamgenError
from paramgen.families.lora import LoraSpec, attach_lora

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "zoo" in result.output and "run" in result.output
    assert "import-peft" in invoke("zoo", "--help").output


def test_import_info_and_export_both_formats(tmp_path):
    adapter = attach_lora(
        build_backbone("digits-cnn"), LoraSpec(("conv1", "fc1")), random_init=True
    )
    adapter.save_pretrained(tmp_path / "adapter")
    zoo = tmp_path / "zoo.h5"
    result = invoke(
        "zoo",
        "import-peft",
        zoo,
        tmp_path / "adapter",
        "--backbone",
        "digits-cnn",
        "--task",
        "rot",
        "--condition",
        "angle=30",
        "--metric",
        "accuracy=0.9",
        "--create",
    )
    assert result.exit_code == 0, result.output
    assert "row 0" in result.output
    info = invoke("zoo", "info", zoo)
    assert info.exit_code == 0
    assert "lora/digits-cnn/rot" in "".join(info.output.split()).replace("│", "")
    assert "0.9" in info.output
    assert (
        invoke("zoo", "export", zoo, "lora/digits-cnn/rot", "--out", tmp_path / "out").exit_code
        == 0
    )
    loaded = PeftModel.from_pretrained(build_backbone("digits-cnn"), tmp_path / "out").eval()
    images = torch.rand(4, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(loaded(images), adapter.eval()(images), atol=1e-6)
    result = invoke(
        "zoo",
        "export",
        zoo,
        "lora/digits-cnn/rot",
        "--row",
        "-1",
        "--format",
        "safetensors",
        "--out",
        tmp_path / "row.safetensors",
    )
    assert result.exit_code == 0 and (tmp_path / "row.safetensors").exists()
    result = invoke(
        "zoo", "import-safetensors", zoo, "lora/digits-cnn/rot", tmp_path / "row.safetensors"
    )
    assert result.exit_code == 0 and "row 1" in result.output


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 1
    text = result.output.strip()
    assert "Traceback" not in result.output
    assert text.startswith("error:")
    for fragment in fragments:
        assert fragment in text.replace("\n", " ")


def test_errors_are_one_line_without_traceback(tmp_path):
    assert_one_line_error(invoke("zoo", "info", tmp_path / "missing.h5"), "does not exist")
    (tmp_path / "text.h5").write_text("not hdf5")
    assert_one_line_error(invoke("zoo", "info", tmp_path / "text.h5"), "not an HDF5 file")
    assert_one_line_error(
        invoke(
            "zoo",
            "import-peft",
            tmp_path / "z.h5",
            tmp_path / "nope",
            "--backbone",
            "b",
            "--task",
            "t",
            "--condition",
            "angle=1",
            "--create",
        ),
        "adapter folder",
        "does not exist",
    )
    assert_one_line_error(
        invoke(
            "zoo",
            "import-peft",
            tmp_path / "z.h5",
            tmp_path,
            "--backbone",
            "b",
            "--task",
            "t",
            "--condition",
            "angle",
            "--create",
        ),
        "NAME=NUMBER",
    )


@pytest.mark.parametrize("text", ["0,nan", "0:inf:1", "-inf,0"])
def test_values_must_be_finite(text):
    with pytest.raises(ParamgenError, match="finite numbers"):
        parse_values(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [("90:-90:5", "STOP >= START"), ("0:1:1e-12", "at most 100,000"), ("0:1:0", "STEP > 0")],
)
def test_value_ranges_that_are_reversed_or_too_long_are_refused(text, message):
    with pytest.raises(ParamgenError, match=message):
        parse_values(text)


@pytest.mark.parametrize("values", ["0,nan", "0:1:1e-12", "90:-90:5"])
def test_a_build_with_bad_values_is_one_line_and_writes_nothing(tmp_path, values):
    result = invoke("zoo", "build", "lora", tmp_path / "zoo.h5", "--values", values)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"error: values '{values}'") and result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
