"""`paramgen run` — the main job — on a tiny config: every stage's output, then a cached resume."""

import json

from typer.testing import CliRunner

from cli.app import app
from zoo.store import Zoo

TINY = [
    "--angles=-30,-15,0,15,30",
    "--steps",
    "150",
    "--ae-steps",
    "30",
    "--denoiser-steps",
    "30",
    "--samples",
    "3",
]


def test_run_writes_every_stage_and_resumes(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["run", "--out", str(tmp_path), *TINY])
    assert result.exit_code == 0, result.output
    with Zoo.open(tmp_path / "zoo.h5") as zoo:
        rows = zoo.group("lora/digits-cnn/rotation").read()
    assert len(rows) == 5 * 10
    assert rows.split.count("heldout") == 20  # ±15° lie in the held-out bins
    assert rows.metrics["accuracy"].min().item() > 0.5
    assert (tmp_path / "generator" / "config.json").exists()
    scores = json.loads((tmp_path / "evaluation.json").read_text())
    assert [s["value"] for s in scores] == [-30.0, -15.0, 0.0, 15.0, 30.0]
    assert all(len(s["generated"]) == 3 and 0 <= min(s["generated"]) <= 1 for s in scores)
    report = (tmp_path / "report" / "report.md").read_text()
    assert "| heldout | 2 |" in report and "| train | 3 |" in report
    for name in ("accuracy_vs_condition.png", "latent_pca.png", "latent_pca.csv", "scores.json"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    # The zoo is reopened for appending (HDF5 rewrites its superblock), so check its rows instead.
    cached = [tmp_path / "generator" / "model.safetensors", tmp_path / "evaluation.json"]
    before = [path.stat().st_mtime_ns for path in cached]
    again = runner.invoke(app, ["run", "--out", str(tmp_path), *TINY])
    assert again.exit_code == 0, again.output
    assert "| heldout | 2 |" in again.output
    # Generator and evaluation come from the cache: neither is written again; the zoo gains no row.
    assert [path.stat().st_mtime_ns for path in cached] == before
    with Zoo.open(tmp_path / "zoo.h5") as zoo:
        assert len(zoo.group("lora/digits-cnn/rotation")) == 5 * 10
