"""p-diff's checkpoint collection from the command line: ``paramgen zoo build subset`` on the
built-in unconditional digits task, a generator on its rows, and ``paramgen eval`` of them."""

import json

import pytest
from typer.testing import CliRunner

from cli.app import app
from tests.eval_checks import check_eval_json
from zoo.store import Zoo

pytestmark = pytest.mark.usefixtures("one_thread")

runner = CliRunner()
GROUP = "subset/digits-cnn/digits"


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    zoo = tmp_path_factory.mktemp("subset") / "zoo.h5"
    invoke("zoo", "build", "subset", zoo, "--checkpoints", 8, "--every", 2)
    return zoo


def test_build_keeps_the_last_layer_every_other_step(built):
    with Zoo.open(built) as zoo:
        group = zoo.group(GROUP)
        rows = group.read()
        assert sorted(group.schema.names) == ["fc2.bias", "fc2.weight"]  # the default --keys
    assert rows.step.tolist() == [2, 4, 6, 8, 10, 12, 14, 16]
    assert rows.conditions == {} and rows.split == ["train"] * 8
    assert ((rows.metrics["accuracy"] > 0) & (rows.metrics["accuracy"] <= 1)).all()


def test_cli_eval_scores_an_unconditional_subset_group(built, tmp_path):
    generator = tmp_path / "generator"
    invoke(
        "train", built, "--group", GROUP, "--out", generator, "--ae-steps", 3, "--denoiser-steps", 3
    )
    invoke("eval", generator, built, "--n", 3, "--out", tmp_path / "scores.json")
    scores = json.loads((tmp_path / "scores.json").read_text())
    check_eval_json(scores, [None], 3, (0.0, 1.0), wrong_examples=True)
    assert scores["scores"][0]["split"] == "train" and list(scores["summary"]) == ["train"]
