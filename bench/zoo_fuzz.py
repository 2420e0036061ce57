"""Fuzz damaged zoo files (issue 16): how every read and CLI call of a corrupted zoo ends.

    python bench/zoo_fuzz.py [--cases 600] [--seed 0]

Cases cycle through the damage kinds of ``tests/zoo/fuzzing.py`` (a flipped bit, a burst of
random bytes, a zeroed range, truncation, a changed attribute) at random places of a small zoo
(one group of 60 rows, one backbone; 331 KB, most of it metadata and chunk padding). Writes
bench/results/zoo_fuzz.json: counts of clean errors, original data, tracebacks, wrong data and
hangs, and every case of the last three.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))  # the harness lives with the tests
from tests.zoo.fuzzing import KINDS, fuzz  # noqa: E402

RESULTS = Path(__file__).with_name("results") / "zoo_fuzz.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("PARAMGEN_ZOO_PROBE_SECONDS", "10")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        counts, bad = fuzz(Path(folder), args.cases, args.seed)
    result = {
        "command": f"python bench/zoo_fuzz.py --cases {args.cases} --seed {args.seed}",
        "kinds": list(KINDS),
        "cases": args.cases,
        "outcomes": {
            key: counts.get(key, 0) for key in ("error", "original", "traceback", "wrong", "hang")
        },
        "seconds": round(time.perf_counter() - started, 1),
        "not_clean": [{"outcome": o, "damage": d, "detail": t} for o, d, t in bad],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["outcomes"]))


if __name__ == "__main__":
    main()
