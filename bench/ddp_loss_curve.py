"""Loss curves of a generator fit on 1 process with batch B and on 2 DDP processes with B/2 each.

    python bench/ddp_loss_curve.py [--steps 300] [--seeds 0 1 2] [--zoo ZOO --group G]

The default rotation LoRA zoo is built first unless ``--zoo`` is given. For each seed, the fit
runs in this process (batch 64) and on 2 processes (``torch.multiprocessing`` with a gloo group,
32 rows each, one thread each); the curve is process 0's per-step loss (its own half-batch on 2
processes: a noisier estimate of the same expected loss), averaged over windows of ``--window``
steps. Figures: each stage's mean loss over its last quarter, mean ± sd over seeds, for 1 and 2
processes, and the largest gap between the two windowed curves (mean over seeds) next to the
largest spread between seeds. Writes bench/results/ddp_loss_curve.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from seed_processes import save_json
from spread import mean_sd

from paramgen.generator import ParamGenerator, config_for_family
from paramgen.generator.collective import SOLO, DistributedFit
from zoo.store import Zoo
from zoo.training_set import training_set

RESULTS = Path(__file__).with_name("results") / "ddp_loss_curve.json"
STAGES = ("autoencoder", "denoiser")


def fit_curve(rank: int, world: int, port: int, args: argparse.Namespace, seed: int, out: str):
    """One process of a fit (or the only one): its per-step losses, written by process 0."""
    torch.set_num_threads(max(1, 2 // world))
    collective = SOLO
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world)
        collective = DistributedFit()
    losses: dict[str, list[float]] = {stage: [] for stage in STAGES}
    with Zoo.open(args.zoo) as store:
        group = store.group(args.group)
        config = config_for_family(
            group.family, ae_steps=args.steps, denoiser_steps=args.steps, seed=seed
        )
        share = (rank, world, seed) if world > 1 else None
        data = training_set(group, "train", share=share)
        ParamGenerator.fit(
            data,
            config,
            on_progress=lambda stage, step, steps, loss: losses[stage].append(loss),
            collective=collective,
        )
    if world > 1:
        dist.destroy_process_group()
    if rank == 0:
        Path(out).write_text(json.dumps(losses))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def curve(world: int, args: argparse.Namespace, seed: int, work: Path) -> dict[str, np.ndarray]:
    out = work / f"curve_{world}_{seed}.json"
    if world == 1:
        fit_curve(0, 1, 0, args, seed, str(out))
    else:
        mp.spawn(fit_curve, args=(world, free_port(), args, seed, str(out)), nprocs=world)
    return {stage: np.array(values) for stage, values in json.loads(out.read_text()).items()}


def windowed(losses: np.ndarray, window: int) -> np.ndarray:
    return losses[: len(losses) // window * window].reshape(-1, window).mean(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--window", type=int, default=25)
    parser.add_argument("--zoo", type=Path, default=None)
    parser.add_argument("--group", default="lora/digits-cnn/rotation")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        work = Path(tmp)
        if args.zoo is None:
            args.zoo = work / "rotation.h5"
            paramgen = str(Path(sys.executable).with_name("paramgen"))
            subprocess.run([paramgen, "zoo", "build", "lora", str(args.zoo)], check=True)
        curves = {
            world: [curve(world, args, seed, work) for seed in args.seeds] for world in (1, 2)
        }
    results = {"command": " ".join(["python bench/ddp_loss_curve.py", *sys.argv[1:]])}
    for stage in STAGES:
        tails = {
            world: [float(c[stage][-len(c[stage]) // 4 :].mean()) for c in runs]
            for world, runs in curves.items()
        }
        smooth = {
            world: np.stack([windowed(c[stage], args.window) for c in runs])
            for world, runs in curves.items()
        }
        gap = np.abs(smooth[1].mean(axis=0) - smooth[2].mean(axis=0))
        seed_spread = np.maximum(np.ptp(smooth[1], axis=0), np.ptp(smooth[2], axis=0))
        results[stage] = {
            "last_quarter_loss_1_process": mean_sd(tails[1], 4),
            "last_quarter_loss_2_processes": mean_sd(tails[2], 4),
            "windowed_curve_1_process": np.round(smooth[1].mean(axis=0), 4).tolist(),
            "windowed_curve_2_processes": np.round(smooth[2].mean(axis=0), 4).tolist(),
            "largest_gap_between_curves": round(float(gap.max()), 4),
            "largest_spread_between_seeds": round(float(seed_spread.max()), 4),
            "windows_where_gap_exceeds_seed_spread": int((gap > seed_spread).sum()),
            "windows": len(gap),
        }
        print(stage, json.dumps(results[stage]), flush=True)
    save_json(RESULTS, results)


if __name__ == "__main__":
    main()
