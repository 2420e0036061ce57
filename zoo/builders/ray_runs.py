"""Zoo builds on Ray: each unit of work is a Ray task; this process stays the zoo's only writer.

``RayRuns`` is an executor for :func:`zoo.builders.driver.build_zoo`. The build's
``BuildWork`` (family, task, base weights) and the starts known before the build are put in
Ray's object store once; every unit becomes a task whose arguments include the object refs of
the units it starts from (the warm-start chain), so Ray runs a unit as soon as its parents are
done and independent branches side by side. Workers return rows; the driver appends each unit's
rows as it arrives, so the store's atomic appends, single writer and resume hold unchanged.

Faults: a task whose worker process dies is retried up to ``retries`` times (Ray's
``max_retries``); an exception raised by the training code is not retried (it would raise
again). A unit that fails for good is reported by its runs' values, with the units that start
from it, after every other unit's rows are appended; the build then fails, and a re-run trains
only what is missing.

With a shard directory (``shards``) the rows never reach the driver: a writer on every Ray node
stores its node's rows in a shard file of its own (``zoo.builders.ray_shards``), for hundreds of
workers, where one writer falls behind; ``paramgen zoo merge`` joins the shards.

Ray is optional (``pip install 'paramgen[distributed]'``); without it, asking for workers is a
one-line error saying what to install.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from paramgen.errors import ParamgenError
from paramgen.families import Tensors
from zoo.builders.driver import Executor
from zoo.builders.ray_shards import ShardWriters, cause_line
from zoo.builders.units import BuildWork, RunRows, WorkUnit, run_in_process

__all__ = ["RayRuns", "ScaleOut", "require_ray"]


def require_ray() -> ModuleType:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ParamgenError(
            "building on Ray needs the ray package: pip install 'paramgen[distributed]' (or "
            "leave out --workers / --ray-address to build in this process)"
        ) from None
    return ray


def _check_counts(workers: int, retries: int) -> None:
    if workers < 0 or retries < 0:
        raise ParamgenError(f"workers and retries must be >= 0, got {workers} and {retries}")


def _train_unit(
    work: BuildWork, unit: WorkUnit, known: Mapping[int, Tensors | None], *parents: list[RunRows]
) -> list[RunRows]:
    """A unit's task on a worker (Ray passes the parents' rows, not their refs)."""
    return work.train(unit, known, parents)


@dataclass(frozen=True)
class RayRuns:
    """Train a build's units as Ray tasks: on a local Ray with ``workers`` processes, or on the
    running cluster at ``address`` (``ray start --head`` prints it). Within an initialised Ray
    (``ray.init`` called by the caller) it uses that one and leaves it running. With ``shards``
    each node's writer stores its rows in a shard file in that directory (the same path on every
    node) instead of the driver in the zoo."""

    workers: int = 0
    address: str | None = None
    retries: int = 3
    shards: Path | None = None

    def __post_init__(self) -> None:
        _check_counts(self.workers, self.retries)
        if not self.workers and not self.address:
            raise ParamgenError("give workers >= 1 for a local Ray, or the address of a cluster")

    def check(self) -> None:
        """Refuse now, in one line, what would fail later: Ray missing, or no cluster answering
        at ``address`` (Ray itself retries an unreachable address for minutes)."""
        require_ray()
        if not self.address or self.address == "auto":
            return
        host, _, port = self.address.removeprefix("ray://").rpartition(":")
        try:
            socket.create_connection((host or "localhost", int(port)), timeout=5).close()
        except (OSError, ValueError):
            raise ParamgenError(
                f"no Ray cluster answers at {self.address}; start one (`ray start --head` prints "
                "its address) or check the host and port"
            ) from None

    def __call__(
        self, work: BuildWork, units: Sequence[WorkUnit], known: Mapping[int, Tensors | None]
    ) -> Iterator[list[RunRows]]:
        """Each unit's rows as it finishes (any order in which parents precede children)."""
        ray = require_ray()
        started = not ray.is_initialized()
        if started:
            self._connect(ray)
        try:
            yield from self._run(ray, work, units, known)
        finally:
            if started:
                ray.shutdown()

    def _connect(self, ray: ModuleType) -> None:
        options = dict(logging_level=logging.ERROR, log_to_driver=False)
        try:
            if self.address:
                ray.init(address=self.address, **options)
            else:
                ray.init(num_cpus=self.workers, include_dashboard=False, **options)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
            raise ParamgenError(
                f"could not start or join {where} ({str(error).splitlines()[0]}); check the "
                "address (`ray status` on the head node prints it)"
            ) from None

    def _run(
        self,
        ray: ModuleType,
        work: BuildWork,
        units: Sequence[WorkUnit],
        known: Mapping[int, Tensors | None],
    ) -> Iterator[list[RunRows]]:
        if self.shards is None:
            yield from self._collect(ray, self._submit(ray, work, units, known), units)
            return
        writers = ShardWriters(ray, self.shards, work)
        try:
            yield from self._collect(ray, writers.submit(units, known, self.retries), units)
        finally:
            writers.close()

    def _submit(
        self,
        ray: ModuleType,
        work: BuildWork,
        units: Sequence[WorkUnit],
        known: Mapping[int, Tensors | None],
    ) -> dict[int, object]:
        """Every unit as a task after those it starts from; returns each unit's rows' ref."""
        task = ray.remote(_train_unit).options(
            num_cpus=1, max_retries=self.retries, retry_exceptions=False
        )
        work_ref, known_ref = ray.put(work), ray.put(dict(known))  # once, not once per task
        refs: dict[int, object] = {}
        for unit in units:  # in plan order: a unit's parents are submitted before it
            refs[unit.index] = task.remote(
                work_ref, unit, known_ref, *(refs[index] for index in unit.after)
            )
        return refs

    def _collect(
        self, ray: ModuleType, refs: dict[int, object], units: Sequence[WorkUnit]
    ) -> Iterator[list[RunRows]]:
        """Each unit's rows (or receipts) as its task ends; then one error naming the failed."""
        unit_of = {ref: unit for unit, ref in zip(units, refs.values(), strict=True)}
        remaining, failed = list(refs.values()), {}
        while remaining:
            (done,), remaining = ray.wait(remaining, num_returns=1)
            unit = unit_of.pop(done)
            try:
                rows = ray.get(done)
            except ray.exceptions.RayError as error:
                failed[unit.index] = (unit, error)
                continue
            yield rows
        if failed:
            raise ParamgenError(self._failure(ray, failed, len(units)))

    def _failure(
        self, ray: ModuleType, failed: dict[int, tuple[WorkUnit, Exception]], total: int
    ) -> str:
        """One line: which runs failed and why, which never started, and what to do."""
        causes, blocked = [], []
        for unit, error in failed.values():
            if any(index in failed for index in unit.after):
                blocked.append(unit.describe())
            elif isinstance(error, ray.exceptions.WorkerCrashedError):
                tries = self.retries + 1
                count = f"{tries} tries" if tries > 1 else "its only try"
                causes.append(f"{unit.describe()}: its worker process died ({count})")
            else:
                causes.append(f"{unit.describe()}: {cause_line(error)}")
        skipped = f"; not started (they start from those): {'; '.join(blocked)}" if blocked else ""
        return (
            f"{len(failed)} of {total} units failed — {'; '.join(causes)}{skipped}; every other "
            "run is stored: run the same command again to train only the missing ones"
        )


@dataclass(frozen=True)
class ScaleOut:
    """Where a build's runs train: in this process (the default), on a local Ray with
    ``workers`` processes, or on the Ray cluster at ``ray_address``."""

    workers: int = field(
        default=0,
        metadata={
            "help": "Train the runs as Ray tasks on this many local worker processes (0: in this "
            "process). Needs paramgen[distributed]."
        },
    )
    ray_address: str | None = field(
        default=None,
        metadata={
            "help": "Join this running Ray cluster (the address `ray start --head` prints) "
            "instead of starting a local one."
        },
    )
    retries: int = field(
        default=3, metadata={"help": "Retries of a run whose Ray worker process died."}
    )
    shards: str | None = field(
        default=None,
        metadata={
            "help": "Directory (the same path on every node) where each Ray node's writer stores "
            "its runs in a shard file of its own, for builds on hundreds of workers; then join "
            "them: paramgen zoo merge ZOO DIR."
        },
    )

    def __post_init__(self) -> None:
        _check_counts(self.workers, self.retries)
        if self.ray_address is not None and not self.ray_address.strip():
            raise ParamgenError("--ray-address is empty; give HOST:PORT of a running Ray cluster")
        if self.shards is not None and not (self.workers or self.ray_address):
            raise ParamgenError(
                "--shards needs Ray writers: add --workers N or --ray-address ADDRESS (a build "
                "in this process writes the zoo itself)"
            )
        shards = None if self.shards is None else Path(self.shards)
        if shards is not None and shards.exists() and not shards.is_dir():
            raise ParamgenError(
                f"--shards {self.shards} is not a directory; give a directory (made if missing)"
            )

    def executor(self) -> Executor:
        """``run_in_process``, or ``RayRuns`` where workers or an address are given (checked
        now, with Ray's presence, so that a mistake stops the build before the zoo is touched)."""
        if not self.workers and not self.ray_address:
            return run_in_process
        shards = None if self.shards is None else Path(self.shards)
        runs = RayRuns(self.workers, self.ray_address, self.retries, shards)
        runs.check()
        return runs
