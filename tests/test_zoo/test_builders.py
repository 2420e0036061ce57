"""The LoRA zoo builders on tiny configs: rows, splits, canonical form, resuming, continuum."""

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.families import LoraSpec
from paramgen.families.lora_algebra import canonicalize, delta_weights
from zoo.builders import ContinuumConfig, LoraZooConfig, build_lora_continuum, build_lora_zoo
from zoo.store import Zoo

TINY = dict(values=(-30.0, 0.0, 15.0), steps=12, keep_last=3, batch_size=32)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("zoo") / "zoo.h5"
    build_lora_zoo(path, LoraZooConfig(**TINY))
    return path


def test_rows_conditions_splits_and_provenance(built):
    with Zoo.open(built) as zoo:
        group = zoo.group("lora/digits-cnn/rotation")
        rows = group.read()
    assert len(rows) == 9
    assert rows.conditions["rotation"].tolist() == [-30.0] * 3 + [0.0] * 3 + [15.0] * 3
    assert rows.split == ["train"] * 6 + ["heldout"] * 3  # 15° is in the bin [7.5, 22.5)
    assert rows.step.tolist() == [10, 11, 12] * 3
    assert rows.run.tolist() == [0] * 3 + [1] * 3 + [2] * 3
    assert not rows.metrics["accuracy"].isnan().any()


def test_rows_are_stored_in_canonical_form(built):
    with Zoo.open(built) as zoo:
        group = zoo.group("lora/digits-cnn/rotation")
        identity = group.family_config
        spec = LoraSpec(tuple(identity["target_modules"]), identity["r"], identity["lora_alpha"])
        tensors = group.tensors(4)
    again = canonicalize(tensors, spec)
    assert all((again[k] - tensors[k]).abs().max() <= 1e-5 for k in tensors)


def test_rebuild_skips_finished_values_and_adds_new_ones(built, tmp_path):
    seen = []
    config = LoraZooConfig(**{**TINY, "values": (-30.0, 0.0, 15.0, 45.0)})
    build_lora_zoo(built, config, on_run=lambda value, best: seen.append((value, best is None)))
    assert seen == [(-30.0, True), (0.0, True), (15.0, True), (45.0, False)]
    with Zoo.open(built) as zoo:
        assert len(zoo.group("lora/digits-cnn/rotation")) == 12


def test_sequential_and_batched_builds_agree(tmp_path):
    config = dict(values=(20.0,), steps=4, keep_last=2, batch_size=16)
    scores = {}
    for method in ("sequential", "batched"):
        path = tmp_path / f"{method}.h5"
        build_lora_zoo(path, LoraZooConfig(**config, method=method))
        with Zoo.open(path) as zoo:
            scores[method] = zoo.group("lora/digits-cnn/rotation").read()
    assert torch.allclose(scores["sequential"].params, scores["batched"].params, atol=1e-4)


def test_other_styles_build(tmp_path):
    build_lora_zoo(
        tmp_path / "s.h5", LoraZooConfig(style="stroke", values=(-1.0, 1.0), steps=3, keep_last=1)
    )
    with Zoo.open(tmp_path / "s.h5") as zoo:
        assert zoo.group("lora/digits-cnn/stroke").read().conditions["stroke"].tolist() == [
            -1.0,
            1.0,
        ]


def test_bad_configs():
    with pytest.raises(ParamgenError, match="unknown style"):
        LoraZooConfig(style="colour")
    with pytest.raises(ParamgenError, match="distinct"):
        LoraZooConfig(values=(1.0, 1.0))
    with pytest.raises(ParamgenError, match="keep_last"):
        LoraZooConfig(steps=5, keep_last=6)


def test_continuum_rows_are_exact_interpolations(built):
    config = ContinuumConfig(value_a=-30.0, value_b=0.0, count=20, task="c")
    build_lora_continuum(built, config)
    with Zoo.open(built) as zoo:
        source = zoo.group("lora/digits-cnn/rotation")
        spec = LoraSpec(("conv1", "conv2", "fc1"), 4, 4.0)
        a, b = source.tensors(2), source.tensors(5)  # last checkpoints of -30° and 0°
        group = zoo.group("lora/digits-cnn/c")
        rows = group.read()
        assert rows.conditions["lambda"].tolist() == pytest.approx([k / 20 for k in range(20)])
        assert rows.split[:4] == ["heldout", "heldout", "train", "train"]
        identity = group.family_config
        out_spec = LoraSpec(spec.targets, identity["r"], identity["lora_alpha"])
        k = 7
        got = delta_weights(group.tensors(k), out_spec)
    lam = k / 20
    for module, delta_a in delta_weights(a, spec).items():
        target = (1 - lam) * delta_a + lam * delta_weights(b, spec)[module]
        assert ((got[module] - target).norm() / target.norm()).item() <= 1e-6


def test_continuum_needs_existing_endpoints(built):
    with pytest.raises(ParamgenError, match="no adapter at rotation=77"):
        build_lora_continuum(built, ContinuumConfig(value_a=77.0, count=10, task="x"))
