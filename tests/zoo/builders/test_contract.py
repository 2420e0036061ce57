"""The builder contract, run on every family's zoo builder with a tiny config: a build stores one
run per value (its rows in build order, with their splits, kept steps, seeds, metric and the plan
as provenance), re-running a finished build is a no-op, a re-run adds new values only, an
interrupted build resumes without duplicating rows, another config is refused, and bad config
values are one-line errors naming the field.

Each zoo is seeded with untrained bases under the builders' names, so no test pretrains one.
"""

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

from paramgen.backbones import build_backbone
from paramgen.errors import ParamgenError
from paramgen.tasks.digits import StyledDigitsClassification
from paramgen.tasks.flow_sampling import CLASSIFIER, FLOW_BACKBONE
from zoo.builders import (
    BuildPlan,
    DpiZooConfig,
    LoraZooConfig,
    MacZooConfig,
    SubsetZooConfig,
    build_dpi_zoo,
    build_lora_zoo,
    build_mac_zoo,
    build_subset_zoo,
)
from zoo.builders.ray_runs import RayRuns
from zoo.shards import merge_shards
from zoo.store import Zoo

pytestmark = pytest.mark.usefixtures("one_thread")


@dataclass(frozen=True)
class Builder:
    """A family's builder, its tiny config, and the changes the battery makes to it."""

    build: Callable[..., Any]
    config: type
    tiny: dict
    bases: tuple[str, ...]  # backbones stored untrained before building
    group: str
    condition: str
    more: dict  # one more value (held out where a shared anchor would change)
    other: tuple[dict, str]  # another training config and the plan field it changes
    bad: list[tuple[dict, str]] = field(default_factory=list)  # bad values, the field named

    def make(self, **changes) -> Any:
        return self.config(**{**self.tiny, **changes})


BUILDERS = {
    "lora": Builder(
        build_lora_zoo,
        LoraZooConfig,
        dict(values=(-30.0, 0.0, 15.0), steps=3, keep_last=2, batch_size=16),
        ("digits-cnn",),
        "lora/digits-cnn/rotation",
        "rotation",
        more=dict(values=(-30.0, 0.0, 15.0, 45.0)),
        other=(dict(steps=4), "steps"),
        bad=[
            ({"style": "colour"}, "unknown style 'colour'"),
            ({"values": ()}, "values must be non-empty"),
            ({"values": (1.0, 1.0)}, "values must be distinct"),
            ({"steps": 5, "keep_last": 6}, "keep_last"),
            ({"init": "warm"}, "init must be chain, per-run or shared"),
        ],
    ),
    "dpi": Builder(
        build_dpi_zoo,
        DpiZooConfig,
        dict(values=(0.0, 0.5), heldout=(0.5,), steps=3, keep_last=2, batch_size=8),
        ("digits-unet-small",),
        "dpi/digits-unet-small/stroke",
        "stroke",
        more=dict(values=(0.0, 0.5, 1.0)),
        other=(dict(lr=1e-3), "lr"),
        bad=[
            ({"style": "colour"}, "unknown style 'colour'"),
            ({"backbone": "nope"}, "unknown backbone 'nope'"),
            ({"values": ()}, "values must be non-empty"),
            ({"values": (0.0, 0.0)}, "values must be distinct"),
            ({"heldout": (0.3,)}, r"held-out values \[0.3\] are not among the values"),
            ({"keep_last": 0}, "keep_last must be an integer >= 1"),
            ({"keep_last": 500}, "keep_last=500 checkpoints"),
            ({"steps": 0}, "steps must be an integer >= 1"),
            ({"batch_size": 0}, "batch_size must be an integer >= 1"),
            ({"lr": 0.0}, "lr must be > 0"),
            ({"table_size": 1}, "table_size must be >= 2"),
        ],
    ),
    "mac": Builder(
        build_mac_zoo,
        MacZooConfig,
        dict(
            nfes=(2, 3),
            heldout=(3,),
            anchor_iterations=2,
            iterations=3,
            keep_last=2,
            batch_size=4,
            hidden=4,
            depth=1,
            samples=32,
        ),
        (FLOW_BACKBONE, CLASSIFIER),
        f"mac/{FLOW_BACKBONE}/nfe",
        "nfe",
        more=dict(nfes=(2, 3, 4), heldout=(3, 4)),  # the anchor trains on the same NFEs
        other=(dict(iterations=4), "steps"),  # the plan's name for iterations
        bad=[
            ({"nfes": ()}, "nfes"),
            ({"nfes": (3, 3)}, "nfes"),
            ({"nfes": (2.5,)}, "nfes"),
            ({"heldout": (7,)}, "held-out"),
            ({"keep_last": 500}, "keep_last"),
            ({"iterations": 0}, "iterations"),
            ({"anchor_iterations": -1}, "anchor_iterations"),
            ({"nfes": (5,), "heldout": (5,)}, "training NFE"),
            ({"finetune_lr": 0.0}, "finetune_lr"),
            ({"lr": 0.0}, "lr"),
            ({"scale": -1.0}, "scale"),
            ({"samples": 1}, "samples"),
            ({"backbone": "nope"}, "backbone"),
        ],
    ),
    "subset": Builder(
        build_subset_zoo,
        SubsetZooConfig,
        dict(
            task=StyledDigitsClassification("rotation"),
            values=(0.0, 30.0),
            heldout=(30.0,),
            checkpoints=2,
            batch_size=16,
        ),
        ("digits-cnn",),
        "subset/digits-cnn/rotation",
        "rotation",
        more=dict(values=(0.0, 30.0, -30.0)),
        other=(dict(lr=2e-3), "lr"),
        bad=[
            ({"checkpoints": 0}, "checkpoints must be >= 1"),
            ({"every": 0}, "every must be >= 1"),
            ({"warmup": -1}, "warmup must be >= 0"),
            ({"patterns": ()}, "subset patterns must be non-empty"),
            ({"heldout": (7.0,)}, "held-out values"),
        ],
    ),
}
BAD = [
    (name, change, message) for name, builder in BUILDERS.items() for change, message in builder.bad
]


class Interrupted(Exception):
    """Raised from ``on_run`` to stop a build after its first trained run."""


@pytest.fixture(scope="module", params=list(BUILDERS))
def builder(request) -> Builder:
    return BUILDERS[request.param]


@pytest.fixture(scope="module")
def bases(builder, tmp_path_factory):
    """A zoo holding only the builder's bases, untrained."""
    path = tmp_path_factory.mktemp("bases") / "zoo.h5"
    with Zoo.create(path) as zoo:
        for name in builder.bases:
            zoo.store_backbone(name, build_backbone(name, 0).state_dict(), {"name": name})
    return path


@pytest.fixture(scope="module")
def built(builder, bases, tmp_path_factory):
    path = shutil.copy(bases, tmp_path_factory.mktemp("built") / "zoo.h5")
    builder.build(path, builder.make())
    return path


def read(path, group: str):
    with Zoo.open(path) as zoo:
        return zoo.group(group).read()


def build_order(plan: BuildPlan) -> list[float]:
    """The plan's values in the order they train: chain parents before their children."""
    parents = plan.parents()

    def depth(value: float) -> int:
        return 0 if parents[value] is None else 1 + depth(parents[value])

    return sorted(plan.values, key=depth)


def test_a_build_stores_one_run_per_value_in_build_order(builder, built):
    config = builder.make()
    plan, kept = config.plan, config.plan.settings.kept_steps
    with Zoo.open(built) as zoo:
        assert zoo.groups() == [builder.group]
        group = zoo.group(builder.group)
        rows, spec, width = group.read(), group.backbone_spec, group.schema.dim
    order = build_order(plan)
    runs = [plan.values.index(value) for value in order]
    assert rows.params.shape == (len(plan.values) * len(kept), width)
    assert list(rows.conditions) == [builder.condition]
    assert rows.conditions[builder.condition].tolist() == [v for v in order for _ in kept]
    assert rows.split == [plan.split_of(v) for v in order for _ in kept]
    assert rows.step.tolist() == list(kept) * len(order)
    assert rows.run.tolist() == [run for run in runs for _ in kept]
    assert rows.seed.tolist() == [plan.run_seed(run) for run in runs for _ in kept]
    (metric,) = rows.metrics.values()
    assert metric.isfinite().all() and rows.params.isfinite().all()
    assert spec["builder"] == json.loads(json.dumps(asdict(plan)))


def test_rerunning_a_finished_build_is_a_no_op(builder, built, tmp_path):
    path, seen = shutil.copy(built, tmp_path / "again.h5"), []
    builder.build(path, builder.make(), on_run=lambda run: seen.append(run))
    assert [run.scores for run in seen] == [None] * len(builder.make().plan.values)
    before, after = read(built, builder.group), read(path, builder.group)
    assert torch.equal(after.params, before.params) and after.step.tolist() == before.step.tolist()


def test_a_rebuild_with_more_values_trains_only_the_new_ones(builder, built, tmp_path):
    path, seen = shutil.copy(built, tmp_path / "more.h5"), []
    config = builder.make(**builder.more)
    builder.build(path, config, on_run=lambda run: seen.append((run.value, run.scores is None)))
    old = set(builder.make().plan.values)
    assert sorted(seen) == sorted((value, value in old) for value in config.plan.values)
    before, after = read(built, builder.group), read(path, builder.group)
    assert len(after) == len(config.plan.values) * config.plan.keep_last
    assert torch.equal(after.params[: len(before)], before.params)


def test_an_interrupted_build_resumes_without_duplicating_rows(builder, bases, built, tmp_path):
    path, trained = shutil.copy(bases, tmp_path / "interrupted.h5"), []

    def stop_after_the_first_run(run):
        trained.append(run.value)
        raise Interrupted

    with pytest.raises(Interrupted):
        builder.build(path, builder.make(), on_run=stop_after_the_first_run)
    partial = read(path, builder.group)
    assert set(partial.conditions[builder.condition].tolist()) == set(trained)
    seen = []
    builder.build(path, builder.make(), on_run=lambda run: seen.append((run.value, run.scores)))
    assert [value for value, scores in seen if scores is None] == trained
    resumed, whole = read(path, builder.group), read(built, builder.group)
    keys = sorted(
        zip(resumed.conditions[builder.condition].tolist(), resumed.step.tolist(), strict=True)
    )
    assert keys == sorted(
        zip(whole.conditions[builder.condition].tolist(), whole.step.tolist(), strict=True)
    )
    assert torch.equal(resumed.params[: len(partial)], whole.params[: len(partial)])


@pytest.mark.xdist_group("ray")
def test_a_build_on_ray_writes_exactly_the_rows_of_the_in_process_build(
    builder, bases, built, tmp_path, ray_cluster
):
    """Through shards: every family's rows trained on a worker, stored by the node's writer
    and merged (the driver-written path, the same training, is tested in test_ray_faults)."""
    path, shards = shutil.copy(bases, tmp_path / "ray.h5"), tmp_path / "shards"
    builder.build(path, builder.make(), execute=RayRuns(workers=2, shards=shards))
    assert len(read(path, builder.group)) == 0  # the driver wrote no row
    merge_shards(path, shards)
    ours, theirs = read(path, builder.group), read(built, builder.group)
    assert len(ours) == len(theirs)
    ours_order, their_order = (np.lexsort((rows.step, rows.run)) for rows in (ours, theirs))
    assert torch.equal(ours.params[ours_order], theirs.params[their_order])  # bit for bit
    for name in ("conditions", "metrics"):
        for key, column in getattr(theirs, name).items():
            assert torch.equal(getattr(ours, name)[key][ours_order], column[their_order]), key
    for name in ("run", "step", "seed"):
        assert (getattr(ours, name)[ours_order] == getattr(theirs, name)[their_order]).all()
    assert [ours.split[i] for i in ours_order] == [theirs.split[i] for i in their_order]


def test_another_config_is_refused_and_the_zoo_left_as_it_was(builder, built, tmp_path):
    path = shutil.copy(built, tmp_path / "other.h5")
    change, field_name = builder.other
    with pytest.raises(ParamgenError, match=f"another config.*{field_name}"):
        builder.build(path, builder.make(**change))
    assert torch.equal(read(path, builder.group).params, read(built, builder.group).params)


@pytest.mark.parametrize(
    "name,change,message", BAD, ids=[f"{name}-{'-'.join(change)}" for name, change, _ in BAD]
)
def test_bad_config_values_are_one_line_errors(name, change, message):
    with pytest.raises(ParamgenError, match=message) as error:
        BUILDERS[name].make(**change)
    assert "\n" not in str(error.value)


def test_every_builder_is_in_the_battery():
    import zoo.builders as builders

    built_by = {name for name in builders.__all__ if name.startswith("build_")}
    assert built_by - {"build_zoo", "build_lora_continuum"} == {
        builder.build.__name__ for builder in BUILDERS.values()
    }
