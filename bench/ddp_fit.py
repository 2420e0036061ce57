"""A generator fit on 1 process against 2 DDP processes (``paramgen train --nproc 2``), in turn.

    python bench/ddp_fit.py [--steps 600] [--repeats 2] [--wide-zoo /work/zoos/lora.h5]

Times the whole ``paramgen train`` command (start-up, reading the rows, both stages, saving) on
the default rotation LoRA zoo (built here first, as ``paramgen run`` builds it: 190 training
rows, a whole-row generator) and, with ``--wide-zoo``, on a zoo of wider rows (the tokenized
generator). One process uses the machine's torch threads; each of the 2 DDP processes one
thread of its own (2 cores: the same cores, shared out). Sides alternate; medians of
``--repeats``. Writes bench/results/ddp_fit.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seed_processes import save_json

RESULTS = Path(__file__).with_name("results") / "ddp_fit.json"
PARAMGEN = str(Path(sys.executable).with_name("paramgen"))


def default_zoo(work: Path) -> Path:
    """The default rotation LoRA zoo, built in a process of its own."""
    path = work / "rotation.h5"
    subprocess.run([PARAMGEN, "zoo", "build", "lora", str(path)], check=True, capture_output=True)
    return path


def group_of(zoo: Path) -> str:
    from zoo.store import Zoo

    with Zoo.open(zoo) as store:
        (group,) = store.groups()
    return group


def timed_fit(zoo: Path, group: str, out: Path, steps: int, processes: int) -> float:
    """Seconds of one ``paramgen train`` (a fresh OUT each time)."""
    shutil.rmtree(out, ignore_errors=True)
    command = [PARAMGEN, "train", str(zoo), "--group", group, "--out", str(out),
               f"--ae-steps={steps}", f"--denoiser-steps={steps}"]  # fmt: skip
    if processes > 1:
        command.append(f"--nproc={processes}")
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env={**os.environ})
    return time.perf_counter() - started


def compare(zoo: Path, work: Path, steps: int, repeats: int) -> dict:
    group = group_of(zoo)
    times: dict[int, list[float]] = {1: [], 2: []}
    for repeat in range(repeats):
        for processes in (1, 2) if repeat % 2 == 0 else (2, 1):
            times[processes].append(timed_fit(zoo, group, work / "out", steps, processes))
            print(zoo.name, processes, round(times[processes][-1], 1), flush=True)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    return {
        "group": group,
        "steps_per_stage": steps,
        "one_process_s": round(one, 1),
        "two_processes_s": round(two, 1),
        "all_s": {str(k): [round(t, 1) for t in v] for k, v in times.items()},
        "two_over_one_time": round(two / one, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--wide-zoo", type=Path, default=None)
    args = parser.parse_args()
    results = {
        "command": " ".join(["python bench/ddp_fit.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
    }
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        work = Path(tmp)
        results["default_zoo"] = compare(default_zoo(work), work, args.steps, args.repeats)
        if args.wide_zoo is not None:
            results["wide_zoo"] = compare(args.wide_zoo, work, args.steps, args.repeats)
    save_json(RESULTS, results)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
