"""The partition of a build into units: every run once, after the units it starts from, the two
sides of a warm-start chain apart so they can train side by side."""

import math

from zoo.builders import LoraZooConfig
from zoo.builders.units import PlannedRun, work_units


def _pending(config: LoraZooConfig, built: tuple[float, ...] = ()):
    plan = config.plan
    parents = plan.parents()
    runs = [
        PlannedRun(run, value, plan.run_seed(run), parents[value])
        for run, value in enumerate(plan.values)
        if value not in built
    ]
    return runs, parents


def test_chain_units_follow_their_parents_and_keep_the_two_sides_apart():
    runs, parents = _pending(LoraZooConfig())
    units = work_units(runs, parents, runs_per_batch=16)
    placed = sorted(run.run for unit in units for run in unit.runs)
    assert placed == [run.run for run in runs]  # every run exactly once
    unit_of = {run.value: unit.index for unit in units for run in unit.runs}
    for unit in units:
        from_units = {unit_of[run.parent] for run in unit.runs if run.parent is not None}
        assert unit.after == tuple(sorted(from_units))
        assert all(index < unit.index for index in unit.after)  # parents are trained first
        deep = [run.value for run in unit.runs if run.parent not in (None, 0.0)]
        assert len({math.copysign(1.0, value) for value in deep}) <= 1  # one side of the anchor
    assert unit_of[5.0] == unit_of[-5.0]  # the anchor's children train together
    assert unit_of[30.0] != unit_of[-30.0]  # deeper, the sides are independent units
    assert units[unit_of[30.0]].after != units[unit_of[-30.0]].after


def test_independent_runs_are_batched_without_dependencies():
    runs, parents = _pending(LoraZooConfig(init="per-run"))
    units = work_units(runs, parents, runs_per_batch=16)
    assert [len(unit.runs) for unit in units] == [16, 16, 5]
    assert all(unit.after == () for unit in units)
    assert [run.value for unit in units for run in unit.runs] == [run.value for run in runs]


def test_a_run_whose_parent_was_built_before_waits_for_no_unit():
    runs, parents = _pending(LoraZooConfig(), built=(0.0, 5.0, -5.0))
    units = work_units(runs, parents, runs_per_batch=16)
    first = {unit.index for unit in units if any(run.value == 25.0 for run in unit.runs)}
    assert parents[25.0] == 5.0 and [units[i].after for i in first] == [()]
    assert all(run.parent != 0.0 or not unit.after for unit in units for run in unit.runs)
