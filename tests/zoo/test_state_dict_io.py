"""Plain state-dict files into a subset group from Python: per-file values, the group's own
patterns on later calls, integer buffers left out, all or nothing."""

import os

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from paramgen.errors import ParamgenError
from paramgen.families.subset import SubsetConfig
from zoo.safetensors_file import read_safetensors
from zoo.state_dict_io import import_state_dicts, read_state_dicts
from zoo.store import Zoo

pytestmark = pytest.mark.usefixtures("one_thread")
GROUP = "subset/mlp/ckpts"


def net() -> nn.Sequential:
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


@pytest.fixture
def files(tmp_path):
    paths = []
    for k in range(3):
        torch.manual_seed(k)
        paths.append(tmp_path / f"c{k}.safetensors")
        save_file(net().state_dict(), paths[-1])
    return paths


def test_pick_keeps_floating_matches_in_state_order():
    state = net().state_dict()
    picked = SubsetConfig(("1.*", "2.bias")).pick(state)
    assert list(picked) == ["1.weight", "1.bias", "1.running_mean", "1.running_var", "2.bias"]


def test_per_file_conditions_then_the_groups_own_patterns(tmp_path, files):
    with Zoo.create(tmp_path / "zoo.h5") as zoo:
        group, rows = import_state_dicts(
            zoo,
            GROUP,
            files[:2],
            patterns=["1.*"],
            conditions=[{"lr": 0.1}, {"lr": 0.2}],
            metrics={"loss": 1.5},
            step=[10, 20],
        )
        assert rows == range(2) and group.condition_shapes == {"lr": ()}
        _, more = import_state_dicts(zoo, GROUP, files[2:], conditions={"lr": 0.3})
        assert more == range(2, 3)
        read = group.read()
    assert read.conditions["lr"].tolist() == pytest.approx([0.1, 0.2, 0.3])
    assert read.step.tolist() == [10, 20, 0] and read.metrics["loss"][:2].tolist() == [1.5, 1.5]
    expected = read_state_dicts(files, SubsetConfig(("1.*",)))
    assert torch.equal(read.params, expected.params)


def test_a_bad_value_or_file_appends_nothing(tmp_path, files):
    with Zoo.create(tmp_path / "zoo.h5") as zoo:
        import_state_dicts(zoo, GROUP, files[:1], patterns=["1.*"])
        with pytest.raises(ParamgenError, match=r"c1.safetensors has no condition 'lr'"):
            import_state_dicts(zoo, GROUP, files, conditions=[{"lr": 1}, {}, {"lr": 1}])
        with pytest.raises(ParamgenError, match="nope.safetensors does not exist"):
            import_state_dicts(zoo, GROUP, [files[0], tmp_path / "nope.safetensors"])
        assert len(zoo.group(GROUP)) == 1


def test_a_pipe_where_a_file_is_expected_is_named(tmp_path):
    pipe = tmp_path / "weights.safetensors"
    os.mkfifo(pipe)
    with pytest.raises(ParamgenError, match="is not a regular file"):
        read_safetensors(pipe)
