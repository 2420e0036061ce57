"""Shared fixtures: one torch thread, a small schema and a zoo with one group.

Under pytest-xdist (``make test`` runs ``-n 2``: one worker per core of a 2-core CI machine)
every worker and every process it starts uses one thread, so two workers never oversubscribe the
cores; a module's tests run on one worker, and the Ray tests of two modules share one
(``xdist_group("ray")``), so one local Ray.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from paramgen.schema import ParamSchema
from zoo.store import Zoo

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the CLI and fit processes tests start
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``),
    set before its module-scoped fixtures: tiny ops on two threads of a busy 2-core machine wait on
    each other and run up to 100× slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def ray_cluster():
    """A local Ray with 2 worker CPUs for the whole session (starting one takes seconds);
    ``RayRuns`` uses a running Ray and leaves it running."""
    import logging

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


@pytest.fixture
def state_dict() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        "layer.weight": torch.randn(4, 5, generator=generator),
        "layer.bias": torch.randn(5, generator=generator),
        "head": torch.randn(2, 3, 2, generator=generator, dtype=torch.float64),
    }


@pytest.fixture
def schema(state_dict) -> ParamSchema:
    return ParamSchema.from_state_dict(state_dict)


@pytest.fixture
def zoo_path(tmp_path: Path, schema: ParamSchema) -> Path:
    """A zoo with group ``lora/toy/rot`` (condition angle, metric accuracy) and no rows."""
    path = tmp_path / "zoo.h5"
    with Zoo.create(path) as zoo:
        zoo.create_group(
            family="lora",
            backbone="toy",
            task="rot",
            schema=schema,
            conditions={"angle": ()},
            metrics=["accuracy"],
        )
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup`` a module's tests share one worker, so its module fixtures (a
    built zoo, a fitted generator) are made once; tests marked with a group of their own (the Ray
    tests of two modules, one local Ray) go with that group instead."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
