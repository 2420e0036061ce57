"""train → generate (peft, safetensors, zoo) → eval → inspect pca, on a tiny zoo; unconditional
generators and conditions outside the training range."""

import json
import os
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from cli.app import app
from paramgen.backbones import build_backbone
from paramgen.data import load_digits16
from paramgen.generator import FIT_CHECKPOINT, GeneratorConfig, ParamGenerator
from paramgen.schema import ParamSchema, ParamSpec
from paramgen.tasks.digits import styled
from paramgen.training import accuracy
from tests.eval_checks import check_eval_json
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.peft_io import read_peft_adapter
from zoo.store import Zoo
from zoo.training_set import training_set

pytestmark = pytest.mark.usefixtures("one_thread")
runner = CliRunner()
GROUP = "lora/digits-cnn/rotation"


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    zoo = folder / "zoo.h5"
    build_lora_zoo(zoo, LoraZooConfig(values=(-30.0, 0.0, 20.0, 30.0), steps=40, keep_last=4))
    invoke(
        "train",
        zoo,
        "--group",
        GROUP,
        "--out",
        folder / "generator",
        "--ae-steps",
        "30",
        "--denoiser-steps",
        "30",
    )
    return zoo, folder / "generator"


def test_train_keeps_an_existing_generator(trained):
    zoo, generator = trained
    assert "kept" in invoke("train", zoo, "--group", GROUP, "--out", generator).output


def test_generated_peft_adapters_load_and_score_as_in_eval(trained, tmp_path):
    zoo, generator = trained
    invoke(
        "generate",
        generator,
        "--condition",
        "rotation=20",
        "--n",
        "3",
        "--seed",
        "4",
        "--out",
        tmp_path / "peft",
    )
    invoke(
        "eval",
        generator,
        zoo,
        "--values",
        "20",
        "--n",
        "3",
        "--seed",
        "4",
        "--out",
        tmp_path / "scores.json",
    )
    scores = json.loads((tmp_path / "scores.json").read_text())
    check_eval_json(scores, [20.0], 3, (0.0, 1.0), wrong_examples=True)
    scored = scores["scores"][0]["generated"]
    # Novelty figures for the generated rows, every memorisation baseline and matched noise (c).
    first = scores["scores"][0]
    novel = {"generated", *first["baselines"], "noise matched"}
    assert set(first["distances"]) == set(first["max_iou"]) == novel
    assert len(first["max_iou"]["noise matched"]) == len(first["noise_added"])
    # eval scored exactly the adapters generate wrote (same seed), and the seed matters.
    sampler = ParamGenerator.from_pretrained(generator)
    exported = sampler.schema.flatten(read_peft_adapter(tmp_path / "peft" / "sample_000").tensors)
    assert torch.allclose(exported, sampler.sample_rows({"rotation": 20.0}, 3, seed=4)[0])
    assert not torch.allclose(exported, sampler.sample_rows({"rotation": 20.0}, 3, seed=5)[0])
    with Zoo.open(zoo) as store:
        weights = store.backbone_weights("digits-cnn")
    test = styled(load_digits16("test"), "rotation", 20.0)
    for index, expected in enumerate(scored):
        base = build_backbone("digits-cnn")
        base.load_state_dict(weights)
        model = PeftModel.from_pretrained(base, tmp_path / "peft" / f"sample_{index:03d}")
        # PEFT's layers and the merged-weight evaluation round differently: a logit near-tie may
        # flip one of the 449 test images, no more.
        assert abs(accuracy(model, test) - expected) <= 1 / len(test.labels) + 1e-6


def test_every_generate_format_imports_back_to_the_same_rows(trained, tmp_path):
    """generate --format zoo | safetensors | peft, each read back by its import (the zoo store,
    zoo import-safetensors, zoo import-peft): the same tensors, the same values."""
    zoo, generator = trained
    common = ("--condition", "rotation=10", "--n", 2, "--seed", 3, "--steps", 4)
    store_path, target = tmp_path / "gen.h5", "lora/digits-cnn/rotation-generated"
    invoke("generate", generator, *common, "--format", "zoo", "--out", store_path)
    invoke("generate", generator, *common, "--format", "safetensors", "--out", tmp_path / "st")
    invoke("generate", generator, *common, "--format", "peft", "--out", tmp_path / "peft")
    files = sorted((tmp_path / "st").glob("*.safetensors"))
    invoke("zoo", "import-safetensors", store_path, target, *files)
    folders = sorted((tmp_path / "peft").iterdir())
    peft_values = ("--condition", "rotation=10", "--split", "generated", "--seed", 3)
    args = ("--backbone", "digits-cnn", "--task", "rotation-generated", *peft_values)
    invoke("zoo", "import-peft", store_path, *folders, *args)
    with Zoo.open(store_path) as store:
        rows = store.group(target).read()
    expected = ParamGenerator.from_pretrained(generator).sample_rows(
        {"rotation": 10.0}, 2, seed=3, steps=4
    )
    for start in (0, 2, 4):  # zoo, safetensors, peft
        assert torch.equal(rows.params[start : start + 2], expected)
    assert rows.conditions["rotation"].tolist() == [10.0] * 6
    assert rows.split == ["generated"] * 6 and rows.seed.tolist() == [3] * 6


def test_inspect_pca_writes_png_and_csv(trained, tmp_path):
    zoo, generator = trained
    invoke("inspect", "pca", generator, zoo, "--out", tmp_path, "--per-value", "2")
    lines = (tmp_path / "latent_pca.csv").read_text().splitlines()
    assert lines[0] == "kind,rotation,pc1,pc2" and len(lines) == 1 + 16 + 8
    assert (tmp_path / "latent_pca.png").stat().st_size > 1000


def test_generate_with_an_unknown_condition_is_a_one_line_error(trained, tmp_path):
    _, generator = trained
    result = runner.invoke(
        app, ["generate", str(generator), "--condition", "angle=3", "--out", str(tmp_path)]
    )
    assert (
        result.exit_code == 1
        and result.output.startswith("error:")
        and "Traceback" not in result.output
    )


def test_interrupted_train_resumes_from_its_checkpoint(trained, tmp_path):
    zoo, finished = trained
    out = tmp_path / "generator"
    config = replace(GeneratorConfig(), ae_steps=30, denoiser_steps=30)
    with Zoo.open(zoo) as store:
        data = training_set(store.group(GROUP), "train")

    def interrupt(stage: str, step: int, total: int, loss: float) -> None:
        if (stage, step) == ("denoiser", 15):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ParamGenerator.fit(data, config, interrupt, out / FIT_CHECKPOINT, 10)
    args = ("--ae-steps", 30, "--denoiser-steps", 30, "--checkpoint-every", 10)
    output = invoke("train", zoo, "--group", GROUP, "--out", out, *args).output
    assert "resuming from" in output
    assert not (out / FIT_CHECKPOINT).exists()
    resumed = ParamGenerator.from_pretrained(out).state_dict()
    uninterrupted = ParamGenerator.from_pretrained(finished).state_dict()
    assert all(torch.equal(resumed[k], uninterrupted[k]) for k in uninterrupted)


def test_generate_without_condition_for_a_conditional_generator_is_a_one_line_error(
    trained, tmp_path
):
    _, generator = trained
    result = runner.invoke(app, ["generate", str(generator), "--out", str(tmp_path / "x")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.strip() == (
        "error: this generator is conditioned on ['rotation']; pass --condition rotation=VALUE"
    )
    assert not (tmp_path / "x").exists()


def test_generate_outside_the_training_range_warns_and_with_strict_fails(trained, tmp_path):
    _, generator = trained
    args = ["generate", str(generator), "--condition", "rotation=400", "--n", "1"]
    args += ["--format", "safetensors", "--steps", "4"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "warned")])
    assert result.exit_code == 0, result.output
    (warning,) = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warning.startswith("warning: condition rotation=400 is outside the training range [")
    assert warning.endswith("; the generator extrapolates (pass --strict to refuse)")
    assert (tmp_path / "warned" / "sample_000.safetensors").is_file()
    strict = runner.invoke(app, [*args, "--strict", "--out", str(tmp_path / "refused")])
    assert strict.exit_code == 1 and len(strict.output.strip().splitlines()) == 1
    assert strict.output.startswith("error: condition rotation=400 is outside the training range")
    assert not (tmp_path / "refused").exists()
    inside = runner.invoke(app, [*args[:3], "rotation=0", *args[4:], "--strict", "--out", tmp_path])
    assert inside.exit_code == 0 and "warning" not in inside.output


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e39"])
def test_conditions_that_are_not_finite_in_float32_are_refused(trained, tmp_path, value):
    _, generator = trained
    refused("generate", generator, "--condition", f"rotation={value}", "--n", 1,
            "--out", tmp_path / "x", message="'rotation' contains NaN or Inf")  # fmt: skip
    assert not (tmp_path / "x").exists()


def test_a_huge_finite_condition_warns_and_writes_finite_weights(trained, tmp_path):
    _, generator = trained
    result = runner.invoke(app, ["generate", str(generator), "--condition", "rotation=1e30",
                                 "--n", "1", "--format", "safetensors", "--steps", "4",
                                 "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "rotation=1e+30 is outside the training range" in result.stderr
    weights = load_file(tmp_path / "sample_000.safetensors")
    assert all(tensor.isfinite().all() for tensor in weights.values())


@pytest.fixture(scope="module")
def unconditional(tmp_path_factory):
    """A p-diff style group (checkpoints of one model's last layer, no conditions), trained."""
    folder = tmp_path_factory.mktemp("uncond")
    schema = ParamSchema((ParamSpec("fc.weight", (10, 8)), ParamSpec("fc.bias", (10,))))
    rng = torch.Generator().manual_seed(0)
    rows = torch.randn(schema.dim, generator=rng) + 0.05 * torch.randn(8, schema.dim, generator=rng)
    with Zoo.create(folder / "zoo.h5") as store:
        group = store.create_group(
            family="pdiff", backbone="toy", task="last", schema=schema, conditions={}
        )
        group.append(rows, conditions={})
    args = ("--ae-steps", 30, "--denoiser-steps", 30)
    invoke("train", folder / "zoo.h5", "--group", "pdiff/toy/last", "--out", folder / "gen", *args)
    return folder / "gen", schema


def test_unconditional_train_and_generate_without_condition(unconditional, tmp_path):
    generator, schema = unconditional
    assert ParamGenerator.from_pretrained(generator).condition_shapes == {}
    args = ("--n", 3, "--steps", 4, "--format", "safetensors", "--out", tmp_path / "st")
    result = invoke("generate", generator, *args)
    assert "warning" not in result.output
    samples = sorted((tmp_path / "st").glob("*.safetensors"))
    assert len(samples) == 3
    with safe_open(samples[0], framework="pt") as handle:
        assert json.loads(handle.metadata()["paramgen"])["conditions"] == {}
        assert handle.get_tensor("fc.weight").shape == (10, 8)
        assert torch.isfinite(handle.get_tensor("fc.bias")).all()
    invoke(
        "generate", generator, "--n", 2, "--steps", 4, "--format", "zoo", "--out", tmp_path / "z"
    )
    invoke("zoo", "import-safetensors", tmp_path / "z", "pdiff/toy/last-generated", *samples)
    with Zoo.open(tmp_path / "z") as store:
        rows = store.group("pdiff/toy/last-generated").read()
    assert len(rows) == 5 and rows.conditions == {} and rows.params.shape == (5, schema.dim)
    for index, sample in enumerate(samples):
        with safe_open(sample, framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        assert torch.equal(rows.params[2 + index], schema.flatten(tensors))
    refused = runner.invoke(
        app, ["generate", str(generator), "--condition", "rotation=3", "--out", str(tmp_path)]
    )
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        "error: this generator is unconditional; pass no conditions, got ['rotation']"
    )


def test_a_tokenized_generator_trains_generates_and_inspects_through_the_cli(trained, tmp_path):
    zoo, _ = trained
    out = tmp_path / "tokens"
    sizes = ("--token-size", 512, "--token-width", 32, "--tokens-per-step", 64)
    invoke("train", zoo, "--group", GROUP, "--out", out, "--architecture", "tokens", *sizes,
           "--ae-steps", 10, "--denoiser-steps", 10)  # fmt: skip
    saved = json.loads((out / "config.json").read_text())["config"]
    assert saved["architecture"] == "tokens" and saved["token_size"] == 512
    invoke("generate", out, "--condition", "rotation=10", "--n", 2, "--steps", 4,
           "--format", "safetensors", "--out", tmp_path / "st")  # fmt: skip
    assert len(list((tmp_path / "st").glob("*.safetensors"))) == 2
    invoke("inspect", "pca", out, zoo, "--out", tmp_path / "pca", "--per-value", "2")
    assert len((tmp_path / "pca" / "latent_pca.csv").read_text().splitlines()) == 1 + 16 + 8
    tokens = ("--architecture", "tokens", *sizes, "--ae-steps", 1, "--denoiser-steps", 1)
    invoke("train", zoo, "--group", GROUP, "--out", tmp_path / "u", "--unconditional", *tokens)
    saved = json.loads((tmp_path / "u" / "config.json").read_text())
    assert saved["condition_shapes"] == {} and saved["config"]["row_code_dim"] == 16


def test_a_warning_raised_in_a_fit_is_one_line_not_a_traceback(trained, tmp_path, monkeypatch):
    zoo, _ = trained
    fit = ParamGenerator.fit

    def warning_fit(*args, **kwargs):
        warnings.warn("the rows look odd", UserWarning, stacklevel=2)
        return fit(*args, **kwargs)

    monkeypatch.setattr(ParamGenerator, "fit", warning_fit)
    short = ("--ae-steps", 1, "--denoiser-steps", 1)
    warned = invoke("train", zoo, "--group", GROUP, "--out", tmp_path / "w", *short)
    assert "warning: the rows look odd" in warned.output
    assert "Traceback" not in warned.output and "UserWarning" not in warned.output


def _sampled_rows(folder):
    rows = []
    for file in sorted(folder.glob("*.safetensors")):
        with safe_open(file, framework="pt") as handle:
            rows.append(torch.cat([handle.get_tensor(name).flatten() for name in handle.keys()]))
    return torch.stack(rows)


def refused(*args, message: str) -> None:
    """The command fails with one ``error:`` line that says ``message``."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 1 and message in result.output, result.output
    assert result.output.startswith("error:") and "Traceback" not in result.output


def test_train_unconditional_then_a_classifier_then_guided_generate(trained, tmp_path):
    """train --unconditional → train-classifier --by rotation → generate --guide: the guide's
    weights change what is sampled, w = 0 samples what no guide does, mistakes are one line."""
    zoo, _ = trained
    generator, classifier = tmp_path / "uncond", tmp_path / "classifier"
    steps = ("--ae-steps", 30, "--denoiser-steps", 30)
    invoke("train", zoo, "--group", GROUP, "--out", generator, "--unconditional", *steps)
    assert ParamGenerator.from_pretrained(generator).condition_shapes == {}
    labelled = ("--zoo", zoo, "--group", GROUP, "--by", "rotation", "--boundaries", "10")
    result = invoke("train-classifier", generator, *labelled, "--steps", 20, "--out", classifier)
    assert "rotation<10, rotation>=10" in result.output and "saved to" in result.output
    common = ("--n", 3, "--steps", 4, "--format", "safetensors")
    samples = {}
    for label, weights in (("bare", ()), ("zero", ("0,0",)), ("up", ("0,30",))):
        guide = ("--guide", classifier, "--guide-weights", *weights) if weights else ()
        invoke("generate", generator, *common, *guide, "--out", tmp_path / label)
        samples[label] = _sampled_rows(tmp_path / label)
    assert torch.equal(samples["bare"], samples["zero"])
    assert not torch.allclose(samples["bare"], samples["up"])
    out = ("--out", tmp_path / "x")
    refused("generate", generator, *common, "--guide", classifier, *out,
            message="got 1 --guide and 0 --guide-weights")  # fmt: skip
    refused("generate", generator, *common, "--guide", classifier, "--guide-weights", "1,2,3",
            *out, message="one weight per class")  # fmt: skip
    refused("generate", generator, *common, "--guide", tmp_path, "--guide-weights", "1,1", *out,
            message="has no config.json")  # fmt: skip
    refused("train-classifier", generator, *labelled[:4], "--by", "angle", "--boundaries", "0",
            *out, message="has no condition 'angle'")  # fmt: skip


def test_train_on_sd_schedule_then_one_more_step_then_generate_with_it(trained, tmp_path):
    """train --path ddpm-scaled-linear → train-one-more-step → generate --one-more-step: the step
    changes what is sampled; a step for another generator, or a flow generator, is one line."""
    zoo, flow_generator = trained
    generator, step = tmp_path / "sd", tmp_path / "oms"
    steps = ("--ae-steps", 30, "--denoiser-steps", 30)
    invoke("train", zoo, "--group", GROUP, "--out", generator, "--path", "ddpm-scaled-linear",
           *steps)  # fmt: skip
    data = ("--zoo", zoo, "--group", GROUP)
    result = invoke("train-one-more-step", generator, *data, "--steps", 30, "--out", step)
    assert "parameters) on" in result.output and "saved to" in result.output
    common = ("--condition", "rotation=20", "--n", 3, "--steps", 5, "--format", "safetensors")
    invoke("generate", generator, *common, "--out", tmp_path / "plain")
    invoke("generate", generator, *common, "--one-more-step", step, "--out", tmp_path / "step")
    plain, stepped = _sampled_rows(tmp_path / "plain"), _sampled_rows(tmp_path / "step")
    assert stepped.shape == plain.shape and not torch.allclose(plain, stepped)
    out = ("--out", tmp_path / "x")
    refused("generate", flow_generator, *common, "--one-more-step", step, *out,
            message="needs a generator on a DDPM path")  # fmt: skip
    refused("train-one-more-step", flow_generator, *data, *out,
            message="needs a generator on a DDPM path")  # fmt: skip
    other = tmp_path / "sd-other"
    invoke("train", zoo, "--group", GROUP, "--out", other, "--path", "ddpm-scaled-linear",
           "--seed", 1, *steps)  # fmt: skip
    refused("generate", other, *common, "--one-more-step", step, *out,
            message="fit on another generator's latents")  # fmt: skip


def _copy(folder, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    return copy


def test_bad_sampling_options_are_one_line_errors(trained, tmp_path):
    _, generator = trained
    common = ("--condition", "rotation=20", "--format", "safetensors", "--out", tmp_path / "x")
    refused("generate", generator, *common, "--steps", 0, message="steps must be >= 1")
    refused("generate", generator, *common, "--guidance", "nan", message="guidance must be finite")
    refused("generate", generator, *common, "--n", 10**9, message="sample at most")
    assert not (tmp_path / "x").exists()


BAD_TRAINING = [("--ae-steps", "0"), ("--ae-steps", "-1"), ("--latent-noise", "-0.5"),
                ("--denoiser-lr", "nan")]  # fmt: skip


@pytest.mark.parametrize("option", BAD_TRAINING)
def test_bad_training_options_are_one_line_errors(trained, tmp_path, option):
    zoo, _ = trained
    refused("train", zoo, "--group", GROUP, "--out", tmp_path / "g", *option,
            message=f"{option[0][2:].replace('-', '_')} must be")  # fmt: skip
    assert not (tmp_path / "g").exists()


def test_a_damaged_generator_folder_is_a_one_line_error(trained, tmp_path):
    _, generator = trained
    out = ("--condition", "rotation=20", "--format", "safetensors", "--out", tmp_path / "x")
    renamed = _copy(generator, tmp_path / "renamed")
    config = json.loads((renamed / "config.json").read_text())
    config["schema"][0]["name"] = "someone.else"
    (renamed / "config.json").write_text(json.dumps(config))
    refused("generate", renamed, *out, message="does not match its schema_hash")
    nan = _copy(generator, tmp_path / "nan")
    weights = load_file(nan / "model.safetensors")
    name = next(k for k, v in weights.items() if v.is_floating_point() and v.numel() > 1)
    weights[name][0] = float("nan")
    save_file(weights, nan / "model.safetensors")
    refused("generate", nan, *out, message="hold NaN or Inf")
    cut = _copy(generator, tmp_path / "cut")
    data = (cut / "model.safetensors").read_bytes()
    (cut / "model.safetensors").write_bytes(data[: len(data) // 2])
    refused("generate", cut, *out, message="not a readable safetensors file")
    typed = _copy(generator, tmp_path / "typed")
    config = json.loads((typed / "config.json").read_text())
    config["config"]["width"] = "wide"
    (typed / "config.json").write_text(json.dumps(config))
    refused("generate", typed, *out, message="config.json")
    halved = _copy(generator, tmp_path / "halved")
    text = (halved / "config.json").read_text()
    (halved / "config.json").write_text(text[: len(text) // 2])
    refused("generate", halved, *out, message="config.json")
    assert not (tmp_path / "x").exists()


def test_an_output_path_that_is_a_file_is_a_one_line_error(trained, tmp_path):
    _, generator = trained
    blocker = tmp_path / "a-file"
    blocker.write_text("keep")
    refused("generate", generator, "--condition", "rotation=20", "--out", blocker / "peft",
            message="Not a directory")  # fmt: skip
    assert blocker.read_text() == "keep"


def test_a_vector_for_a_scalar_condition_and_a_missing_export_folder_are_one_line_errors(
    trained, tmp_path
):
    zoo, generator = trained
    before = zoo.read_bytes()
    refused("generate", generator, "--condition", "rotation=10,20", "--out", tmp_path / "x",
            message="--condition rotation takes 1 number")  # fmt: skip
    refused("zoo", "export", zoo, GROUP, "--row", 0, "--format", "safetensors",
            "--out", tmp_path / "missing" / "row.safetensors",
            message="does not exist; create it first")  # fmt: skip
    assert zoo.read_bytes() == before and not (tmp_path / "x").exists()


def test_an_output_folder_the_system_refuses_is_a_one_line_error(trained):
    """A folder no one may write into, root included (sysfs takes no new entries): what a
    read-only directory is to a user who is not root."""
    _, generator = trained
    out = Path("/sys/paramgen-refused/peft")
    refused("generate", generator, "--condition", "rotation=20", "--out", out,
            message="check the path and its permissions")  # fmt: skip
    assert not out.parent.exists()


def test_pipes_given_as_input_files_are_refused_at_once(trained, tmp_path):
    zoo, _ = trained
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    refused("zoo", "info", fifo, message="not a regular file")
    refused("zoo", "export", fifo, GROUP, "--out", tmp_path / "x", message="not a regular file")
    refused("train", fifo, "--group", GROUP, "--out", tmp_path / "g", message="not a regular file")
    refused("zoo", "import-safetensors", zoo, GROUP, fifo, message="not a regular file")
    folder = tmp_path / "generator"
    folder.mkdir()
    os.mkfifo(folder / "config.json")
    os.mkfifo(folder / "model.safetensors")
    refused("generate", folder, "--out", tmp_path / "x", message="has no config.json")
