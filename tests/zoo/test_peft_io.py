"""PEFT adapter folders in and out of the zoo, and every way a folder can be wrong."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file, save_file

from paramgen.backbones import build_backbone
from paramgen.errors import ParamgenError
from paramgen.families.lora import LoraSpec, attach_lora
from zoo.peft_io import (
    export_peft_adapter,
    import_peft_adapter,
    import_peft_adapters,
    read_peft_adapter,
)
from zoo.store import Zoo

SPEC = LoraSpec(targets=("conv1", "conv2", "fc1"), rank=4, alpha=8.0)


@pytest.fixture
def adapter_dir(tmp_path) -> Path:
    backbone = build_backbone("digits-cnn", seed=0)
    torch.manual_seed(1)
    model = attach_lora(backbone, SPEC, random_init=True)
    model.save_pretrained(tmp_path / "source")
    return tmp_path / "source"


def test_exported_adapter_loads_into_a_fresh_backbone_with_identical_outputs(tmp_path, adapter_dir):
    source = PeftModel.from_pretrained(build_backbone("digits-cnn", seed=0), adapter_dir).eval()
    with Zoo.create(tmp_path / "zoo.h5") as zoo:
        group, row = import_peft_adapter(
            zoo,
            adapter_dir,
            backbone="digits-cnn",
            task="rot",
            conditions={"angle": 30.0},
            metrics={"accuracy": 0.9},
        )
        export_peft_adapter(group, row, tmp_path / "exported")
    fresh = build_backbone("digits-cnn", seed=0)
    loaded = PeftModel.from_pretrained(fresh, tmp_path / "exported").eval()
    images = torch.rand(64, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference, output = source(images), loaded(images)
    assert (output - reference).abs().max().item() <= 1e-6
    # The adapter really changes the model, so the comparison above is not vacuous.
    with torch.no_grad():
        plain = build_backbone("digits-cnn", seed=0)(images)
    assert (plain - output).abs().max().item() > 1e-3


def test_import_twice_appends_two_rows_in_one_group(tmp_path, adapter_dir):
    with Zoo.create(tmp_path / "zoo.h5") as zoo:
        for angle in (10.0, 20.0):
            group, _ = import_peft_adapter(
                zoo, adapter_dir, backbone="cnn", task="rot", conditions={"angle": angle}
            )
        assert len(group) == 2 and group.family_config["r"] == 4
        assert group.family_config["target_modules"] == ["conv1", "conv2", "fc1"]


def test_adapter_with_other_scaling_is_refused_by_the_group(tmp_path, adapter_dir):
    # Same tensors and shapes, but alpha differs: the stored numbers would mean another ΔW.
    other = attach_lora(
        build_backbone("digits-cnn"), LoraSpec(SPEC.targets, rank=4, alpha=2.0), True
    )
    other.save_pretrained(tmp_path / "other")
    with Zoo.create(tmp_path / "zoo.h5") as zoo:
        import_peft_adapter(zoo, adapter_dir, backbone="cnn", task="rot", conditions={"angle": 0})
        with pytest.raises(ParamgenError, match=r"differs .* in lora_alpha \(2.0 vs 8.0\)"):
            import_peft_adapter(
                zoo, tmp_path / "other", backbone="cnn", task="rot", conditions={"angle": 0}
            )


def _rewrite_weights(folder: Path, change) -> None:
    path = folder / "adapter_model.safetensors"
    tensors = load_file(path)
    change(tensors)
    save_file(tensors, path)


def test_missing_folder_config_and_weights(tmp_path, adapter_dir):
    with pytest.raises(ParamgenError, match="does not exist"):
        read_peft_adapter(tmp_path / "nowhere")
    (adapter_dir / "adapter_model.safetensors").rename(adapter_dir / "adapter_model.bin")
    with pytest.raises(ParamgenError, match="pickled adapter_model.bin"):
        read_peft_adapter(adapter_dir)
    (adapter_dir / "adapter_config.json").unlink()
    with pytest.raises(ParamgenError, match="no adapter_config.json"):
        read_peft_adapter(adapter_dir)


def test_config_that_is_not_lora(adapter_dir):
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    (adapter_dir / "adapter_config.json").write_text(json.dumps(config | {"peft_type": "IA3"}))
    with pytest.raises(ParamgenError, match="only LORA"):
        read_peft_adapter(adapter_dir)


def test_unpaired_factor(adapter_dir):
    _rewrite_weights(adapter_dir, lambda t: t.pop("base_model.model.fc1.lora_B.weight"))
    with pytest.raises(ParamgenError, match="without their partner.*fc1.lora_A"):
        read_peft_adapter(adapter_dir)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: [t.pop(f"base_model.model.fc1.lora_{f}.weight") for f in "AB"],
            r"missing \['fc1.lora_A.weight', 'fc1.lora_B.weight'\]",
        ),
        (
            lambda t: t.update({"base_model.model.extra.weight": torch.zeros(2)}),
            r"unexpected \['extra.weight'\]",
        ),
    ],
)
def test_missing_and_extra_keys_against_the_group(tmp_path, adapter_dir, change, message):
    with Zoo.create(tmp_path / "zoo.h5") as zoo:
        import_peft_adapter(zoo, adapter_dir, backbone="cnn", task="rot", conditions={"angle": 0})
        _rewrite_weights(adapter_dir, change)
        with pytest.raises(ParamgenError, match=message):
            import_peft_adapter(
                zoo, adapter_dir, backbone="cnn", task="rot", conditions={"angle": 0}
            )
        assert len(zoo.group("lora/cnn/rot")) == 1


def test_keys_outside_the_peft_prefix(adapter_dir):
    _rewrite_weights(adapter_dir, lambda t: t.update({"stray": torch.zeros(1)}))
    with pytest.raises(ParamgenError, match="keys outside"):
        read_peft_adapter(adapter_dir)


def test_many_folders_are_appended_in_one_commit_with_per_folder_values(tmp_path, adapter_dir):
    folders = [shutil.copytree(adapter_dir, tmp_path / f"a{k}") for k in range(3)]
    _rewrite_weights(folders[1], lambda t: t.update({k: v * 2 for k, v in t.items()}))
    seen = []
    with Zoo.create(tmp_path / "zoo.h5") as zoo:
        group, rows = import_peft_adapters(
            zoo,
            folders,
            backbone="cnn",
            task="rot",
            conditions=[{"angle": -10}, {"angle": 0}, {"angle": 10}],
            metrics=[{"accuracy": 0.5}, {}, {"accuracy": 0.25}],
            split=["train", "heldout", "train"],
            progress=lambda done, total: seen.append((done, total)),
        )
        assert rows == range(0, 3) and seen == [(1, 3), (2, 3), (3, 3)]
        read = group.read()
        assert read.conditions["angle"].tolist() == [-10.0, 0.0, 10.0]
        assert read.split == ["train", "heldout", "train"]
        assert torch.equal(read.params[1], 2 * read.params[0])
        assert read.metrics["accuracy"][1].isnan()


def test_a_bad_folder_among_many_leaves_the_zoo_as_it_was(tmp_path, adapter_dir):
    folders = [shutil.copytree(adapter_dir, tmp_path / f"a{k}") for k in range(3)]
    _rewrite_weights(
        folders[1], lambda t: t["base_model.model.conv1.lora_A.weight"].fill_(torch.nan)
    )
    with Zoo.create(tmp_path / "zoo.h5") as zoo:
        with pytest.raises(ParamgenError, match=r"adapter .*a1 has NaN or Inf in \['conv1.lora_A"):
            import_peft_adapters(zoo, folders, backbone="cnn", task="rot", conditions={"angle": 0})
        with pytest.raises(ParamgenError, match=r"adapter .*a2 has no condition 'angle'"):
            import_peft_adapters(
                zoo,
                [folders[0], folders[2]],
                backbone="cnn",
                task="rot",
                conditions=[{"angle": 0}, {}],
            )
        assert zoo.groups() == []  # not even an empty group was created
