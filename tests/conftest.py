"""Shared fixtures: one torch thread, a small schema and a zoo with one group."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from paramgen.schema import ParamSchema
from zoo.store import Zoo


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
