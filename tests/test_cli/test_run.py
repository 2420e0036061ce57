"""`paramgen run` — the main job — builds the zoo and resumes instead of redoing work."""

import time

from typer.testing import CliRunner

from cli.app import app
from zoo.store import Zoo


def test_run_builds_the_zoo_and_resumes(tmp_path):
    runner = CliRunner()
    args = ["run", "--out", str(tmp_path), "--angles=-60,-15,60"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with Zoo.open(tmp_path / "zoo.h5") as zoo:
        group = zoo.group("lora/digits-cnn/rotation")
        rows = group.read()
        assert len(rows) == 3 * 10
        assert sorted(set(rows.conditions["rotation"].tolist())) == [-60.0, -15.0, 60.0]
        assert rows.split.count("heldout") == 10  # -15° falls in the held-out bin [-22.5, -7.5)
        # The base model is near chance on digits rotated by 60°; the adapters restore most of it.
        assert rows.metrics["accuracy"].min().item() > 0.6
        assert "digits-cnn" in zoo.backbones()
    started = time.monotonic()
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and again.output.count("already built") == 3
    assert time.monotonic() - started < 10
