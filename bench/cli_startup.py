"""CLI start-up: ``paramgen --version``, ``--help`` and ``zoo info`` on a 1 GB zoo — wall time per
command and the bytes ``zoo info`` reads.

    python bench/cli_startup.py [--runs 5] [--work-dir /tmp/cli_startup]

Writes a zoo of 256 random rows × 10⁶ numbers (1.0 GB) under ``--work-dir``, then runs each
command ``--runs`` times as a fresh process after one warm-up run (median, min, max of the wall
time). One more ``zoo info`` runs inside a probe that reports the bytes its process passed through
``read()`` (``rchar`` of ``/proc/self/io``: the interpreter's own files included, page cache or
not, and those of the structure walk's child process, which Linux adds to its parent's when it is
reaped) and whether torch was imported. The same probe on a zoo of 16 rows × 1,000 tells how many
of those bytes grow with the zoo, and one with ``PARAMGEN_ZOO_PROBE=0`` what the walk adds.
Writes bench/results/cli_startup.json; the zoos are deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from seed_processes import save_json

RESULTS = Path(__file__).with_name("results") / "cli_startup.json"
ROOT = Path(__file__).parents[1]
PROBE = """
import sys
from pathlib import Path
sys.argv = ["paramgen", "zoo", "info", sys.argv[1]]
from cli.app import main
try:
    main()
except SystemExit:
    pass
fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
print(fields["rchar"], "torch" in sys.modules)
"""


def write_zoo(path: Path, rows: int = 256, dim: int = 1_000_000) -> None:
    import numpy as np

    from paramgen.schema import ParamSchema, ParamSpec
    from zoo.store import Zoo

    generator = np.random.default_rng(0)
    path.unlink(missing_ok=True)
    with Zoo.create(path) as zoo:
        group = zoo.create_group(
            family="subset", backbone="b", task="t", schema=ParamSchema((ParamSpec("w", (dim,)),)),
            conditions={"x": ()}, metrics=["accuracy"],
        )  # fmt: skip
        for _ in range(rows // 16):
            group.append(
                generator.standard_normal((16, dim), dtype=np.float32),
                conditions={"x": np.arange(16, dtype=np.float32)},
                metrics={"accuracy": np.full(16, 0.5)},
            )


def wall_times(command: list[str], runs: int) -> dict:
    """min / median / max seconds of ``runs`` fresh processes, after one warm-up."""
    seconds = []
    for run in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        if run:
            seconds.append(time.perf_counter() - started)
    return {
        "median_s": round(statistics.median(seconds), 3),
        "min_s": round(min(seconds), 3),
        "max_s": round(max(seconds), 3),
    }


def read_bytes(zoo: Path, walk: bool = True) -> tuple[int, bool]:
    """(rchar, whether torch was imported) of one ``zoo info`` process (see the module doc)."""
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(zoo)], cwd=ROOT, check=True, capture_output=True,
        text=True, env={**os.environ, "PARAMGEN_ZOO_PROBE": "1" if walk else "0"},
    )  # fmt: skip
    rchar, torch_imported = probe.stdout.splitlines()[-1].split()
    return int(rchar), torch_imported == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/cli_startup"))
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    zoo = args.work_dir / "zoo.h5"
    write_zoo(zoo)
    paramgen = [str(Path(sys.executable).with_name("paramgen"))]  # the installed entry point
    result = {
        "command": "python bench/cli_startup.py " + " ".join(sys.argv[1:]),
        "zoo_bytes": zoo.stat().st_size,
        "version": wall_times([*paramgen, "--version"], args.runs),
        "help": wall_times([*paramgen, "--help"], args.runs),
        "zoo_info": wall_times([*paramgen, "zoo", "info", str(zoo)], args.runs),
    }
    rchar, torch_imported = read_bytes(zoo)
    result["zoo_info_read_bytes"] = rchar
    result["zoo_info_read_share"] = round(rchar / result["zoo_bytes"], 5)
    result["zoo_info_imported_torch"] = torch_imported
    tiny = args.work_dir / "tiny.h5"
    write_zoo(tiny, rows=16, dim=1_000)
    result["zoo_info_read_bytes_tiny_zoo"] = read_bytes(tiny)[0]
    result["zoo_info_read_bytes_without_walk"] = read_bytes(zoo, walk=False)[0]
    zoo.unlink()
    tiny.unlink()
    save_json(RESULTS, result)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
