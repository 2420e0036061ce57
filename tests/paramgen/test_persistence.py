"""Every class saved through :class:`paramgen.persistence.Pretrained`, through one battery:
save → load → identical outputs, a self-describing config.json, unknown keys warn, missing keys
and other classes' folders are refused, and broken files are one-line errors naming the file.

Every module of paramgen is imported first, so a saved class without an example here fails."""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

import paramgen
from paramgen.classifiers import NoiseAwareClassifier
from paramgen.errors import ParamgenError
from paramgen.families import get_family
from paramgen.families.dpi import DPI, DpiConfig
from paramgen.families.mac import MacConvNet
from paramgen.generator import GeneratorConfig, ParamGenerator, TrainingSet
from paramgen.persistence import CONFIG_FILE, PRETRAINED, WEIGHTS_FILE, Pretrained
from paramgen.schema import ParamSchema, ParamSpec
from paramgen.solvers import OneMoreStep

pytestmark = pytest.mark.usefixtures("one_thread")

for module in pkgutil.walk_packages(paramgen.__path__, "paramgen."):
    importlib.import_module(module.name)  # registers every saved class
SAVED = sorted(PRETRAINED)


@dataclass
class Example:
    """A saved class's tiny instance, what it computes, and what loading needs besides the
    folder (a DPI's fresh module)."""

    model: Pretrained
    run: Callable[[Pretrained], torch.Tensor]
    load_args: tuple = ()


def tiny_generator() -> Example:
    generator = torch.Generator().manual_seed(0)
    schema = ParamSchema((ParamSpec("a.weight", (3, 4)), ParamSpec("b.bias", (5,))))
    angle = torch.linspace(-1, 1, 8)
    params = angle[:, None] * torch.randn(schema.dim, generator=generator)
    data = TrainingSet(params, {"angle": angle}, schema, {"family": "test"})
    config = GeneratorConfig(
        latent_dim=4,
        ae_channels=(2,),
        ae_stride=2,
        ae_steps=2,
        width=8,
        depth=1,
        condition_dim=4,
        denoiser_steps=2,
        batch_size=4,
    )
    return Example(
        ParamGenerator.fit(data, config), lambda g: g.sample_rows({"angle": 0.3}, 3, seed=2)
    )


def conv_net() -> nn.Module:
    """Norm layers too: their buffers are part of the saved state."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.GroupNorm(2, 4), nn.Conv2d(4, 1, 1)
    ).eval()


def tiny_dpi() -> Example:
    torch.manual_seed(0)
    dpi = DPI(conv_net(), 0.01, 1.0, table_size=8, log_scale=True)
    with torch.no_grad():
        for p in dpi.theta1.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x, s = torch.randn(3, 1, 8, 8), torch.tensor([0.01, 0.2, 1.0])
    return Example(dpi, lambda d: d(x, s), (conv_net(),))


def tiny_mac_net() -> Example:
    torch.manual_seed(0)
    x = torch.randn(2, 1, 12, 12)
    return Example(MacConvNet(hidden=4, depth=1, sigma=1.5, kernel=7), lambda net: net(x))


def tiny_classifier() -> Example:
    torch.manual_seed(0)
    classifier = NoiseAwareClassifier("conv", (1, 8, 8), ("left", "right"), 8, "linear")
    classifier.temperature.fill_(1.7)  # a buffer: saved and restored with the weights
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([0.1, 0.5, 0.9])
    return Example(classifier, lambda c: c(x, t))


def tiny_one_more_step() -> Example:
    torch.manual_seed(0)
    step = OneMoreStep((1, 4, 4), classes=3, width=8, guidance_scale=2.0)
    noise, labels = torch.randn(3, 1, 4, 4), torch.tensor([0, 2, 1])
    return Example(step, lambda s: s.guided_estimate(noise, labels=labels))


EXAMPLES: dict[str, Callable[[], Example]] = {
    "OneMoreStep": tiny_one_more_step,
    "NoiseAwareClassifier": tiny_classifier,
    "ParamGenerator": tiny_generator,
    "DPI": tiny_dpi,
    "MacConvNet": tiny_mac_net,
}


@cache
def example(name: str) -> Example:
    if name not in EXAMPLES:
        pytest.fail(f"{name} is saved with Pretrained but has no example in EXAMPLES")
    return EXAMPLES[name]()


def saved(name: str, folder: Path) -> Path:
    return example(name).model.save_pretrained(folder)


def load(name: str, folder: Path) -> Pretrained:
    return PRETRAINED[name].from_pretrained(folder, *example(name).load_args)


def rewrite_config(folder: Path, change: Callable[[dict], None]) -> None:
    described = json.loads((folder / CONFIG_FILE).read_text())
    change(described)
    (folder / CONFIG_FILE).write_text(json.dumps(described))


def one_line_error(name: str, folder: Path, match: str) -> str:
    with pytest.raises(ParamgenError, match=match) as caught:
        load(name, folder)
    assert "\n" not in str(caught.value)
    return str(caught.value)


def test_every_saved_class_has_an_example():
    assert SAVED == sorted(EXAMPLES)


@pytest.mark.parametrize("name", SAVED)
def test_save_then_load_gives_identical_outputs(name, tmp_path):
    folder = saved(name, tmp_path / "saved")
    described = json.loads((folder / CONFIG_FILE).read_text())
    assert described["class"] == name
    assert described["paramgen_version"] == paramgen.__version__
    loaded = load(name, folder)
    assert type(loaded) is PRETRAINED[name] and not loaded.training
    with torch.no_grad():
        assert torch.equal(example(name).run(loaded), example(name).run(example(name).model))


@pytest.mark.parametrize("name", SAVED)
def test_unknown_keys_warn_and_are_ignored(name, tmp_path):
    folder = saved(name, tmp_path / "saved")
    rewrite_config(folder, lambda described: described.update(from_the_future=1))
    with pytest.warns(UserWarning, match=r"config.json: ignoring unknown config keys.*from_the"):
        load(name, folder)


@pytest.mark.parametrize("name", SAVED)
def test_a_missing_key_is_refused_by_name(name, tmp_path):
    folder = saved(name, tmp_path / "saved")
    required = sorted(set(PRETRAINED[name].config_keys) - PRETRAINED[name].optional_keys)
    for key in required:
        rewrite_config(folder, lambda described, key=key: described.pop(key))
        one_line_error(name, folder, rf"config.json lacks the required keys \['{key}'\]")
        saved(name, folder)


@pytest.mark.parametrize("name", SAVED)
def test_another_class_folder_is_refused(name, tmp_path):
    other = next(n for n in SAVED if n != name)
    folder = saved(other, tmp_path / "other")
    one_line_error(name, folder, f"holds a '{other}', not a {name}; load it with {other}")


@pytest.mark.parametrize("name", SAVED)
def test_broken_folders_are_one_line_errors_naming_the_file(name, tmp_path):
    one_line_error(name, tmp_path / "missing", "has no config.json")
    folder = saved(name, tmp_path / "saved")
    (folder / CONFIG_FILE).write_text("{not json")
    one_line_error(name, folder, "config.json is not valid JSON")
    (folder / CONFIG_FILE).write_text("[1, 2]")
    one_line_error(name, folder, "config.json names no class")
    saved(name, folder)
    state = load_file(folder / WEIGHTS_FILE)
    del state[next(iter(example(name).model.state_dict()))]  # a parameter, not a BatchNorm counter
    save_file(state, folder / WEIGHTS_FILE)
    one_line_error(name, folder, r"model.safetensors does not match its config.json \(Missing")
    (folder / WEIGHTS_FILE).write_bytes(b"not safetensors")
    one_line_error(name, folder, "model.safetensors is not a readable safetensors file")
    (folder / WEIGHTS_FILE).unlink()
    one_line_error(name, folder, "has no model.safetensors")


def test_earlier_formats_still_load(tmp_path):
    """ParamGenerator folders keep the keys they always had; DPI folders had no version; DPI zoo
    groups built before the family protocol name the wrapped module."""
    folder = saved("ParamGenerator", tmp_path / "generator")
    described = json.loads((folder / CONFIG_FILE).read_text())
    expected = {"class", "paramgen_version", "config", "schema", "condition_shapes", "metadata"}
    expected.add("schema_hash")  # added later; a folder without it still loads
    assert set(described) == expected
    folder = saved("DPI", tmp_path / "dpi")
    rewrite_config(folder, lambda described: described.pop("paramgen_version"))
    dpi = example("DPI")
    with torch.no_grad():
        assert torch.equal(dpi.run(load("DPI", folder)), dpi.run(dpi.model))
    legacy = {"class": "DPI", "module": "DigitsUNet", "s_min": 0.0, "s_max": 1.0, "table_size": 8}
    assert get_family("dpi").config_from_dict({**legacy, "log_scale": False}) == DpiConfig(8)
