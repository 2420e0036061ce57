"""How large a row the whole-row parameter autoencoder takes: parameters, memory and step time vs D.

For rows of D = 10^3 … 10^6 numbers, builds the generator's autoencoder (the default 1D-conv one,
and the linear one, ``ae_channels=()``) and times training steps (batch 64, AdamW, as
``ParamGenerator.fit``), in a fresh process per size so that a size that runs out of memory or time
does not take the others down. Reports parameters, peak resident memory and the median seconds per
step; a size is "failed" when it exceeds ``--max-seconds`` per step or the process dies.

    python bench/generator_size.py --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "generator_size.json"
SIZES = (1_000, 10_000, 100_000, 1_000_000)
KINDS = {"conv": (32, 64, 64), "linear": ()}


def measure(dim: int, kind: str, steps: int) -> dict:
    """Parameters, seconds per step and peak memory of one autoencoder (in this process)."""
    import torch

    from paramgen.generator.autoencoder import ParamAutoencoder

    torch.manual_seed(0)
    model = ParamAutoencoder(dim, 64, KINDS[kind], 0.001, 0.1, 4)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rows = torch.randn(64, dim)
    times = []
    for _ in range(steps + 1):  # the first step warms up
        started = time.perf_counter()
        loss = torch.nn.functional.mse_loss(model(rows), rows)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        times.append(time.perf_counter() - started)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds_per_step": round(statistics.median(times[1:]), 4),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per step, else failed")
    parser.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # DIM KIND, in a subprocess
    args = parser.parse_args()
    if args.one:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.steps)))
        return
    results = []
    for kind in KINDS:
        for dim in SIZES:
            command = [sys.executable, __file__, "--one", str(dim), kind]
            command += ["--threads", str(args.threads), "--steps", str(args.steps)]
            limit = args.max_seconds * (args.steps + 2) + 60
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=limit)
                row = json.loads(done.stdout) if done.returncode == 0 else {"failed": "crashed"}
            except subprocess.TimeoutExpired:
                row = {"failed": f"over {limit:.0f} s"}
            if row.get("seconds_per_step", 0) > args.max_seconds:
                row["failed"] = f"over {args.max_seconds:g} s per step"
            results.append({"kind": kind, "D": dim, **row})
            print(results[-1], flush=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": "python " + " ".join(sys.argv),
                "cpu_cores": os.cpu_count(),
                "torch_threads": args.threads,
                "batch": 64,
                "results": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
