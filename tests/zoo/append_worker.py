"""Subprocess for the durability and concurrency tests: appends rows one by one.

Usage: append_worker.py ZOO N_ROWS DIM SLEEP_SECONDS. Creates the zoo with group ``t/toy/x`` if
missing, prints "ready", then after each append has returned prints the committed row count.
Row i is ``expected_row(i, DIM)``, so a reader can check every visible row bit for bit.
"""

import sys
import time
from pathlib import Path

import numpy as np

from paramgen.schema import ParamSchema, ParamSpec
from zoo.store import Zoo


def expected_row(index: int, dim: int) -> np.ndarray:
    return np.random.default_rng(index).standard_normal(dim).astype(np.float32)


def main() -> None:
    path, n_rows, dim, pause = (
        Path(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        float(sys.argv[4]),
    )
    schema = ParamSchema((ParamSpec("w", (dim,)),))
    with Zoo.open(path, "a") if path.exists() else Zoo.create(path) as zoo:
        group = zoo.create_group(
            family="t", backbone="toy", task="x", schema=schema, conditions={"i": ()}, exist_ok=True
        )
        start = len(group)
        print("ready", flush=True)
        for index in range(start, start + n_rows):
            group.append(expected_row(index, dim), conditions={"i": float(index)}, step=index)
            print(len(group), flush=True)
            time.sleep(pause)


if __name__ == "__main__":
    main()
