"""Zoo I/O throughput next to numpy.save / numpy.load of the same array, measured in one run.

    python bench/zoo_io.py [--rows 2000] [--dim 100000] [--repeats 5]

Writes bench/results/zoo_io.json. Both files are read from the page cache (each is written just
before it is read), so the ratio compares the formats' own overheads, not the disk. The cost of
the row checksums: the same appends, full read and random minibatches on a second zoo whose group
is marked version 1 (unchecked), alternated with the checked one.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from paramgen.schema import ParamSchema, ParamSpec
from zoo.h5file import UNCHECKED_VERSION
from zoo.store import Zoo

RESULTS = Path(__file__).with_name("results") / "zoo_io.json"


def timed(function, repeats: int, warm_up: bool = False) -> float:
    """Median wall time of ``repeats`` calls, in seconds (after one untimed call if ``warm_up``)."""
    if warm_up:
        function()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def timed_side_by_side(first, second, repeats: int) -> tuple[float, float]:
    """Median times of two functions called alternately, so both see the same machine state."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for function, record in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            function()
            record.append(time.perf_counter() - started)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000)
    parser.add_argument("--dim", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=256, help="minibatch rows")
    parser.add_argument("--append-rows", type=int, default=100, help="rows per append call")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    data = rng.standard_normal((args.rows, args.dim), dtype=np.float32)
    gigabytes = data.nbytes / 1e9
    schema = ParamSchema((ParamSpec("w", (args.dim,)),))

    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        npy, zoo_path = Path(tmp) / "rows.npy", Path(tmp) / "zoo.h5"

        unchecked_path = Path(tmp) / "unchecked.h5"

        def write_zoo(path: Path = zoo_path, checked: bool = True) -> None:
            with Zoo.create(path, overwrite=True) as zoo:
                if not checked:
                    zoo.file.attrs["version"] = UNCHECKED_VERSION  # reads and appends unchecked
                group = zoo.create_group(
                    family="bench", backbone="none", task="io", schema=schema, conditions={"c": ()}
                )
                for start in range(0, args.rows, args.append_rows):
                    block = data[start : start + args.append_rows]
                    group.append(block, conditions={"c": 0.0})

        numpy_write, zoo_write = timed_side_by_side(
            lambda: np.save(npy, data), write_zoo, args.repeats
        )

        def read_zoo(path: Path = zoo_path) -> np.ndarray:
            with Zoo.open(path) as zoo:
                return zoo.group("bench/none/io").read().params

        numpy_read, zoo_read = timed_side_by_side(lambda: np.load(npy), read_zoo, args.repeats)
        assert np.array_equal(read_zoo().numpy(), data)

        draws = 20
        picks = [np.sort(rng.choice(args.rows, args.batch, replace=False)) for _ in range(draws)]
        starts = rng.integers(0, args.rows - args.batch, draws)
        with Zoo.open(zoo_path) as zoo:
            group = zoo.group("bench/none/io")
            random_batch = timed(lambda: [group.read(p) for p in picks], args.repeats) / draws
            contiguous_batch = (
                timed(lambda: [group.read(slice(s, s + args.batch)) for s in starts], args.repeats)
                / draws
            )
            single_rows = (
                timed(lambda: [group.read(int(i)) for i in picks[0][:64]], args.repeats) / 64
            )

        unchecked_write, checked_write = timed_side_by_side(
            lambda: write_zoo(unchecked_path, checked=False), write_zoo, args.repeats
        )
        unchecked_read, checked_read = timed_side_by_side(
            lambda: read_zoo(unchecked_path), read_zoo, args.repeats
        )
        with Zoo.open(zoo_path) as checked, Zoo.open(unchecked_path) as unchecked:
            sides = [zoo.group("bench/none/io") for zoo in (unchecked, checked)]
            assert sides[1].checked and not sides[0].checked
            unchecked_batch, checked_batch = timed_side_by_side(
                *(lambda g=g: [g.read(p) for p in picks] for g in sides), args.repeats
            )

    results = {
        "command": "python bench/zoo_io.py "
        f"--rows {args.rows} --dim {args.dim} --repeats {args.repeats}",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, "
        f"Python {platform.python_version()}",
        "rows": args.rows,
        "dim": args.dim,
        "gigabytes": round(gigabytes, 3),
        "write": {
            "zoo_GBps": round(gigabytes / zoo_write, 3),
            "numpy_GBps": round(gigabytes / numpy_write, 3),
            "zoo_over_numpy_speed": round(numpy_write / zoo_write, 3),
            "rows_per_append": args.append_rows,
        },
        "read": {
            "zoo_GBps": round(gigabytes / zoo_read, 3),
            "numpy_GBps": round(gigabytes / numpy_read, 3),
            "zoo_over_numpy_speed": round(numpy_read / zoo_read, 3),
        },
        "minibatch": {
            "rows": args.batch,
            "random_ms": round(1e3 * random_batch, 2),
            "contiguous_ms": round(1e3 * contiguous_batch, 2),
            "random_over_contiguous_time": round(random_batch / contiguous_batch, 3),
            "single_row_ms": round(1e3 * single_rows, 3),
        },
        "checksums": {
            "append_time_ratio": round(checked_write / unchecked_write, 3),
            "full_read_time_ratio": round(checked_read / unchecked_read, 3),
            "random_minibatch_time_ratio": round(checked_batch / unchecked_batch, 3),
            "checked_read_GBps": round(gigabytes / checked_read, 3),
            "unchecked_read_GBps": round(gigabytes / unchecked_read, 3),
        },
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
