"""Ray builds whose rows never pass through the driver: a shard writer on every Ray node.

The single writer limits a Ray build to a few hundred workers (``bench/ray_build.py``): every
run's rows cross to the driver, which appends them one run at a time. With a shard directory
(``RayRuns(shards=DIR)``, ``--shards DIR``) each Ray node runs a ``ShardWriter`` actor that
appends the rows of the units trained on that node to the node's own shard file
(``DIR/<host>-<k>.h5``, see ``zoo.shards``); a unit's task hands its rows to its node's writer
and returns only the last checkpoint of each run (for the runs that start from it, passed
worker to worker) and a receipt (the runs' scores) for the driver. The driver stays the only
writer of the zoo file itself and of the manifest; ``paramgen zoo merge`` joins the shards.

Resume: each writer reports the runs its shard already holds; a unit whose runs are all in one
shard is not trained again — that writer hands its runs' last checkpoints to the units after
it. A writer stores a run once however often its unit is retried.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import ModuleType

from paramgen.errors import ParamgenError
from paramgen.families import Tensors
from zoo.builders.units import BuildWork, RunRows, WorkUnit, store_run
from zoo.shards import RunKey, ShardManifest, open_shard, run_keys

__all__ = ["ShardWriter", "ShardWriters", "cause_line"]


def cause_line(error: Exception) -> str:
    """The last line of what a Ray task or actor raised, without its exception's type name."""
    lines = str(getattr(error, "cause", None) or error).strip().splitlines()
    return re.sub(r"^[\w.]+(Error|Exception): ", "", lines[-1]) if lines else type(error).__name__


def _handed_on(rows: list[RunRows], shard: str) -> tuple[list[RunRows], list[RunRows]]:
    """What a unit returns instead of its rows: each run's last checkpoint (what the runs after
    it start from) and its receipt (scores and shard, no rows). Cloned: a slice would ship the
    whole matrix."""
    starts = [replace(run, matrix=run.matrix[-1:].clone(), shard=shard) for run in rows]
    receipts = [replace(run, matrix=run.matrix[:0].clone(), shard=shard) for run in rows]
    return starts, receipts


class ShardWriter:
    """The writer of one Ray node's shard (run as a Ray actor on that node)."""

    def __init__(self, path: str, work: BuildWork) -> None:
        self._path = Path(path)
        self._work = work
        self._zoo, self._group = open_shard(self._path, work.group, work.shard_tag)
        self._runs = run_keys(self._group)

    def stored(self) -> set[RunKey]:
        """The runs this shard holds."""
        return set(self._runs)

    def store(self, rows: list[RunRows]) -> str:
        """Append the runs of ``rows`` not stored yet (a retried unit's are); returns the shard's
        file name."""
        for run in rows:
            if run.run.key not in self._runs:
                self._runs[run.run.key] = store_run(
                    self._group, self._work.task, self._work.settings.kept_steps, run
                )
        return self._path.name

    def recall(self, unit: WorkUnit) -> tuple[list[RunRows], list[RunRows]]:
        """``unit``'s stored runs handed on as if just trained (their last checkpoints and
        receipts)."""
        rows = []
        for run in unit.runs:
            stored = self._group.read(self._runs[run.key])
            order = stored.step.argsort()
            metric = stored.metrics[self._work.task.metric][order]
            rows.append(RunRows(run, stored.params[order], metric.tolist()))
        return _handed_on(rows, self._path.name)

    def close(self) -> None:
        """Close the shard (what a killed writer leaves is recovered on the next open)."""
        self._zoo.close()


def _train_into_shard(
    work: BuildWork,
    unit: WorkUnit,
    known: Mapping[int, Tensors | None],
    writers: Mapping[str, object],
    *parents: list[RunRows],
) -> tuple[list[RunRows], list[RunRows]]:
    """A unit's task: train it, hand its rows to this node's writer (any writer where this node
    has none: it joined after the build started) and return what ``_handed_on`` keeps."""
    import ray

    rows = work.train(unit, known, parents)
    node = ray.get_runtime_context().get_node_id()
    writer = writers.get(node) or next(iter(writers.values()))
    return _handed_on(rows, ray.get(writer.store.remote(rows)))


class ShardWriters:
    """One ``ShardWriter`` on every live Ray node, and the submission of a build's units."""

    def __init__(self, ray: ModuleType, directory: Path, work: BuildWork) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        # The manifest first: a directory of another build is refused before a writer touches it.
        self._manifest = ShardManifest.read(directory) or ShardManifest(work.group.name)
        self._manifest.joined(work.group.name, {}, ())
        self._ray, self._directory, self._group = ray, directory, work.group.name
        self._work = ray.put(work)  # once, for the writers and every task
        nodes = sorted((n for n in ray.nodes() if n["Alive"]), key=lambda n: n["NodeID"])
        writer = ray.remote(ShardWriter)
        self._writers: dict[str, object] = {}
        hosts: dict[str, str] = {}
        for node in nodes:
            host = re.sub(r"[^A-Za-z0-9._-]", "_", node["NodeManagerHostname"])
            name = f"{host}-{sum(h == host for h in hosts.values())}.h5"
            hosts[name] = host
            self._writers[node["NodeID"]] = writer.options(
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
            ).remote(str(directory / name), self._work)
        try:
            self._stored = ray.get([w.stored.remote() for w in self._writers.values()])
        except ray.exceptions.RayError as error:
            for started in self._writers.values():
                ray.kill(started)
            raise ParamgenError(
                f"a shard writer could not open its shard in {directory}: {cause_line(error)}"
            ) from None
        self._manifest.joined(self._group, hosts, ())

    def submit(
        self, units: Sequence[WorkUnit], known: Mapping[int, Tensors | None], retries: int
    ) -> dict[int, object]:
        """Submit every unit (recalled from a shard where one holds all its runs, else trained)
        after recording the build in the manifest; returns each unit's receipts' ref."""
        self._manifest.joined(self._group, {}, (r.key for u in units for r in u.runs))
        self._manifest.write(self._directory)
        ray = self._ray
        train = ray.remote(_train_into_shard).options(
            num_cpus=1, max_retries=retries, retry_exceptions=False, num_returns=2
        )
        known_ref, writers_ref = ray.put(dict(known)), ray.put(self._writers)
        starts: dict[int, object] = {}
        receipts: dict[int, object] = {}
        for unit in units:  # in plan order: a unit's parents are submitted before it
            keys = {run.key for run in unit.runs}
            holder = next(
                (w for w, s in zip(self._writers.values(), self._stored, strict=True) if keys <= s),
                None,
            )
            if holder is not None:
                task = holder.recall.options(num_returns=2).remote(unit)
            else:
                parents = (starts[index] for index in unit.after)
                task = train.remote(self._work, unit, known_ref, writers_ref, *parents)
            starts[unit.index], receipts[unit.index] = task
        return receipts

    def close(self) -> None:
        """Close every shard and stop the writers (a writer whose node died is gone already:
        what it stored is in its shard, recovered when the shard is next opened)."""
        for writer in self._writers.values():
            try:
                self._ray.get(writer.close.remote())
            except self._ray.exceptions.RayActorError:
                pass
            self._ray.kill(writer)
