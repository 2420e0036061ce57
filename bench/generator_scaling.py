"""Seconds per training step and peak RSS of a generator fit as rows grow from 10⁴ to 10⁷ numbers:
whole-row autoencoders (1D-conv, linear) vs the tokenized generator, one thread, rows streamed.

    python bench/generator_scaling.py [--dims 10000,100000,1000000,10000000] [--rows 64]
        [--steps 6] [--memory-limit-gib 12] [--threads 1] [--work-dir /tmp/generator_scaling]

For each D a zoo of ``--rows`` synthetic rows is written (a shared base plus a rank-8 mix driven
by a scalar condition, plus noise, over four tensors), so the fit streams its rows from the file.
Each (D, variant) pair runs in its own process (the order alternates from one D to the next),
fitting ``--steps`` autoencoder and ``--steps`` denoiser steps; a step's time is the median over
the steps after the first, and peak RSS is the process's ``ru_maxrss``. A process over
``--memory-limit-gib`` is killed and recorded as such. Also recorded: the passes over every row
(normalisation statistics, the latents of every row) and the exponent of step time against D
(least squares on log-log). Writes bench/results/generator_scaling.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("results") / "generator_scaling.json"
VARIANTS = {  # name: GeneratorConfig overrides
    "whole-row": {"architecture": "whole-row"},  # the default 1D-conv autoencoder
    "whole-row-linear": {"architecture": "whole-row", "ae_channels": ()},
    "tokens": {"architecture": "tokens"},
}


def write_zoo(path: Path, dim: int, rows: int) -> None:
    """``rows`` rows of ``dim`` numbers over four tensors: base + rank-8 mix + noise."""
    import torch

    from paramgen.schema import ParamSchema, ParamSpec
    from zoo.store import Zoo

    quarter = dim // 4
    schema = ParamSchema(
        tuple(ParamSpec(f"layer{i}.weight", (quarter,)) for i in range(3))
        + (ParamSpec("layer3.weight", (dim - 3 * quarter,)),)
    )
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(dim, generator=generator) * 0.05
    basis = torch.randn(8, dim, generator=generator) * 0.01
    value = torch.linspace(0, 1, rows)
    path.unlink(missing_ok=True)
    with Zoo.create(path) as zoo:
        group = zoo.create_group(
            family="subset", backbone="synthetic", task=f"d{dim}", schema=schema,
            conditions={"x": ()},
        )  # fmt: skip
        for row in range(rows):
            phases = torch.arange(8) * value[row] * math.pi
            mix = torch.cat([phases.sin(), phases.cos()])[:8]
            noise = torch.randn(dim, generator=generator) * 0.001
            group.append(base + mix @ basis + noise, conditions={"x": value[row : row + 1]})


def measure(path: Path, variant: str, steps: int, threads: int) -> dict:
    """One fit of ``steps`` + ``steps`` steps on the zoo at ``path``: step times and peak RSS."""
    import torch

    from paramgen.generator import GeneratorConfig, ParamGenerator
    from zoo.store import Zoo
    from zoo.training_set import training_set

    torch.set_num_threads(threads)
    marks: dict[str, list[float]] = {"autoencoder": [], "denoiser": []}
    started = time.perf_counter()

    def on_progress(stage: str, step: int, total: int, loss: float) -> None:
        marks[stage].append(time.perf_counter())

    config = GeneratorConfig(
        ae_steps=steps, denoiser_steps=steps, centre="element", **VARIANTS[variant]
    )
    with Zoo.open(path) as zoo:
        (name,) = zoo.groups()
        data = training_set(zoo.group(name), None, in_memory_bytes=0)  # always streamed
        ParamGenerator.fit(data, config, on_progress)
    total = time.perf_counter() - started
    step_seconds = {
        stage: statistics.median(b - a for a, b in zip(times[1:], times[2:], strict=False))
        for stage, times in marks.items()
    }
    # The passes over every row: statistics before the first step, latents between the stages.
    statistics_pass = marks["autoencoder"][0] - started - step_seconds["autoencoder"]
    latents_pass = marks["denoiser"][0] - marks["autoencoder"][-1] - step_seconds["denoiser"]
    return {
        "ae_step_s": round(step_seconds["autoencoder"], 4),
        "denoiser_step_s": round(step_seconds["denoiser"], 4),
        "statistics_pass_s": round(statistics_pass, 1),
        "latents_pass_s": round(latents_pass, 1),
        "total_s": round(total, 1),
        "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def run_child(args: list[str], limit_gib: float) -> dict:
    """Run this script as a child measuring one pair, killing it above ``limit_gib`` of RSS."""
    child = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True
    )  # fmt: skip
    peak = 0.0
    while child.poll() is None:
        try:
            status = Path(f"/proc/{child.pid}/status").read_text()
            rss = int(
                next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]
            )
            peak = max(peak, rss / 2**20)
        except (OSError, StopIteration):
            pass
        if peak > limit_gib:
            child.kill()
            child.wait()
            return {"killed": f"RSS above {limit_gib} GiB", "peak_rss_gib": round(peak, 2)}
        time.sleep(0.1)
    output = child.stdout.read()
    if child.returncode != 0:
        return {"failed": f"exit {child.returncode}"}
    return json.loads(output.strip().splitlines()[-1])


def exponent(points: list[tuple[int, float]]) -> float | None:
    """Slope of log(step time) against log(D) by least squares (None below two points)."""
    if len(points) < 2:
        return None
    xs, ys = [math.log(d) for d, _ in points], [math.log(s) for _, s in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return round(slope / sum((x - mx) ** 2 for x in xs), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", default="10000,100000,1000000,10000000")
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--memory-limit-gib", type=float, default=12.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/generator_scaling"))
    parser.add_argument("--child", nargs=2, metavar=("ZOO", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(Path(args.child[0]), args.child[1], args.steps, args.threads)))
        return
    args.work_dir.mkdir(parents=True, exist_ok=True)
    table = []
    for dim in (int(d) for d in args.dims.split(",")):
        path = args.work_dir / f"d{dim}.h5"
        started = time.perf_counter()
        write_zoo(path, dim, args.rows)
        entry = {"dim": dim, "rows": args.rows, "zoo_gib": round(path.stat().st_size / 2**30, 2)}
        entry["zoo_write_s"] = round(time.perf_counter() - started, 1)
        order = list(VARIANTS) if len(table) % 2 == 0 else list(VARIANTS)[::-1]  # alternate
        for variant in order:
            child = [
                "--child", str(path), variant, "--steps", str(args.steps),
                "--threads", str(args.threads),
            ]  # fmt: skip
            entry[variant] = run_child(child, args.memory_limit_gib)
            print(dim, variant, entry[variant], flush=True)
        path.unlink()
        table.append(entry)
    result = {
        "command": "python bench/generator_scaling.py " + " ".join(sys.argv[1:]),
        "threads": args.threads,
        "cpu": os.cpu_count(),
        "table": table,
        "exponent": {
            variant: {
                stage: exponent([(e["dim"], e[variant][key]) for e in table if key in e[variant]])
                for stage, key in (("autoencoder", "ae_step_s"), ("denoiser", "denoiser_step_s"))
            }
            for variant in VARIANTS
        },
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["exponent"], indent=2))


if __name__ == "__main__":
    main()
