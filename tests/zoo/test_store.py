import json

import h5py
import numpy as np
import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.schema import state_dict_sha256
from zoo.store import Zoo


def _rows(n: int, dim: int, offset: int = 0) -> torch.Tensor:
    return torch.arange(offset, offset + n, dtype=torch.float32)[:, None] + torch.linspace(
        0, 0.5, dim
    )


def test_append_then_read_by_index_slice_mask_and_condition(zoo_path, schema):
    params = _rows(6, schema.dim)
    with Zoo.open(zoo_path, "a") as zoo:
        group = zoo.group("lora/toy/rot")
        assert group.append(
            params[:4],
            conditions={"angle": [0, 10, 20, 10]},
            metrics={"accuracy": 0.5},
            run=1,
            step=[1, 2, 3, 4],
        ) == range(0, 4)
        assert group.append(params[4:], conditions={"angle": 30.0}, split="heldout") == range(4, 6)
    with Zoo.open(zoo_path) as zoo:
        group = zoo.group("lora/toy/rot")
        assert len(group) == 6
        torch.testing.assert_close(group.read().params, params, rtol=0, atol=0)
        picked = group.read([5, 1, 5])
        torch.testing.assert_close(picked.params, params[[5, 1, 5]], rtol=0, atol=0)
        assert picked.split == ["heldout", "train", "heldout"]
        assert group.read(slice(1, 3)).step.tolist() == [2, 3]
        mask = np.array([True, False, False, False, False, True])
        assert group.read(mask).index.tolist() == [0, 5]
        assert group.indices(angle=10).tolist() == [1, 3]
        assert group.indices(split="heldout").tolist() == [4, 5]
        metrics = group.read().metrics["accuracy"]
        assert metrics[:4].tolist() == [0.5] * 4 and metrics[4:].isnan().all()
        batches = list(group.iter_batches(4))
        assert [len(b) for b in batches] == [4, 2]


def test_tensors_unflattens_a_row(zoo_path, schema, state_dict):
    with Zoo.open(zoo_path, "a") as zoo:
        zoo.group("lora/toy/rot").append(schema.flatten(state_dict), conditions={"angle": 1.0})
    with Zoo.open(zoo_path) as zoo:
        restored = zoo.group("lora/toy/rot").tensors(0)
    torch.testing.assert_close(restored["layer.weight"], state_dict["layer.weight"])


def test_vector_conditions(tmp_path, schema):
    with Zoo.create(tmp_path / "v.h5") as zoo:
        group = zoo.create_group(
            family="lora", backbone="toy", task="style", schema=schema, conditions={"style": (3,)}
        )
        group.append(_rows(2, schema.dim), conditions={"style": [[1, 2, 3], [4, 5, 6]]})
        assert group.indices(style=[4, 5, 6]).tolist() == [1]
        with pytest.raises(ParamgenError, match=r"condition 'style' has shape \(2,\)"):
            group.append(_rows(1, schema.dim), conditions={"style": [1, 2]})


def test_base_weights_are_stored_with_sha256(tmp_path, state_dict):
    with Zoo.create(tmp_path / "b.h5") as zoo:
        digest = zoo.store_backbone("toy", state_dict, {"name": "toy"})
        assert zoo.store_backbone("toy", state_dict, {"name": "toy"}) == digest  # idempotent
        with pytest.raises(ParamgenError, match="different base weights"):
            zoo.store_backbone("toy", {k: v + 1 for k, v in state_dict.items()}, {})
    with Zoo.open(tmp_path / "b.h5") as zoo:
        weights = zoo.backbone_weights("toy")
        assert zoo.backbone_spec("toy") == {"name": "toy"}
    for name, tensor in state_dict.items():
        assert torch.equal(weights[name], tensor)
    with h5py.File(tmp_path / "b.h5", "r+") as file:
        file["backbones/toy/tensors/layer.bias"][0] += 1.0
    with Zoo.open(tmp_path / "b.h5") as zoo, pytest.raises(ParamgenError, match="sha256"):
        zoo.backbone_weights("toy")


def test_base_weights_with_scalar_and_integer_buffers_round_trip(tmp_path):
    # A state dict with BatchNorm has a 0-d int64 num_batches_tracked: it must hash and read back.
    weights = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).state_dict()
    assert weights["1.num_batches_tracked"].ndim == 0
    with Zoo.create(tmp_path / "b.h5") as zoo:
        digest = zoo.store_backbone("net", weights, {})
        stored = zoo.backbone_weights("net")
    assert stored.keys() == weights.keys()
    for name, tensor in weights.items():
        assert stored[name].dtype == tensor.dtype and torch.equal(stored[name], tensor)
    assert state_dict_sha256(stored) == digest


def test_backbone_name_with_a_slash_is_refused(tmp_path, state_dict):
    with Zoo.create(tmp_path / "b.h5") as zoo, pytest.raises(ParamgenError, match="contain no '/'"):
        zoo.store_backbone("a/b", state_dict, {})


# ------------------------------------------------------------------------- bad input, clear error
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda g, d: g.append(torch.zeros(d + 1), conditions={"angle": 0}), "D=37"),
        (
            lambda g, d: g.append(torch.full((d,), float("nan")), conditions={"angle": 0}),
            "NaN or Inf",
        ),
        (
            lambda g, d: g.append(torch.full((2, d), float("inf")), conditions={"angle": 0}),
            r"rows \[0, 1\]",
        ),
        (lambda g, d: g.append(torch.zeros(d), conditions={"angel": 0}), r"unknown \['angel'\]"),
        (lambda g, d: g.append(torch.zeros(d), conditions={}), r"missing \['angle'\]"),
        (
            lambda g, d: g.append(torch.zeros(d), conditions={"angle": 0}, metrics={"acc": 1}),
            "unknown",
        ),
        (
            lambda g, d: g.append(torch.zeros(d), conditions={"angle": 0}, split="test"),
            "split must be",
        ),
        (lambda g, d: g.append(torch.zeros((3, d)), conditions={"angle": [1, 2]}), "expected"),
        (lambda g, d: g.read(7), "out of range"),
        (lambda g, d: g.indices(angel=3), "unknown condition"),
    ],
)
def test_bad_rows_raise_clear_errors_and_write_nothing(zoo_path, schema, mutate, message):
    with Zoo.open(zoo_path, "a") as zoo:
        group = zoo.group("lora/toy/rot")
        with pytest.raises(ParamgenError, match=message):
            mutate(group, schema.dim)
        assert len(group) == 0


def test_group_with_other_schema_is_refused(zoo_path):
    from paramgen.schema import ParamSchema

    other = ParamSchema.from_state_dict({"w": torch.zeros(3)})
    with Zoo.open(zoo_path, "a") as zoo, pytest.raises(ParamgenError, match="different schema"):
        zoo.create_group(
            family="lora",
            backbone="toy",
            task="rot",
            schema=other,
            conditions={"angle": ()},
            exist_ok=True,
        )


def test_unknown_group_lists_the_existing_ones(zoo_path):
    with Zoo.open(zoo_path) as zoo, pytest.raises(ParamgenError, match="lora/toy/rot"):
        zoo.group("lora/toy/nope")


def test_read_only_zoo_refuses_writes(zoo_path, schema):
    with Zoo.open(zoo_path) as zoo, pytest.raises(ParamgenError, match="read-only"):
        zoo.group("lora/toy/rot").append(torch.zeros(schema.dim), conditions={"angle": 0})


def test_missing_file(tmp_path):
    with pytest.raises(ParamgenError, match="does not exist"):
        Zoo.open(tmp_path / "absent.h5")


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("hello")
    with pytest.raises(ParamgenError, match="not an HDF5 file"):
        Zoo.open(path)


def test_truncated_file(zoo_path, schema):
    with Zoo.open(zoo_path, "a") as zoo:
        zoo.group("lora/toy/rot").append(_rows(50, schema.dim), conditions={"angle": 0})
    data = zoo_path.read_bytes()
    zoo_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ParamgenError, match="truncated"):
        Zoo.open(zoo_path)


def test_hdf5_file_that_is_not_a_zoo(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w", libver="latest") as file:
        file["x"] = np.zeros(3)
    with pytest.raises(ParamgenError, match="not a paramgen zoo"):
        Zoo.open(path)


@pytest.mark.parametrize(("version", "advice"), [(3, "upgrade paramgen"), (0, "re-create")])
def test_other_format_version(zoo_path, version, advice):
    with h5py.File(zoo_path, "r+") as file:
        file.attrs["version"] = version
    with pytest.raises(ParamgenError, match=f"format version {version}.*{advice}"):
        Zoo.open(zoo_path)


def test_edited_schema_is_detected(zoo_path):
    with h5py.File(zoo_path, "r+") as file:
        node = file["groups/lora/toy/rot"]
        schema = json.loads(node.attrs["schema"])
        schema[0]["shape"] = [5, 4]
        node.attrs["schema"] = json.dumps(schema)
    with (
        Zoo.open(zoo_path) as zoo,
        pytest.raises(ParamgenError, match="fail their checksum|does not match its hash"),
    ):
        zoo.group("lora/toy/rot")


def test_create_refuses_to_overwrite(zoo_path):
    with pytest.raises(ParamgenError, match="already exists"):
        Zoo.create(zoo_path)


def test_bad_group_names(tmp_path, schema):
    with Zoo.create(tmp_path / "n.h5") as zoo, pytest.raises(ParamgenError, match="no '/'"):
        zoo.create_group(family="lora", backbone="a/b", task="t", schema=schema, conditions={})


@pytest.mark.parametrize("dim", [37, 20_000, 70_000])  # rows per chunk: 1771, 3, 1
def test_random_reads_equal_sequential_reads_for_any_chunking(tmp_path, dim):
    from paramgen.schema import ParamSchema, ParamSpec

    schema = ParamSchema((ParamSpec("w", (dim,)),))
    params = torch.randn(120, dim, generator=torch.Generator().manual_seed(0))
    with Zoo.create(tmp_path / "r.h5") as zoo:
        group = zoo.create_group(
            family="t", backbone="b", task="x", schema=schema, conditions={"i": ()}
        )
        group.append(params, conditions={"i": torch.arange(120.0)})
    picks = [[119, 0, 61, 61, 7], [1, 3, 5], list(range(0, 120, 7))[::-1], [118, 2], [4, 119]]
    with Zoo.open(tmp_path / "r.h5") as zoo:
        group = zoo.group("t/b/x")
        for pick in picks:
            rows = group.read(pick)
            assert torch.equal(rows.params, params[pick])
            assert rows.conditions["i"].tolist() == [float(i) for i in pick]


@pytest.mark.parametrize(
    ("condition", "metric", "message"),
    [
        (1e39, 0.5, "condition 'angle' of rows \\[0\\] is not a finite float32"),
        (float("nan"), 0.5, "condition 'angle'"),
        (1.0, float("inf"), "metric 'accuracy'"),
    ],
)
def test_values_that_are_not_finite_float32_are_refused(zoo_path, schema, state_dict, condition,
                                                        metric, message):  # fmt: skip
    with Zoo.open(zoo_path, "a") as zoo:
        group = zoo.group("lora/toy/rot")
        with pytest.raises(ParamgenError, match=message):
            group.append(
                schema.flatten(state_dict),
                conditions={"angle": condition},
                metrics={"accuracy": metric},
            )
        assert len(group) == 0
