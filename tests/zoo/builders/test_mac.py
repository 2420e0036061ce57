"""The MAC zoo builder on a tiny config, what the builder battery (tests/zoo/builders) does not
check: the shared anchor, rebuilding a row and the ``paramgen zoo build mac`` command.

The zoo is seeded with an untrained flow model and classifier under the builder's names, so
``base_model`` reads them instead of pretraining (what a real build does once per zoo).
"""

import math
import shutil

import pytest
import torch
from typer.testing import CliRunner

from cli.app import app
from paramgen.backbones import DigitsCNN, DigitsUNet
from paramgen.data import load_digits16
from paramgen.errors import ParamgenError
from paramgen.families.mac import MacFamily
from paramgen.families.mac.training import mac_images
from paramgen.frechet import FrechetScorer
from paramgen.tasks.flow_sampling import CLASSIFIER, FLOW_BACKBONE, evaluation_noise
from tests.eval_checks import check_eval_json, train_then_eval
from zoo.bases import base_model
from zoo.builders import MacZooConfig, build_mac_zoo
from zoo.store import Zoo

GROUP = f"mac/{FLOW_BACKBONE}/nfe"
TINY = dict(
    nfes=(2, 3, 4),
    heldout=(3,),
    anchor_iterations=2,
    iterations=3,
    keep_last=2,
    batch_size=4,
    hidden=4,
    depth=1,
)
TINY_SAMPLES = 32


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def base_zoo(one_thread, tmp_path_factory):
    """A zoo holding an untrained flow model and classifier (no pretraining in tests)."""
    path = tmp_path_factory.mktemp("base") / "base.h5"
    torch.manual_seed(0)
    with Zoo.create(path) as zoo:
        zoo.store_backbone(FLOW_BACKBONE, DigitsUNet().state_dict(), {"name": FLOW_BACKBONE})
        zoo.store_backbone(CLASSIFIER, DigitsCNN().state_dict(), {"name": CLASSIFIER})
    return path


@pytest.fixture(scope="module")
def built(base_zoo, tmp_path_factory):
    path = shutil.copy(base_zoo, tmp_path_factory.mktemp("zoo") / "zoo.h5")
    build_mac_zoo(path, MacZooConfig(**TINY, samples=TINY_SAMPLES))
    return path


def test_runs_fine_tune_one_anchor(built):
    """The builder battery (tests/zoo/builders) checks rows, splits and steps; this the anchor."""
    with Zoo.open(built) as zoo:
        group = zoo.group(GROUP)
        rows = group.read()
        family_config = group.family_config
    assert (rows.metrics["fd"] > 0).all()
    assert family_config["class"] == "MacConvNet" and family_config["hidden"] == 4
    # every run fine-tunes the same anchor: rows differ by their NFE, not by their init
    assert not torch.equal(rows.params[1], rows.params[3])
    assert (rows.params[1] - rows.params[5]).norm() < 0.5 * rows.params[1].norm()


def test_a_stored_row_rebuilds_into_a_net_with_its_stored_fd(built):
    with Zoo.open(built) as zoo:
        group = zoo.group(GROUP)
        row = int(group.indices(nfe=3)[-1])
        stored = group.read(row).metrics["fd"].item()
        family = MacFamily()
        velocity = base_model(zoo, FLOW_BACKBONE, 0)
        sampler = family.apply(
            velocity, family.config_from_dict(group.family_config), group.tensors(row)
        )
        scorer = FrechetScorer(base_model(zoo, CLASSIFIER, 0), load_digits16("test").images)
    noise = evaluation_noise(TINY_SAMPLES)
    assert scorer(sampler(noise, 3)) == pytest.approx(stored, rel=1e-6)
    net = sampler.net
    with torch.no_grad():
        assert torch.equal(mac_images(net, velocity, noise, 3), mac_images(net, velocity, noise, 3))


def test_a_rebuilt_row_refuses_other_tensors(built):
    with Zoo.open(built) as zoo:
        group = zoo.group(GROUP)
        tensors = group.tensors(0)
        family = MacFamily()
        config = family.config_from_dict(group.family_config)
        velocity = base_model(zoo, FLOW_BACKBONE, 0)
    with pytest.raises(ParamgenError, match="missing"):
        family.apply(velocity, config, {k: v for k, v in tensors.items() if k != "out.bias"})
    with pytest.raises(ParamgenError, match="shape"):
        family.apply(velocity, config, {**tensors, "out.bias": torch.zeros(3)})


def test_the_build_command(base_zoo, tmp_path):
    path = shutil.copy(base_zoo, tmp_path / "cli.h5")
    arguments = ["zoo", "build", "mac", str(path), "--nfes", "2,3", "--heldout", "3"]
    arguments += [
        "--anchor-iterations",
        "0",
        "--iterations",
        "2",
        "--keep-last",
        "1",
        "--batch-size",
        "4",
        "--hidden",
        "4",
    ]
    arguments += ["--depth", "1", "--samples", str(TINY_SAMPLES)]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "complete" in result.output
    with Zoo.open(path) as zoo:
        rows = zoo.group(GROUP).read()
    assert rows.conditions["nfe"].tolist() == [2.0, 3.0] and rows.split == ["train", "heldout"]
    bad = CliRunner().invoke(app, ["zoo", "build", "mac", str(path), "--nfes", "2.5"])
    assert bad.exit_code != 0 and "nfes" in bad.output


def test_cli_eval_scores_a_mac_group_and_its_baselines(built, tmp_path):
    scores = train_then_eval(built, GROUP, "3", 2, tmp_path)
    # Fréchet distance: finite and >= 0; sampling has no wrong examples, so no error-set IoU.
    check_eval_json(scores, [3.0], 2, (0.0, math.inf), wrong_examples=False)
    assert scores["scores"][0]["split"] == "heldout"
