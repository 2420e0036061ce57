"""`paramgen run` — the main job — builds the default zoo and resumes instead of redoing work."""

import time

from typer.testing import CliRunner

from cli.app import app
from zoo.builders import RotationLoraConfig
from zoo.store import Zoo


def test_run_builds_the_default_zoo_and_resumes(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    config = RotationLoraConfig()
    with Zoo.open(tmp_path / "zoo.h5") as zoo:
        group = zoo.group("lora/digits-cnn/rotation")
        assert len(group) == len(config.angles) * config.keep_last
        rows = group.read()
        assert sorted(set(rows.conditions["angle"].tolist())) == sorted(config.angles)
        # A LoRA trained on rotated digits classifies them far above chance.
        assert rows.metrics["accuracy"].min().item() > 0.6
        assert "digits-cnn" in zoo.backbones()
    started = time.monotonic()
    again = runner.invoke(app, ["run", "--out", str(tmp_path)])
    assert again.exit_code == 0 and again.output.count("already built") == len(config.angles)
    assert time.monotonic() - started < 10
