import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from paramgen.errors import ParamgenError
from zoo.safetensors_io import (
    export_row_safetensors,
    import_row_safetensors,
    import_rows_safetensors,
)
from zoo.store import Zoo


def test_row_round_trips_through_a_self_describing_file(zoo_path, schema, state_dict, tmp_path):
    with Zoo.open(zoo_path, "a") as zoo:
        group = zoo.group("lora/toy/rot")
        group.append(
            schema.flatten(state_dict),
            conditions={"angle": 45.0},
            metrics={"accuracy": 0.75},
            run=3,
            step=9,
            seed=11,
            split="heldout",
        )
        export_row_safetensors(group, 0, tmp_path / "row.safetensors")
        with safe_open(tmp_path / "row.safetensors", framework="pt") as handle:
            description = json.loads(handle.metadata()["paramgen"])
            assert handle.get_tensor("head").dtype == torch.float64
        assert description["conditions"] == {"angle": 45.0}
        assert description["schema_hash"] == schema.hash and description["split"] == "heldout"
        assert import_row_safetensors(group, tmp_path / "row.safetensors") == 1
        rows = group.read()
    assert np.array_equal(rows.params[0].numpy(), rows.params[1].numpy())
    assert rows.run.tolist() == [3, 3] and rows.seed.tolist() == [11, 11]
    assert rows.metrics["accuracy"].tolist() == [0.75, 0.75] and rows.split == ["heldout"] * 2


def test_unmeasured_metric_survives_as_nan(zoo_path, schema, state_dict, tmp_path):
    with Zoo.open(zoo_path, "a") as zoo:
        group = zoo.group("lora/toy/rot")
        group.append(schema.flatten(state_dict), conditions={"angle": 1.0})
        export_row_safetensors(group, 0, tmp_path / "row.safetensors")
        import_row_safetensors(group, tmp_path / "row.safetensors")
        assert group.read(1).metrics["accuracy"].isnan().all()


def test_plain_safetensors_without_metadata_is_refused(zoo_path, tmp_path, state_dict):
    save_file({k: v.contiguous() for k, v in state_dict.items()}, tmp_path / "plain.safetensors")
    with Zoo.open(zoo_path, "a") as zoo, pytest.raises(ParamgenError, match="no paramgen metadata"):
        import_row_safetensors(zoo.group("lora/toy/rot"), tmp_path / "plain.safetensors")


def test_garbage_file_is_refused(zoo_path, tmp_path):
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 16)
    with Zoo.open(zoo_path, "a") as zoo, pytest.raises(ParamgenError, match="not a readable"):
        import_row_safetensors(zoo.group("lora/toy/rot"), tmp_path / "bad.safetensors")


def test_many_exported_files_append_together_or_not_at_all(zoo_path, schema, state_dict, tmp_path):
    with Zoo.open(zoo_path, "a") as zoo:
        group = zoo.group("lora/toy/rot")
        group.append(schema.flatten(state_dict), conditions={"angle": 5.0}, step=4)
        paths = [export_row_safetensors(group, 0, tmp_path / f"r{k}.safetensors") for k in range(2)]
        (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 16)
        with pytest.raises(ParamgenError, match="bad.safetensors is not a readable"):
            import_rows_safetensors(group, [paths[0], tmp_path / "bad.safetensors", paths[1]])
        assert len(group) == 1
        assert import_rows_safetensors(group, paths) == range(1, 3)
        rows = group.read()
    assert rows.conditions["angle"].tolist() == [5.0] * 3 and rows.step.tolist() == [4] * 3


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("conditions"), "'conditions' is missing"),
        (lambda d: d.update(run="three"), "'run' is missing or not a int"),
        (lambda d: d.update(split="test"), "'split' is not one of"),
    ],
)
def test_incomplete_paramgen_metadata_is_refused_and_nothing_appended(
    zoo_path, schema, state_dict, tmp_path, edit, message
):
    with Zoo.open(zoo_path, "a") as zoo:
        group = zoo.group("lora/toy/rot")
        group.append(schema.flatten(state_dict), conditions={"angle": 1.0})
        export_row_safetensors(group, 0, tmp_path / "row.safetensors")
        with safe_open(tmp_path / "row.safetensors", framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
            description = json.loads(handle.metadata()["paramgen"])
        edit(description)
        save_file(tensors, tmp_path / "row.safetensors", {"paramgen": json.dumps(description)})
        with pytest.raises(ParamgenError, match=message):
            import_row_safetensors(group, tmp_path / "row.safetensors")
        assert len(group) == 1
