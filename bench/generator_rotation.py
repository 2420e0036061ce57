"""The generator on the default rotation zoo: seen vs held-out angles, paths, latent-noise ablation
and example-image conditioning, over 3 seeds.

    python bench/generator_rotation.py [--seeds 0 1 2] [--jobs 1] [--threads N]
        [--configs 0 1 2 3 4]

Seed s builds the default zoo from seed s (base classifier and LoRA runs) and fits every
configuration with seed s on its training angles; each fit generates 20 adapters for every angle
(training and held-out), scored on the rotated held-out test digits next to the baselines of
``zoo.evaluation``. Zoos, then fits, run in ``--jobs`` processes side by side. Writes
bench/results/generator_rotation.json (or ``--results``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path

import torch
from spread import mean_sd

from paramgen.data import load_digits16
from paramgen.generator import ParamGenerator
from paramgen.tasks.digits import styled
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.evaluation import evaluate_generator
from zoo.main_job import MainJobConfig
from zoo.report import summarize_scores
from zoo.store import Zoo
from zoo.training_set import training_set

RESULTS = Path(__file__).with_name("results") / "generator_rotation.json"
GROUP = "lora/digits-cnn/rotation"
BASE = MainJobConfig().generator
FLOW = "flow (linear path, Heun 25), latent noise 0.1"
CONFIGS = {
    FLOW: BASE,
    "flow, no latent noise (ablation)": replace(BASE, latent_noise=0.0),
    "ddpm (eps, DDIM 50 steps)": replace(BASE, path="ddpm"),
    "flow, conditioned on 16 example images": replace(BASE, condition="style-images"),
    "tokens (RPG-style, 2048-number tokens), flow, element centre": replace(
        BASE, architecture="tokens", centre="element"
    ),
}
IMAGES = "flow, conditioned on 16 example images"
SUMMARY_KEYS = (
    "generated",
    "trained",
    "generated_over_trained",
    "nearest_condition",
    "noise_added",
    "interpolated",
    "no_adapter",
    "median_nearest_distance",
)


def _example_images(angle: float, seed: int) -> torch.Tensor:
    """16 rotated *test* digits: example images the generator never saw."""
    test = styled(load_digits16("test"), "rotation", angle)
    picks = torch.randperm(len(test.labels), generator=torch.Generator().manual_seed(seed))[:16]
    return test.images[picks]


def fit_and_score(
    zoo_path: Path, name: str, seed: int, samples: int, out: Path, threads: int
) -> dict:
    """One (configuration, seed): fit, save, score every angle; per-angle medians kept."""
    torch.set_num_threads(threads)
    config = replace(CONFIGS[name], seed=seed)
    with Zoo.open(zoo_path) as zoo:
        started = time.perf_counter()
        generator = ParamGenerator.fit(training_set(zoo.group(GROUP)), config)
        fit_seconds = time.perf_counter() - started
        generator.save_pretrained(out)
        values = LoraZooConfig().values
        # An image-conditioned generator gets 16 rotated test digits instead of the angle.
        images = config.condition == "style-images"
        scores = evaluate_generator(
            generator,
            zoo,
            GROUP,
            values,
            n=samples,
            seed=seed,
            condition_of=(lambda value: {"images": _example_images(value, seed)})
            if images
            else None,
        )
    return {
        "summary": summarize_scores(scores),
        "per_value": {
            s.value: {"split": s.split, "generated": statistics.median(s.generated)} for s in scores
        },
        "fit_seconds": round(fit_seconds, 1),
    }


def image_gap(per_seed: dict) -> dict:
    """Held-out angles: points the image-conditioned adapters score below the angle-conditioned."""
    means, gaps = [], []
    for seed, record in per_seed[IMAGES].items():
        by_angle = per_seed[FLOW][seed]["per_value"]
        seed_gaps = [
            100 * (by_angle[value]["generated"] - scored["generated"])
            for value, scored in record["per_value"].items()
            if scored["split"] == "heldout"
        ]
        means.append(statistics.mean(seed_gaps))
        gaps.extend(seed_gaps)
    return {"mean_points_below": mean_sd(means), "worst_angle_points_below": round(max(gaps), 2)}


def build_zoo(path: Path, seed: int, threads: int) -> float:
    """The default zoo from ``seed``; returns the seconds it took."""
    torch.set_num_threads(threads)
    started = time.perf_counter()
    build_lora_zoo(path, LoraZooConfig(seed=seed))
    return round(time.perf_counter() - started, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=1, help="zoos / fits run side by side")
    parser.add_argument("--threads", type=int, help="torch threads per job (default: shared out)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--configs", nargs="+", choices=range(len(CONFIGS)), type=int,
        default=list(range(len(CONFIGS))), help="indices of the configurations to fit",
    )  # fmt: skip
    args = parser.parse_args()
    results: dict = {
        "command": "python " + " ".join(sys.argv),
        "cpu_cores": os.cpu_count(),
        "configs": {},
        "per_seed": {},
    }
    cores = os.cpu_count() or 1
    names = [name for i, name in enumerate(CONFIGS) if i in args.configs]
    fits = len(names) * len(args.seeds)

    def threads(side_by_side: int) -> int:
        return args.threads or max(1, cores // min(args.jobs, side_by_side))

    with (
        tempfile.TemporaryDirectory() as tmp,
        ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool,
    ):
        zoos = {seed: Path(tmp) / f"zoo-{seed}.h5" for seed in args.seeds}
        built = {
            seed: pool.submit(build_zoo, path, seed, threads(len(zoos)))
            for seed, path in zoos.items()
        }
        results["zoo_seconds"] = {seed: future.result() for seed, future in built.items()}
        futures = {
            (name, seed): pool.submit(
                fit_and_score,
                zoos[seed],
                name,
                seed,
                args.samples,
                Path(tmp) / f"gen-{i}-{seed}",
                threads(fits),
            )
            for i, name in enumerate(names)
            for seed in args.seeds
        }
        for (name, seed), future in futures.items():
            record = future.result()
            print(name, seed, json.dumps(record["summary"]), flush=True)
            results["per_seed"].setdefault(name, {})[seed] = record
    for name, runs in results["per_seed"].items():
        results["configs"][name] = {
            f"{split}_{key}": mean_sd([r["summary"][split][key] for r in runs.values()])
            for split in ("train", "heldout")
            for key in SUMMARY_KEYS
        }
    if {FLOW, IMAGES} <= set(names):
        results["images_vs_angle"] = image_gap(results["per_seed"])
        print(json.dumps(results["images_vs_angle"]))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
