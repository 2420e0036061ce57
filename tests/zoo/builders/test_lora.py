"""The LoRA zoo builders on tiny configs, what the builder battery (tests/zoo/builders) does not
check: the chain plan and warm starts, canonical form, batched runs, other styles, continuum."""

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.families.lora import LoraSpec
from paramgen.families.lora.algebra import canonicalize, delta_weights
from zoo.builders import ContinuumConfig, LoraZooConfig, build_lora_continuum, build_lora_zoo
from zoo.store import Zoo

TINY = dict(values=(-30.0, 0.0, 15.0), steps=12, keep_last=3, batch_size=32)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("zoo") / "zoo.h5"
    build_lora_zoo(path, LoraZooConfig(**TINY))
    return path


def test_chain_plan_starts_training_values_from_inward_neighbours_and_heldout_from_nearest():
    parents = LoraZooConfig().plan.parents()  # train bins: |v| < 7.5, 22.5..37.5, 52.5..67.5, ...
    assert parents[0.0] is None
    assert parents[5.0] == 0.0 and parents[-5.0] == 0.0
    assert parents[25.0] == 5.0 and parents[-25.0] == -5.0
    assert parents[90.0] == 85.0
    assert parents[10.0] == 5.0 and parents[20.0] == 25.0
    assert parents[15.0] == 5.0  # equidistant from 5 and 25: towards 0
    heldout = [v for v in parents if LoraZooConfig().split_of(v) == "heldout"]
    assert all(LoraZooConfig().split_of(parents[v]) == "train" for v in heldout)
    assert set(LoraZooConfig(init="per-run").plan.parents().values()) == {None}


def test_chain_runs_start_from_their_parent(tmp_path):
    """One step at a small learning rate: a warm-started run stays next to its parent."""
    config = dict(values=(0.0, 30.0), steps=1, keep_last=1, lr=1e-4)
    distance = {}
    for init in ("chain", "per-run"):
        build_lora_zoo(tmp_path / f"{init}.h5", LoraZooConfig(**config, init=init))
        with Zoo.open(tmp_path / f"{init}.h5") as zoo:
            params = zoo.group("lora/digits-cnn/rotation").read().params
        distance[init] = (params[0] - params[1]).norm().item()
    assert distance["chain"] < 0.05 * distance["per-run"]


def test_canonical_option_stores_canonical_factors(tmp_path):
    config = LoraZooConfig(**{**TINY, "values": (0.0, 30.0)}, canonical=True)
    build_lora_zoo(tmp_path / "c.h5", config)
    with Zoo.open(tmp_path / "c.h5") as zoo:
        group = zoo.group("lora/digits-cnn/rotation")
        identity = group.family_config
        spec = LoraSpec(tuple(identity["target_modules"]), identity["r"], identity["lora_alpha"])
        tensors = group.tensors(4)
    again = canonicalize(tensors, spec)
    assert all((again[k] - tensors[k]).abs().max() <= 1e-5 for k in tensors)


def test_sequential_and_batched_builds_agree(tmp_path):
    config = dict(values=(0.0, 20.0), steps=4, keep_last=2, batch_size=16)  # 20°: warm start
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


def test_continuum_rows_are_exact_interpolations(built):
    config = ContinuumConfig(value_a=-30.0, value_b=0.0, count=20, task="c")
    build_lora_continuum(built, config)
    with Zoo.open(built) as zoo:
        source = zoo.group("lora/digits-cnn/rotation")
        spec = LoraSpec(("conv1", "conv2", "fc1"), 4, 4.0)
        a, b = source.tensors(5), source.tensors(2)  # last checkpoints of -30° and 0°
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
    with pytest.raises(ParamgenError, match="no row at rotation=77"):
        build_lora_continuum(built, ContinuumConfig(value_a=77.0, count=10, task="x"))
