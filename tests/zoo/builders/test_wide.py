"""Zoos at scale on the wide built-in backbone (digits-mlp-wide, 4.7M parameters), through the
same builders as the small ones: rank-16 LoRA rows of 102,400 numbers and p-diff subset rows of
its widest layer, 4,196,352 numbers. Tiny plans on untrained bases keep it to seconds."""

import pytest
import torch

from paramgen.backbones import backbone_entry, build_backbone
from paramgen.tasks import resolve_task
from paramgen.tasks.digits import WIDE_DIGITS
from zoo.builders import LoraZooConfig, SubsetZooConfig, build_lora_zoo, build_subset_zoo
from zoo.store import Zoo

pytestmark = pytest.mark.usefixtures("one_thread")

WIDE = "digits-mlp-wide"


@pytest.fixture(scope="module")
def untrained(tmp_path_factory):
    """A zoo holding only the wide backbone's base, untrained (so no test pretrains it)."""
    path = tmp_path_factory.mktemp("wide") / "bases.h5"
    with Zoo.create(path) as zoo:
        zoo.store_backbone(WIDE, build_backbone(WIDE, 0).state_dict(), {"name": WIDE})
    return path


def zoo_from(untrained, path):
    path.write_bytes(untrained.read_bytes())
    return path


def test_the_wide_backbone_is_registered_with_its_wide_layers_as_lora_targets():
    model = build_backbone(WIDE)
    assert sum(p.numel() for p in model.parameters()) == 4_743_178
    assert backbone_entry(WIDE).lora_targets == ("fc1", "fc2")
    assert model(torch.zeros(3, 1, 16, 16)).shape == (3, 10)


def test_a_rank_16_lora_zoo_has_rows_of_over_100k_numbers(untrained, tmp_path):
    path = zoo_from(untrained, tmp_path / "lora.h5")
    config = LoraZooConfig(
        backbone=WIDE, rank=16, alpha=16.0, values=(-15.0, 0.0, 15.0), steps=2, keep_last=1
    )
    build_lora_zoo(
        path,
        config,
    )
    with Zoo.open(path) as zoo:
        group = zoo.group(f"lora/{WIDE}/rotation")
        rows = group.read()
    assert group.schema.dim == 16 * (256 + 2048) + 16 * (2048 + 2048) == 102_400
    assert rows.params.shape == (3, 102_400) and rows.params.isfinite().all()
    by_angle = dict(zip(rows.conditions["rotation"].tolist(), rows.split, strict=True))
    assert by_angle == {-15.0: "heldout", 0.0: "train", 15.0: "heldout"}


def test_a_subset_zoo_of_the_widest_layer_has_rows_of_over_a_million_numbers(untrained, tmp_path):
    path = zoo_from(untrained, tmp_path / "subset.h5")
    base = build_backbone(WIDE).fc2
    build_subset_zoo(path, SubsetZooConfig(patterns=("fc2.*",), task=WIDE_DIGITS, checkpoints=2))
    with Zoo.open(path) as zoo:
        group = zoo.group(f"subset/{WIDE}/digits")
        rows = group.read()
        first = group.tensors(0)
    assert group.schema.dim == 2048 * 2048 + 2048 == 4_196_352
    assert sorted(group.schema.names) == ["fc2.bias", "fc2.weight"]
    assert rows.params.shape == (2, 4_196_352) and rows.step.tolist() == [1, 2]
    assert not torch.equal(first["fc2.weight"], base.weight)  # the checkpoints are trained ones


def test_the_wide_task_is_named_from_the_command_line():
    task = resolve_task("paramgen.tasks.digits:WIDE_DIGITS")
    assert task is WIDE_DIGITS and task.backbone_name == WIDE and task.condition is None
