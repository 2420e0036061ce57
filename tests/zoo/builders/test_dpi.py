"""The DPI zoo builder on tiny configs, what the builder battery (tests/zoo/builders) does not
check: the row layout, rebuilding a row, the warm start, the ``paramgen zoo build dpi`` command
and ``paramgen train`` on a DPI group."""

import json
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from cli.app import app
from paramgen.backbones import build_backbone
from paramgen.data import load_digits16
from paramgen.errors import ParamgenError
from paramgen.families.dpi import DpiConfig, DpiFamily
from paramgen.tasks.denoising import denoising_mse
from paramgen.tasks.digits import styled
from tests.eval_checks import check_eval_json, train_then_eval
from zoo.bases import base_model
from zoo.builders import DpiZooConfig, build_dpi_zoo
from zoo.store import Zoo

pytestmark = pytest.mark.usefixtures("one_thread")
GROUP = "dpi/digits-unet-small/stroke"
TINY = dict(values=(-0.5, 0.0, 0.5), heldout=(0.5,), steps=6, keep_last=2, batch_size=16)


@pytest.fixture(scope="module")
def base_zoo(tmp_path_factory):
    """A zoo holding only the pretrained base (pretraining it once for the whole module)."""
    path = tmp_path_factory.mktemp("base") / "base.h5"
    with Zoo.create(path) as zoo:
        base_model(zoo, "digits-unet-small", 0)
    return path


@pytest.fixture
def fresh(base_zoo, tmp_path):
    """A writable copy of the base-only zoo."""
    return shutil.copy(base_zoo, tmp_path / "zoo.h5")


@pytest.fixture(scope="module")
def built(base_zoo, tmp_path_factory):
    path = shutil.copy(base_zoo, tmp_path_factory.mktemp("zoo") / "zoo.h5")
    build_dpi_zoo(path, DpiZooConfig(**TINY))
    return path


def test_rows_hold_both_copies_and_the_lambda_logits(built):
    """The builder battery (tests/zoo/builders) checks rows, splits and steps; this the layout."""
    with Zoo.open(built) as zoo:
        group = zoo.group(GROUP)
        rows = group.read()
        assert group.family_config["table_size"] == 64
        names = group.schema.names
    assert (rows.metrics["mse"] > 0).all()
    # θ0 and θ1 of every U-Net parameter, then λ's 63 logits: no buffers.
    half = len(list(build_backbone("digits-unet-small").parameters()))
    assert len(names) == 2 * half + 1 and names[-1] == "lam.logits"
    assert rows.params.shape[1] == 2 * 18385 + 63


def test_a_stored_row_rebuilds_into_a_dpi_with_its_stored_mse(built):
    with Zoo.open(built) as zoo:
        group = zoo.group(GROUP)
        row = int(group.indices(stroke=0.5)[-1])
        stored = group.read(row).metrics["mse"].item()
        dpi = DpiFamily().apply(
            base_model(zoo, "digits-unet-small", 0), DpiConfig(table_size=64), group.tensors(row)
        )
    test = styled(load_digits16("test"), "stroke", 0.5)
    assert denoising_mse(dpi, test) == pytest.approx(stored, rel=1e-5)


def test_training_starts_from_the_base_with_both_copies_equal(fresh):
    """One step at a tiny learning rate: θ0 and θ1 are still the base weights."""
    config = DpiZooConfig(values=(0.0,), heldout=(), steps=1, keep_last=1, lr=1e-7)
    build_dpi_zoo(fresh, config)
    with Zoo.open(fresh) as zoo:
        tensors = zoo.group(GROUP).tensors(0)
        base = zoo.backbone_weights("digits-unet-small")
    for name, weight in base.items():
        assert (tensors[f"theta0.{name}"] - weight).abs().max() <= 1e-6
        assert (tensors[f"theta1.{name}"] - weight).abs().max() <= 1e-6


def test_apply_refuses_a_row_of_another_table_size(built):
    with Zoo.open(built) as zoo, pytest.raises(ParamgenError, match="lam.logits"):
        DpiFamily().apply(
            base_model(zoo, "digits-unet-small", 0),
            DpiConfig(table_size=32),
            zoo.group(GROUP).tensors(0),
        )


def test_a_backbone_that_is_not_an_unconditional_denoiser_is_refused(tmp_path):
    with pytest.raises(ParamgenError, match="'digits-cnn' is not an unconditional denoiser"):
        build_dpi_zoo(tmp_path / "zoo.h5", DpiZooConfig(**TINY, backbone="digits-cnn"))
    assert not (tmp_path / "zoo.h5").exists()


def test_cli_builds_a_tiny_dpi_zoo(fresh):
    args = ["zoo", "build", "dpi", str(fresh), "--values", "0,0.5", "--heldout", "0.5"]
    args += ["--steps", "3", "--keep-last", "1", "--batch-size", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "stroke +0.5 (heldout): mse" in result.output
    with Zoo.open(fresh) as zoo:
        assert zoo.group(GROUP).read().split == ["train", "heldout"]


def test_cli_trains_a_generator_with_the_dpi_defaults_and_its_rows_rebuild(built, tmp_path):
    runner, out = CliRunner(), tmp_path / "generator"
    args = ["train", str(built), "--group", GROUP, "--out", str(out)]
    result = runner.invoke(app, [*args, "--ae-steps", "3", "--denoiser-steps", "3"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["config"]
    assert config["centre"] == "element" and config["ae_channels"] == []  # the DPI family's
    samples = tmp_path / "samples"
    args = ["generate", str(out), "--condition", "stroke=0.5", "--format", "safetensors"]
    result = runner.invoke(app, [*args, "--out", str(samples), "--n", "2"])
    assert result.exit_code == 0, result.output
    with Zoo.open(built) as zoo:
        base = base_model(zoo, "digits-unet-small", 0)
    dpi = DpiFamily().apply(
        base, DpiConfig(table_size=64), load_file(samples / "sample_001.safetensors")
    )
    assert torch.isfinite(dpi(torch.zeros(1, 1, 16, 16), 0.5)).all()

    overridden = tmp_path / "overridden"
    args = ["train", str(built), "--group", GROUP, "--out", str(overridden), "--centre", "tensor"]
    result = runner.invoke(
        app, [*args, "--autoencoder", "conv", "--ae-steps", "1", "--denoiser-steps", "1"]
    )
    assert result.exit_code == 0, result.output
    config = json.loads((overridden / "config.json").read_text())["config"]
    assert config["centre"] == "tensor" and config["ae_channels"] == [32, 64, 64]


# The held-out stroke 0.5 lies past the training values: the generator says it extrapolates.
@pytest.mark.filterwarnings("ignore:condition stroke=0.5 is outside the training range")
def test_cli_eval_scores_a_dpi_group_and_its_baselines(built, tmp_path):
    # One value, one row each: every DPI score denoises the whole test set at 8 noise levels.
    scores = train_then_eval(built, GROUP, "0.5", 1, tmp_path)
    # MSE: finite and >= 0; denoising has no wrong examples, so no error-set IoU.
    check_eval_json(scores, [0.5], 1, (0.0, math.inf), wrong_examples=False)
    assert scores["scores"][0]["split"] == "heldout"


def test_a_chain_build_warm_starts_each_run_from_its_neighbour(base_zoo, tmp_path):
    logits = {}
    for init in ("chain", "per-run"):
        path = shutil.copy(base_zoo, tmp_path / f"{init}.h5")
        build_dpi_zoo(path, DpiZooConfig(**{**TINY, "steps": 2, "keep_last": 2}, init=init))
        with Zoo.open(path) as zoo:
            group = zoo.group(GROUP)
            assert group.backbone_spec["builder"]["init"] == init
            rows = group.read()
        assert sorted(set(rows.seed.tolist())) == [0, 1, 2]  # a seed per run in both

        def lam(value: float, which: int, rows=rows, group=group) -> torch.Tensor:
            row = rows.params[rows.conditions["stroke"] == value][which]
            return group.schema.unflatten(row)["lam.logits"]

        logits[init] = (lam(-0.5, 0) - lam(0.0, -1)).norm()
    # chain: -0.5's first checkpoint is one Adam step (<= 0.2 per logit, λ's rate) from 0.0's
    # last: at most 0.2·√63 ≈ 1.6 apart; per-run draws its logits afresh: ≈ √(2·63) ≈ 11 apart
    assert logits["chain"] <= 0.2 * 63**0.5 + 1e-4 < 0.3 * logits["per-run"]
