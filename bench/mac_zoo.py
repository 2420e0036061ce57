"""The generator on the MAC zoo: do generated coefficient nets sample digits as well as trained
ones, at the training NFEs and at a held-out one?

    python bench/mac_zoo.py [--seeds 0 1 2] [--anchor-iterations 80] [--iterations 40]
        [--batch 32] [--samples 5]
        [--ae-steps 1000] [--denoiser-steps 2000] [--threads 1] [--zoo-dir runs/mac/zoos]

Seed s builds the MAC zoo of seed s (``MacZooConfig``: an anchor MacConvNet trained with the
training NFEs {3, 4, 6, 8} in turn, then one fine-tune of it per NFE ∈ {3, 4, 5, 6, 8}, NFE 5 held
out, s = 0.2, the last 3 checkpoints of each run)
in ``--zoo-dir``/mac-zoo-s.h5, where bench/mac_digits.py keeps the seed's flow model (pretrained
once, reused). It fits ``ParamGenerator`` on the training rows (condition: the NFE, a number;
rows z-scored around the mean row, a linear autoencoder — the settings that suit a zoo of nets
from one init) and generates ``--samples`` nets per NFE, training and held-out. Each generated
row is rebuilt, plugged into the γ-space sampler at its NFE and scored like the zoo's rows: the
Fréchet distance of 449 digits sampled from the zoo's fixed noise to the test digits.

Reports, per NFE, generated mean FD / the trained checkpoints' mean FD — the bar is ≤ 1.10 for
every NFE, the held-out one included — with references on the same noise: plain Euler at that
NFE (what MAC improves on) and the checkpoints trained at the nearest other training NFE applied
at this NFE (the copy-a-neighbour baseline a generator should match at the held-out NFE).
Writes bench/results/mac_zoo.json (or ``--results``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch
from spread import mean_sd

from paramgen.families.mac import MacFamily
from paramgen.generator import ParamGenerator, config_for_family
from zoo.builders import MacZooConfig, build_mac_zoo
from zoo.row_scoring import RowScorer
from zoo.store import Zoo
from zoo.training_set import training_set

RESULTS = Path(__file__).with_name("results") / "mac_zoo.json"
BAR = 1.10  # generated / trained mean FD, every NFE


def score_generator(generator: ParamGenerator, zoo: Zoo, config: MacZooConfig, args) -> dict:
    """Per NFE: split, mean FD of generated nets, of the trained ones, of the nearest training
    NFE's nets used at this NFE, and of plain Euler."""
    group = zoo.group(f"mac/{config.backbone}/nfe")
    scorer = RowScorer.of_group(zoo, group)  # the group's family and recorded task
    training = [n for n in config.nfes if config.split_of(n) == "train"]
    train_rows = group.read(group.indices(split="train"))
    out = {}
    for nfe in config.nfes:
        neighbour = min((n for n in training if n != nfe), key=lambda n: (abs(n - nfe), n))
        generated = generator.sample_rows({"nfe": float(nfe)}, args.samples, seed=config.seed)
        here = group.read(group.indices(nfe=nfe)).params
        to_train = torch.cdist(generated, train_rows.params)  # [samples, training rows]
        row = {
            "split": config.split_of(nfe),
            "generated": statistics.mean(scorer.scores(generated, nfe)),
            "trained": statistics.mean(group.read(group.indices(nfe=nfe)).metrics["fd"].tolist()),
            "neighbour_nfe": neighbour,
            "neighbour": statistics.mean(
                scorer.scores(group.read(group.indices(nfe=neighbour)).params, nfe)
            ),
            "euler": scorer.neutral_score(nfe),  # MAC's w = 0: plain Euler
            # memorisation check: L2 to the nearest training row (and its NFE), to the nearest
            # row trained at this NFE, and that row's own distance to the nearest other NFE's row
            "nearest_train_distance": to_train.min(dim=1).values.mean().item(),
            "nearest_train_nfe": [
                train_rows.conditions["nfe"][int(i)].item() for i in to_train.argmin(dim=1)
            ],
            "distance_to_trained_here": torch.cdist(generated, here)
            .min(dim=1)
            .values.mean()
            .item(),
            "trained_here_to_other_nfe": torch.cdist(
                here, train_rows.params[train_rows.conditions["nfe"] != nfe]
            )
            .min(dim=1)
            .values.mean()
            .item(),
        }
        row["ratio"] = row["generated"] / row["trained"]
        out[nfe] = row
        print(f"  nfe {nfe} ({row['split']}): {json.dumps(row)}", flush=True)
    return out


def zoo_config(args: argparse.Namespace, seed: int) -> MacZooConfig:
    return MacZooConfig(
        seed=seed,
        anchor_iterations=args.anchor_iterations,
        iterations=args.iterations,
        keep_last=args.keep_last,
        batch_size=args.batch,
    )


def run_seed(seed: int, args: argparse.Namespace) -> dict:
    """Build the zoo of ``seed``, fit on its training rows, score every NFE."""
    config = zoo_config(args, seed)
    fit_config = config_for_family(
        "mac", ae_steps=args.ae_steps, denoiser_steps=args.denoiser_steps, seed=seed
    )
    path = args.zoo_dir / f"mac-zoo-{seed}.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    build_mac_zoo(
        path, config, on_run=lambda run: print(f"  trained nfe {run.value:g}: fd {run.scores}")
    )
    zoo_seconds = time.perf_counter() - started
    with Zoo.open(path) as zoo:
        group = zoo.group(f"mac/{config.backbone}/nfe")
        started = time.perf_counter()
        generator = ParamGenerator.fit(training_set(group, "train"), fit_config)
        fit_seconds = time.perf_counter() - started
        print(f"  seed {seed}: zoo {zoo_seconds:.0f} s, fit {fit_seconds:.0f} s", flush=True)
        started = time.perf_counter()
        per_nfe = score_generator(generator, zoo, config, args)
        score_seconds = time.perf_counter() - started
    return {
        "per_nfe": per_nfe,
        "worst_ratio": max(v["ratio"] for v in per_nfe.values()),
        "seconds": {
            "zoo": round(zoo_seconds, 1),
            "fit": round(fit_seconds, 1),
            "score": round(score_seconds, 1),
        },
    }


def summarise(runs: list[dict], nfes: tuple[int, ...]) -> dict:
    """mean ± sd over seeds, per NFE, of every FD and of the ratios to the trained FD."""
    table = {}
    for nfe in nfes:
        rows = [r["per_nfe"][nfe] for r in runs]
        table[nfe] = {
            "split": rows[0]["split"],
            "neighbour_nfe": rows[0]["neighbour_nfe"],
            **{key: mean_sd([r[key] for r in rows], 3) for key in ("generated", "trained")},
            **{key: mean_sd([r[key] for r in rows], 3) for key in ("neighbour", "euler")},
            "generated_over_trained": mean_sd([r["ratio"] for r in rows]),
            **{
                key: mean_sd([r[key] for r in rows])
                for key in (
                    "nearest_train_distance",
                    "distance_to_trained_here",
                    "trained_here_to_other_nfe",
                )
            },
            "neighbour_over_trained": mean_sd([r["neighbour"] / r["trained"] for r in rows]),
            "euler_over_trained": mean_sd([r["euler"] / r["trained"] for r in rows]),
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--anchor-iterations", type=int, default=MacZooConfig.anchor_iterations, help="anchor net"
    )
    parser.add_argument(
        "--iterations", type=int, default=MacZooConfig.iterations, help="per run (fine-tune)"
    )
    parser.add_argument("--keep-last", type=int, default=MacZooConfig.keep_last)
    parser.add_argument("--batch", type=int, default=32, help="MAC training minibatch")
    parser.add_argument("--ae-steps", type=int, default=1000)
    parser.add_argument("--denoiser-steps", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=5, help="generated nets per NFE")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--zoo-dir", type=Path, default=Path("runs/mac/zoos"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    config = MacZooConfig(
        iterations=args.iterations, keep_last=args.keep_last, batch_size=args.batch
    )
    runs = []
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        runs.append(run_seed(seed, args))
    results = {
        "command": "python " + " ".join(sys.argv),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "zoo": asdict(config),
        "generator": {
            **MacFamily.generator_defaults,
            "ae_steps": args.ae_steps,
            "denoiser_steps": args.denoiser_steps,
            "samples": args.samples,
        },
        "bar": f"generated / trained mean FD <= {BAR} for every NFE, held-out included",
        "summary": summarise(runs, config.nfes),
        "worst_ratio": mean_sd([r["worst_ratio"] for r in runs]),
        "meets_bar": all(r["worst_ratio"] <= BAR for r in runs),
        "per_seed": dict(zip(args.seeds, runs, strict=True)),
        "wall_s": round(time.perf_counter() - started),
    }
    print(json.dumps(results["summary"], indent=1))
    print(f"meets bar: {results['meets_bar']}; wall time {results['wall_s']} s")
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
