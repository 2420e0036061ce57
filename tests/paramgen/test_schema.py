import json

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.schema import ParamSchema, state_dict_sha256


def test_flatten_unflatten_round_trip_keeps_values_shapes_and_dtypes(schema, state_dict):
    vector = schema.flatten(state_dict)
    assert vector.shape == (schema.dim,) and vector.dtype == torch.float32
    assert schema.dim == 20 + 5 + 12
    restored = schema.unflatten(vector)
    assert list(restored) == list(state_dict)
    for name, tensor in state_dict.items():
        assert restored[name].dtype == tensor.dtype
        torch.testing.assert_close(restored[name], tensor.to(torch.float32).to(tensor.dtype))


def test_offsets_point_at_each_tensor(schema, state_dict):
    vector = schema.flatten(state_dict)
    for spec, start in zip(schema.specs, schema.offsets, strict=True):
        piece = vector[start : start + spec.numel].reshape(spec.shape)
        torch.testing.assert_close(piece, state_dict[spec.name].float())


def test_json_round_trip_and_hash(schema):
    again = ParamSchema.from_json(schema.to_json())
    assert again == schema and again.hash == schema.hash
    assert json.loads(schema.to_json())[0]["name"] == "layer.weight"


def test_hash_changes_with_layout_not_values(state_dict):
    base = ParamSchema.from_state_dict(state_dict)
    same_layout = ParamSchema.from_state_dict({k: v * 2 for k, v in state_dict.items()})
    reshaped = ParamSchema.from_state_dict({**state_dict, "layer.bias": torch.zeros(6)})
    assert base.hash == same_layout.hash
    assert base.hash != reshaped.hash


def test_flatten_names_missing_and_unexpected_tensors(schema, state_dict):
    broken = {k: v for k, v in state_dict.items() if k != "head"} | {"extra": torch.zeros(1)}
    with pytest.raises(ParamgenError, match=r"missing \['head'\].*unexpected \['extra'\]"):
        schema.flatten(broken)


def test_flatten_rejects_wrong_shape(schema, state_dict):
    with pytest.raises(ParamgenError, match="layer.bias.*shape"):
        schema.flatten({**state_dict, "layer.bias": torch.zeros(6)})


def test_unflatten_rejects_wrong_length(schema):
    with pytest.raises(ParamgenError, match=r"expects \(37,\)"):
        schema.unflatten(torch.zeros(36))


def test_malformed_json_is_a_clear_error():
    with pytest.raises(ParamgenError, match="malformed"):
        ParamSchema.from_json('[{"name": "x"}]')


def test_integer_tensors_are_refused():
    with pytest.raises(ParamgenError, match="not supported"):
        ParamSchema.from_state_dict({"steps": torch.zeros(3, dtype=torch.int64)})


def test_sha256_is_order_independent_and_value_sensitive(state_dict):
    reordered = dict(reversed(list(state_dict.items())))
    assert state_dict_sha256(state_dict) == state_dict_sha256(reordered)
    changed = {**state_dict, "layer.bias": state_dict["layer.bias"] + 1e-7}
    assert state_dict_sha256(state_dict) != state_dict_sha256(changed)
