"""Sharded Ray builds: what the driver still does per run, the merge's rate, and two nodes.

    python bench/shard_build.py [--runs 16] [--steps 300] [--repeats 2] [--merge-runs 8]

With ``--shards`` a node's writer appends that node's rows, and the driver gets a receipt per
run (scores, no rows). Measured here, on this 2-core machine:

1. The driver's cost per run: getting a run's receipt from a worker (``transfer_s``), for the
   default zoo's rows and for 4.2M-number rows; with ``run_s`` (one run on one worker thread,
   from ``bench/results/ray_build.json``) the driver keeps up with t_run / that many workers.
   A node's writer appends and receives its node's rows as the driver did before, so it keeps up
   with ``writer_saturates_at`` of ray_build.json workers *per node*.
2. The merge: ``--merge-runs`` runs of 4.2M-number rows (10 a run) written into two shard files
   (the writers' append rate), then merged into a zoo (``paramgen zoo merge``'s rate).
3. A 2-node local Ray cluster (1 CPU each, one machine): a ``--runs`` LoRA zoo (per-run init,
   two units) built with the driver writing and with shards (+ the merge), alternated; the
   merged rows must equal the driver-written ones bit for bit, one shard per node.

Writes bench/results/shard_build.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch
from ray.cluster_utils import Cluster
from seed_processes import save_json

from paramgen.schema import ParamSchema, ParamSpec
from zoo.bases import base_model
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.builders.ray_runs import RayRuns
from zoo.builders.units import PlannedRun, RunRows
from zoo.group_definition import GroupDefinition
from zoo.shards import ShardManifest, ShardTag, merge_shards, open_shard, run_key
from zoo.store import Zoo

RESULTS = Path(__file__).with_name("results") / "shard_build.json"
WRITER = Path(__file__).with_name("results") / "ray_build.json"
ROWS_PER_RUN = 10
WIDE = 4_196_352


@ray.remote
def _receipts(dim: int) -> list[RunRows]:
    """What a sharded unit of one run returns to the driver (its receipts)."""
    rows = torch.randn(ROWS_PER_RUN, dim)  # trained, and handed to the node's writer
    return [RunRows(PlannedRun(0, 0.0, 0), rows[:0].clone(), [0.5] * ROWS_PER_RUN, "host-0.h5")]


def driver_cost(repeats: int = 7) -> dict:
    """Seconds the driver spends getting one run's receipt, and the workers it keeps up with."""
    measured = json.loads(WRITER.read_text())["single_writer"]
    results = {}
    for name, before in measured.items():
        gets = []
        for _ in range(repeats):
            ref = _receipts.remote(before["numbers_per_row"])
            ray.wait([ref])
            started = time.perf_counter()
            ray.get(ref)
            gets.append(time.perf_counter() - started)
        receipt = statistics.median(gets)
        results[name] = {
            "numbers_per_row": before["numbers_per_row"],
            "run_s": before["run_s"],
            "receipt_s": round(receipt, 5),
            "driver_saturates_at": int(before["run_s"] / receipt),
            "node_writer_saturates_at": before["writer_saturates_at"],
            "single_writer_saturated_at": before["writer_saturates_at"],
        }
        print(name, results[name], flush=True)
    return results


def _definition(dim: int) -> GroupDefinition:
    return GroupDefinition(
        "bench", "none", "t", ParamSchema((ParamSpec("w", (dim,)),)), {"x": ()}, ("accuracy",)
    )


def merge_rate(work: Path, runs: int, repeats: int) -> dict:
    """Seconds and GB/s of writing ``runs`` wide runs into two shards, then of merging them."""
    definition, tag = _definition(WIDE), ShardTag("bench/none/t", None)
    matrix = torch.randn(ROWS_PER_RUN, WIDE)
    gigabytes = runs * matrix.numel() * 4 / 1e9
    writes, merges = [], []
    for _ in range(repeats):
        directory = work / "shards"
        with Zoo.create(work / "merged.h5") as zoo:
            definition.create_in(zoo)
        manifest = ShardManifest(tag.group)
        started = time.perf_counter()
        for shard in range(2):
            opened, group = open_shard(directory / f"host-{shard}.h5", definition, tag)
            with opened:
                for run in range(shard, runs, 2):
                    group.append(matrix, conditions={"x": float(run)}, run=run)
            manifest.joined(tag.group, {f"host-{shard}.h5": "host"}, ())
        writes.append(time.perf_counter() - started)
        manifest.joined(tag.group, {}, (run_key(run, float(run)) for run in range(runs)))
        manifest.write(directory)
        started = time.perf_counter()
        report = merge_shards(work / "merged.h5", directory)
        merges.append(time.perf_counter() - started)
        assert report.runs == runs
        shutil.rmtree(directory)
        (work / "merged.h5").unlink()
        print("write", round(writes[-1], 2), "merge", round(merges[-1], 2), flush=True)
    write, merge = statistics.median(writes), statistics.median(merges)
    return {
        "runs": runs,
        "gigabytes": round(gigabytes, 2),
        "shard_write_s": round(write, 2),
        "shard_write_gb_per_s": round(gigabytes / write, 2),
        "merge_s": round(merge, 2),
        "merge_gb_per_s": round(gigabytes / merge, 2),
        "all_merge_s": [round(s, 2) for s in merges],
    }


def _rows(path: Path, group: str):
    with Zoo.open(path) as zoo:
        rows = zoo.group(group).read()
    order = np.lexsort((rows.step, rows.run))
    return rows.params[order]


def two_nodes(work: Path, args: argparse.Namespace) -> dict:
    """Driver-written against sharded (+ merge) builds on a 2-node local cluster."""
    template = work / "template.h5"
    with Zoo.create(template) as zoo:
        base_model(zoo, "digits-cnn")
    values = tuple(float(v) for v in np.linspace(-75, 75, args.runs))
    config = LoraZooConfig(values=values, steps=args.steps, init="per-run", runs_per_batch=8)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False, logging_level=logging.ERROR)
    times: dict[str, list[float]] = {"driver writes": [], "shards + merge": []}
    try:
        for repeat in range(args.repeats):
            sides = list(times) if repeat % 2 == 0 else list(reversed(times))
            for side in sides:
                path = shutil.copy(template, work / f"{side[0]}.h5")
                shards = work / "shards" if side.startswith("shards") else None
                started = time.perf_counter()
                build_lora_zoo(path, config, execute=RayRuns(shards=shards, address="auto"))
                if shards is not None:
                    written = sorted(p.name for p in shards.glob("*.h5"))
                    merge_shards(path, shards)
                times[side].append(time.perf_counter() - started)
                print(side, round(times[side][-1], 1), flush=True)
            same = torch.equal(*(_rows(work / f"{s[0]}.h5", config.group) for s in times))
            assert same, "the merged rows differ from the driver-written ones"
            shutil.rmtree(work / "shards")
    finally:
        ray.shutdown()
        cluster.shutdown()
    medians = {side: statistics.median(seconds) for side, seconds in times.items()}
    return {
        "runs": args.runs,
        "steps": args.steps,
        "shard_files": written,
        "rows_equal_bit_for_bit": True,
        **{
            side: {"seconds": round(m, 1), "all_seconds": [round(s, 1) for s in times[side]]}
            for side, m in medians.items()
        },  # fmt: skip
        "sharded_over_driver_writes": round(
            medians["shards + merge"] / medians["driver writes"], 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--merge-runs", type=int, default=8)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}, "
        f"ray {ray.__version__}",
        "command": " ".join(["python bench/shard_build.py", *sys.argv[1:]]),
    }
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        work = Path(tmp)
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)  # fmt: skip
        results["driver_per_run"] = driver_cost()
        ray.shutdown()
        results["merge"] = merge_rate(work, args.merge_runs, args.repeats)
        results["two_nodes"] = two_nodes(work, args)
    save_json(RESULTS, results)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
