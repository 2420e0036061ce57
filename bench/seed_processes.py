"""Run a bench's seeds one after the other, each in a fresh process of its own script, so each
seed's peak memory is its own (``ru_maxrss`` only ever grows within a process)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from spread import mean_sd

__all__ = ["peak_gib", "run_seeds", "run_seeds_and_write", "save_json", "write_results"]


def peak_gib() -> float:
    """This process's peak resident memory so far, GiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def run_seeds(script: str, parser: argparse.ArgumentParser, run_seed) -> tuple:
    """Parse the command line with ``parser`` plus the seed options. In a seed's process
    (``--child SEED``): print ``run_seed(args, SEED)`` as JSON and return (args, None).
    Otherwise: ``python script <this command's arguments> --child SEED`` for each of
    ``args.seeds``; returns (args, their figures by seed). Each finished seed is kept beside
    ``args.results`` (see ``seed_file``) and reused by a rerun of the same command, so a killed
    run loses at most the seed it was in."""
    add_seed_options(parser)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_seed(args, args.child)))
        return args, None
    options = {key: str(value) for key, value in vars(args).items() if key != "seeds"}
    per_seed = {}
    for seed in args.seeds:
        kept = seed_file(args.results, seed)
        if kept.exists() and json.loads(kept.read_text())["options"] == options:
            per_seed[seed] = json.loads(kept.read_text())["figures"]
            print(seed, "reused from", kept, flush=True)
            continue
        child = [sys.executable, script, *sys.argv[1:], "--child", str(seed)]
        done = subprocess.run(child, stdout=subprocess.PIPE, text=True, check=True)
        per_seed[seed] = json.loads(done.stdout.strip().splitlines()[-1])
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps({"options": options, "figures": per_seed[seed]}))
        print(seed, json.dumps(per_seed[seed]), flush=True)
    for seed in args.seeds:
        seed_file(args.results, seed).unlink()
    return args, per_seed


def seed_file(results: Path, seed: int) -> Path:
    """Where one finished seed of the run that writes ``results`` is kept until the run ends."""
    return results.with_name(f".{results.stem}.seed{seed}.json")


def write_results(
    script: str, args: argparse.Namespace, per_seed: dict[int, dict], figures: dict
) -> None:
    """Write ``args.results``: the command, cores and threads, ``figures`` (mean ± sd over seeds),
    the fit's seconds and peak memory over seeds, and every seed's own figures; print ``figures``.
    """
    runs = list(per_seed.values())
    result = {
        "command": f"python bench/{Path(script).name} " + " ".join(sys.argv[1:]),
        "cpu_cores": os.cpu_count(),
        "threads": args.threads,
        **figures,
        **{
            key: mean_sd([run[key] for run in runs], 2)
            for key in ("fit_seconds", "peak_rss_after_fit_gib", "peak_rss_gib")
        },
        "per_seed": per_seed,
    }
    save_json(args.results, result)
    print(json.dumps(figures, indent=1))


def save_json(path: Path, results: dict) -> None:
    """Write a bench's ``results`` to ``path`` (its folder made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")


def add_seed_options(parser: argparse.ArgumentParser) -> None:
    """--seeds, --samples, --threads and the hidden --child a seed's process is started with."""
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    samples = parser.get_default("samples") or 20  # a bench's own set_defaults wins
    parser.add_argument("--samples", type=int, default=samples, help="generated rows per condition")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)


def run_seeds_and_write(script: str, parser: argparse.ArgumentParser, run_seed, summarise) -> None:
    """A bench's whole ``main`` after its own options: its seeds in fresh processes
    (:func:`run_seeds`), then ``summarise(list of per-seed figures)`` written by
    :func:`write_results` (in a seed's own process: nothing more)."""
    args, per_seed = run_seeds(script, parser, run_seed)
    if per_seed is not None:
        write_results(script, args, per_seed, summarise(list(per_seed.values())))
