"""The generator on the DPI zoo: do generated DPI denoisers denoise as well as trained ones?

    python bench/dpi_zoo.py [--seeds 0 1 2] [--steps 400] [--ae-steps 1000] [--denoiser-steps 2000]
        [--centre element] [--ae-channels] [--ae-stride 8] [--samples 10] [--threads N]
        [--zoo-dir DIR]

Seed s builds the default DPI zoo from seed s (``DpiZooConfig``: the blind ``digits-unet-small``
base, one DPI per stroke value −1…1 in steps of 0.25, 0.25 held out, the last 5 checkpoints of
each run), fits ``ParamGenerator`` (``GeneratorConfig(ae_steps, denoiser_steps, seed=s)``) on the
training rows and generates ``--samples`` DPIs for every stroke value, training and held-out.
The generator defaults here suit a zoo of fine-tunes of one base: rows z-scored around the mean
row (``--centre element``) and a linear autoencoder (``--ae-channels`` with no widths). With the
LoRA defaults' per-tensor centring, the base shared by every row drowns the differences between
rows; a conv autoencoder (e.g. ``--centre tensor --ae-channels 16 32 64 --ae-stride 8``) then
loses most of what the DPIs learnt.
Each generated row is rebuilt on the zoo's base and scored like the zoo's rows: ``denoising_mse``,
the noise-scaled MSE averaged over 8 σ bins, on that stroke's test digits. Reports, per value and
pooled, generated mean MSE / trained checkpoints' mean MSE — the bar is ≤ 1.10 for every value,
the held-out one included — with two references: the blind base's MSE (what a DPI should beat)
and the MSE of the checkpoints trained at the nearest other training value (the copy-a-neighbour
baseline; at the held-out value a generator should do at least as well).
Writes bench/results/dpi_zoo.json (or ``--results``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import torch
from spread import mean_sd

from paramgen.generator import GeneratorConfig, ParamGenerator
from paramgen.generator.normalization import CENTRES
from zoo.builders import DpiZooConfig, build_dpi_zoo
from zoo.row_scoring import RowScorer
from zoo.store import Zoo
from zoo.training_set import training_set

RESULTS = Path(__file__).with_name("results") / "dpi_zoo.json"
BAR = 1.10  # generated / trained mean MSE, every value
SPLITS = {"all": None, "train": "train", "heldout": "heldout"}


def score_generator(
    generator: ParamGenerator, zoo: Zoo, config: DpiZooConfig, samples: int, seed: int
) -> dict[float, dict]:
    """Per style value: its split, and the mean MSE of generated rows, of the rows trained there,
    of the rows trained at the nearest other training value (the copy-a-neighbour baseline a
    generator must beat at a held-out value) and of the blind base."""
    group = zoo.group(f"dpi/{config.backbone}/{config.style}")
    scorer = RowScorer.of_group(zoo, group)  # the group's family and recorded task
    others = [v for v in config.values if config.split_of(v) == "train"]
    out = {}
    for value in config.values:
        neighbour = min((v for v in others if v != value), key=lambda v: abs(v - value))
        rows_at = {v: group.read(group.indices(**{config.style: v})) for v in (value, neighbour)}
        generated = generator.sample_rows({config.style: value}, samples, seed=seed)
        out[value] = {
            "split": config.split_of(value),
            "generated": statistics.mean(scorer.scores(generated, value)),
            "trained": statistics.mean(rows_at[value].metrics["mse"].tolist()),
            "neighbour_value": neighbour,
            "neighbour": statistics.mean(scorer.scores(rows_at[neighbour].params, value)),
            "base": scorer.neutral_score(value),
        }
        out[value]["ratio"] = out[value]["generated"] / out[value]["trained"]
        print(f"  stroke {value:+.2f} ({out[value]['split']}): ratio {out[value]['ratio']:.3f}")
    return out


def pooled(per_value: dict[float, dict], split: str | None) -> dict:
    """Generated / trained mean MSE pooled over the values of ``split`` (None: every value)."""
    chosen = [v for v in per_value.values() if split is None or v["split"] == split]
    means = {key: statistics.mean(v[key] for v in chosen) for key in ("generated", "trained")}
    for key in ("base", "neighbour"):
        means[key] = statistics.mean(v[key] for v in chosen)
    return {**means, "ratio": means["generated"] / means["trained"]}


def run_seed(seed: int, args: argparse.Namespace, folder: Path) -> dict:
    """Build the zoo of ``seed``, fit on its training rows, score every value."""
    config = DpiZooConfig(seed=seed, steps=args.steps)
    fit_config = GeneratorConfig(
        ae_steps=args.ae_steps,
        denoiser_steps=args.denoiser_steps,
        centre=args.centre,
        ae_channels=tuple(args.ae_channels),
        ae_stride=args.ae_stride,
        seed=seed,
    )
    path = folder / f"dpi-zoo-{seed}.h5"
    started = time.perf_counter()
    build_dpi_zoo(
        path, config, on_run=lambda run: print(f"  trained stroke {run.value:+.2f}: {run.scores}")
    )
    zoo_seconds = time.perf_counter() - started
    with Zoo.open(path) as zoo:
        group = zoo.group(f"dpi/{config.backbone}/{config.style}")
        started = time.perf_counter()
        generator = ParamGenerator.fit(training_set(group, "train"), fit_config)
        fit_seconds = time.perf_counter() - started
        print(f"  seed {seed}: zoo {zoo_seconds:.0f} s, fit {fit_seconds:.0f} s", flush=True)
        started = time.perf_counter()
        per_value = score_generator(generator, zoo, config, args.samples, seed)
        score_seconds = time.perf_counter() - started
    return {
        "per_value": per_value,
        "pooled": {name: pooled(per_value, split) for name, split in SPLITS.items()},
        "worst_ratio": max(v["ratio"] for v in per_value.values()),
        "seconds": {
            "zoo": round(zoo_seconds, 1),
            "fit": round(fit_seconds, 1),
            "score": round(score_seconds, 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=DpiZooConfig.steps, help="per DPI run")
    parser.add_argument("--ae-steps", type=int, default=1000)
    parser.add_argument("--denoiser-steps", type=int, default=2000)
    parser.add_argument(
        "--centre", choices=CENTRES, default="element", help="z-scoring centre (GeneratorConfig)"
    )
    parser.add_argument(
        "--ae-channels",
        type=int,
        nargs="*",
        default=[],
        help="conv autoencoder widths; none: a linear autoencoder",
    )
    parser.add_argument("--ae-stride", type=int, default=8, help="conv autoencoder stride")
    parser.add_argument("--samples", type=int, default=10, help="generated DPIs per value")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--zoo-dir",
        type=Path,
        help="keep the zoos here (dpi-zoo-SEED.h5) and reuse those already built (default: temp)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results: dict = {
        "command": "python " + " ".join(sys.argv),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "zoo": asdict(DpiZooConfig(steps=args.steps)),
        "generator": {
            "centre": args.centre,
            "ae_channels": args.ae_channels,
            "ae_stride": args.ae_stride,
            "ae_steps": args.ae_steps,
            "denoiser_steps": args.denoiser_steps,
            "samples": args.samples,
        },
        "bar": f"generated / trained mean MSE <= {BAR} for every value, held-out included",
        "per_seed": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.zoo_dir or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            print(f"seed {seed}", flush=True)
            results["per_seed"][seed] = run_seed(seed, args, folder)
    runs = results["per_seed"].values()
    results["summary"] = {
        **{f"{name}_ratio": mean_sd([r["pooled"][name]["ratio"] for r in runs]) for name in SPLITS},
        "worst_value_ratio": mean_sd([r["worst_ratio"] for r in runs]),
        **{
            f"{key}_over_trained": mean_sd(
                [r["pooled"]["all"][key] / r["pooled"]["all"]["trained"] for r in runs]
            )
            for key in ("base", "neighbour")
        },
        "heldout_neighbour_over_trained": mean_sd(
            [r["pooled"]["heldout"]["neighbour"] / r["pooled"]["heldout"]["trained"] for r in runs]
        ),
        "meets_bar": all(r["worst_ratio"] <= BAR for r in runs),
    }
    print(json.dumps(results["summary"], indent=1))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
