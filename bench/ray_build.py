"""Zoo builds on Ray against builds in this process, and where the single writer saturates.

    python bench/ray_build.py [--runs 16] [--steps 300] [--repeats 2]
        [--cases chain:16 per-run:16 per-run:8] [--skip-writer]

Speed (alternated in one run, median of ``--repeats``): a LoRA zoo of ``--runs`` rotation values
on digits-cnn built in this process (vmap-batched, as today, with 2 torch threads and with 1) and
on a local Ray with 1 and 2 workers (started by the build, as ``--workers N`` does; Ray's start
is part of the time), under ``init=chain`` (the default: a warm-start chain) and ``per-run``
(independent runs), each with its runs trained ``RUNS_PER_BATCH`` to a unit (the vmap batch: a unit
is what one worker trains, so 16 independent runs in one unit give Ray nothing to spread). Every
build starts from a copy of one zoo holding the pretrained base.

The single writer, on paper from measured inputs: the driver appends every run's rows and
receives them from the object store, one run at a time. With ``t_run`` the time of one run on a
worker and ``t_driver`` = append + transfer of one run's rows, the driver keeps up with at most
N* = t_run / t_driver workers. Measured for the default zoo's rows (10 checkpoints a run) and
for 4.2M-number rows (a p-diff subset of digits-mlp-wide's fc2, 10 checkpoints a run).
Writes bench/results/ray_build.json.
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
from seed_processes import save_json

from paramgen.schema import ParamSchema, ParamSpec
from paramgen.tasks.digits import DigitsClassification
from zoo.bases import base_model
from zoo.builders import LoraZooConfig, SubsetZooConfig, build_lora_zoo, build_subset_zoo
from zoo.builders.ray_runs import RayRuns
from zoo.store import Zoo

RESULTS = Path(__file__).with_name("results") / "ray_build.json"
SIDES = ("in-process, 2 threads", "in-process, 1 thread", "Ray, 1 worker", "Ray, 2 workers")


def based_zoo(path: Path, backbone: str) -> Path:
    """A zoo holding only ``backbone``'s pretrained base (pretrained once, here)."""
    with Zoo.create(path) as zoo:
        base_model(zoo, backbone)
    return path


def timed_build(template: Path, work: Path, config: LoraZooConfig, side: str) -> float:
    """Seconds to build ``config`` into a copy of ``template`` on ``side``."""
    path = shutil.copy(template, work / "zoo.h5")
    torch.set_num_threads(2 if side.endswith("2 threads") else 1)
    execute = {"Ray, 1 worker": RayRuns(workers=1), "Ray, 2 workers": RayRuns(workers=2)}
    started = time.perf_counter()
    if side in execute:
        build_lora_zoo(path, config, execute=execute[side])
    else:
        build_lora_zoo(path, config)
    seconds = time.perf_counter() - started
    Path(path).unlink()
    return seconds


def speed(template: Path, work: Path, args: argparse.Namespace) -> dict:
    values = tuple(float(v) for v in np.linspace(-75, 75, args.runs))
    results = {}
    for case in args.cases:
        init, per_unit = case.split(":")
        config = LoraZooConfig(
            values=values, steps=args.steps, init=init, runs_per_batch=int(per_unit)
        )
        times: dict[str, list[float]] = {side: [] for side in SIDES}
        for repeat in range(args.repeats):
            order = SIDES if repeat % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                times[side].append(timed_build(template, work, config, side))
                print(case, side, round(times[side][-1], 1), flush=True)
        medians = {side: statistics.median(seconds) for side, seconds in times.items()}
        baseline = medians["in-process, 2 threads"]
        results[case] = {
            side: {
                "seconds": round(medians[side], 1),
                "all_seconds": [round(s, 1) for s in times[side]],
                "speedup_over_in_process_2_threads": round(baseline / medians[side], 2),
            }
            for side in SIDES
        }
    return results


@ray.remote
def _rows(runs: int, dim: int) -> torch.Tensor:
    return torch.randn(runs, dim)


def driver_cost(work: Path, dim: int, rows: int = 10, repeats: int = 5) -> dict:
    """Seconds the driver spends on one run's rows: appending them, and getting them from a
    worker through the object store."""
    schema = ParamSchema((ParamSpec("w", (dim,)),))
    matrix = torch.randn(rows, dim)
    appends, gets = [], []
    with Zoo.create(work / "append.h5") as zoo:
        group = zoo.create_group(
            family="bench", backbone="none", task="t", schema=schema, conditions={"x": ()},
            metrics=["accuracy"],
        )  # fmt: skip
        for _ in range(repeats):
            started = time.perf_counter()
            group.append(matrix, conditions={"x": 0.0}, metrics={"accuracy": 0.5})
            appends.append(time.perf_counter() - started)
    (work / "append.h5").unlink()
    for _ in range(repeats):
        ref = _rows.remote(rows, dim)
        ray.wait([ref])  # produced: what remains is the transfer to the driver
        started = time.perf_counter()
        ray.get(ref)
        gets.append(time.perf_counter() - started)
    append, get = statistics.median(appends), statistics.median(gets)
    return {
        "numbers_per_row": dim,
        "rows_per_run": rows,
        "append_s": round(append, 4),
        "transfer_s": round(get, 4),
        "driver_s": round(append + get, 4),
    }


def run_cost(template: Path, work: Path, config, build) -> tuple[float, int]:
    """Seconds of one run of ``config`` in this process on one thread (what a worker spends),
    and the numbers in each of its rows."""
    torch.set_num_threads(1)
    path = shutil.copy(template, work / "run.h5")
    started = time.perf_counter()
    build(path, config)
    seconds = time.perf_counter() - started
    with Zoo.open(path) as zoo:
        (group,) = zoo.groups()
        dim = zoo.group(group).schema.dim
    Path(path).unlink()
    return seconds, dim


def writer_limit(work: Path, args: argparse.Namespace) -> dict:
    """The single writer's limit (see the module doc) for the default zoo and 4.2M-number rows."""
    wide = SubsetZooConfig(
        patterns=("fc2.*",), task=DigitsClassification(backbone="digits-mlp-wide"),
        checkpoints=10, warmup=args.steps - 10,
    )  # fmt: skip
    cases = {
        "default LoRA zoo": ("digits-cnn", LoraZooConfig(values=(0.0,), steps=args.steps),
                             build_lora_zoo),
        "subset rows of 4.2M numbers": ("digits-mlp-wide", wide, build_subset_zoo),
    }  # fmt: skip
    results = {}
    for name, (backbone, config, build) in cases.items():
        template = based_zoo(work / f"{backbone}.h5", backbone)
        seconds, dim = run_cost(template, work, config, build)
        cost = driver_cost(work, dim)
        saturates = int(seconds / cost["driver_s"])
        results[name] = {**cost, "run_s": round(seconds, 2), "writer_saturates_at": saturates}
        print(name, results[name], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--cases",
        nargs="*",
        default=["chain:16", "per-run:16", "per-run:8"],
        help="INIT:RUNS_PER_BATCH builds to time (none: skip the speed part)",
    )
    parser.add_argument("--skip-writer", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        work = Path(tmp)
        # Cases and parts run separately are merged into the results of earlier runs.
        results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        results["machine"] = (
            f"{platform.machine()}, Python {platform.python_version()}, ray {ray.__version__}"
        )
        results.setdefault("commands", []).append(
            " ".join(["python bench/ray_build.py", *sys.argv[1:]])
        )
        if args.cases:
            template = based_zoo(work / "template.h5", "digits-cnn")
            results.setdefault("speed", {}).update(speed(template, work, args))
        if not args.skip_writer:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR)  # fmt: skip
            results["single_writer"] = writer_limit(work, args)
            ray.shutdown()
    save_json(RESULTS, results)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
