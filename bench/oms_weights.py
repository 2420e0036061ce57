"""One More Step on the weight generator (METHODS §6): does the learned first step change the
adapters a latent DDPM generator samples on Stable Diffusion's schedule?

    python bench/oms_weights.py [--seeds 0 1 2] [--threads 1] [--samples 20]

Seed s builds the default rotation LoRA zoo from seed s and fits the main job's generator with
its path switched to ``ddpm-scaled-linear`` (ε, √ᾱ_T = 0.068, DDIM 50 "leading" steps, so the
sampler starts at k = 981); then ``fit_latent_one_more_step`` (width 128, 10 % dropped
conditions) on the generator's own training latents. Both samplers — plain, and behind the
step — generate ``--samples`` adapters per angle from the same seed, scored by
``zoo.evaluation`` at every 15° (``--every``: 7 training and 6 held-out angles; accuracy on
the rotated test digits, medians per split next to the trained checkpoints), and at every
training angle their standardised latents are compared with the
training latents at that angle: the distance between the means (per latent dimension, RMS) and
the ratio of the mean per-dimension variances. Writes bench/results/oms_weights.json.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
from seed_processes import peak_gib, run_seeds_and_write
from spread import mean_sd

from paramgen.generator import ParamGenerator
from paramgen.generator.one_more_step import fit_latent_one_more_step
from paramgen.solvers import ddpm_timesteps
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.evaluation import evaluate_generator
from zoo.main_job import MainJobConfig
from zoo.report import summarize_scores
from zoo.store import Zoo
from zoo.training_set import training_set

RESULTS = Path(__file__).with_name("results") / "oms_weights.json"
GROUP = "lora/digits-cnn/rotation"
PATH = "ddpm-scaled-linear"
SETTINGS = ("plain", "one more step")
SCORES = ("generated", "trained", "generated_over_trained", "median_nearest_distance")


@torch.no_grad()
def latent_match(
    generator: ParamGenerator, data, step, samples: int, seed: int
) -> dict[str, dict[str, float]]:
    """Per setting, averaged over the training angles: RMS over latent dimensions of the gap
    between the generated and training latent means, and generated / training mean variance."""
    name = next(iter(data.conditions))
    angles = data.conditions[name]
    latents = generator.encode(data.params).flatten(1)
    out = {}
    for setting, first_step in zip(SETTINGS, (None, step), strict=True):
        gaps, ratios = [], []
        for angle in angles.unique().tolist():
            own = latents[angles == angle]
            drawn = generator.sample_latents(
                {name: angle}, samples, seed=seed, first_step=first_step
            ).flatten(1)
            gaps.append((drawn.mean(0) - own.mean(0)).square().mean().sqrt().item())
            ratios.append(drawn.var(0).mean().item() / own.var(0).mean().item())
        out[setting] = {
            "mean_gap_rms": sum(gaps) / len(gaps),
            "variance_ratio": sum(ratios) / len(ratios),
        }
    return out


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    """Zoo, generator and step from ``seed``; both samplers scored."""
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        zoo_path = Path(tmp) / "zoo.h5"
        build_lora_zoo(zoo_path, LoraZooConfig(seed=seed))
        with Zoo.open(zoo_path) as zoo:
            data = training_set(zoo.group(GROUP))
            config = replace(MainJobConfig().generator, path=PATH, seed=seed)
            if args.quick:
                config = replace(config, ae_steps=20, denoiser_steps=20)
            started = time.perf_counter()
            generator = ParamGenerator.fit(data, config)
            fit_seconds = time.perf_counter() - started
            begun = time.perf_counter()
            step = fit_latent_one_more_step(
                generator,
                data,
                width=128,
                steps=20 if args.quick else args.oms_steps,
                lr=1e-3,
                seed=seed,
            )
            step_seconds = time.perf_counter() - begun
            values = [v for v in LoraZooConfig().values if v % args.every == 0]
            scores = {
                setting: summarize_scores(
                    evaluate_generator(
                        generator,
                        zoo,
                        GROUP,
                        values,
                        n=args.samples,
                        seed=seed,
                        first_step=first_step,
                    )
                )
                for setting, first_step in zip(SETTINGS, (None, step), strict=True)
            }
            latents = latent_match(generator, data, step, args.samples, seed)
    first = generator.path.alphas_cumprod[ddpm_timesteps(generator.path, 50)[0]].item()
    return {
        "fit_seconds": fit_seconds,
        "step_fit_seconds": step_seconds,
        "peak_rss_after_fit_gib": peak_gib(),
        "peak_rss_gib": peak_gib(),
        "latent_dim": config.latent_dim,
        "first_step_leak": math.sqrt(first * config.latent_dim / (1 - first)),
        "scores": {
            setting: {split: {key: row[key] for key in SCORES} for split, row in per.items()}
            for setting, per in scores.items()
        },
        "latents": latents,
        "step_parameters": sum(p.numel() for p in step.parameters()),
    }


def summarise(runs: list[dict]) -> dict:
    """Mean ± sd over seeds: scores per setting and split, the paired OMS − plain difference of
    generated accuracy, and the latent match."""
    splits = list(runs[0]["scores"]["plain"])
    return {
        "scores": {
            setting: {
                split: {
                    key: mean_sd([r["scores"][setting][split][key] for r in runs]) for key in SCORES
                }
                for split in splits
            }
            for setting in SETTINGS
        },
        "oms_minus_plain_generated": {
            split: mean_sd(
                [
                    r["scores"]["one more step"][split]["generated"]
                    - r["scores"]["plain"][split]["generated"]
                    for r in runs
                ]
            )
            for split in splits
        },
        "latents": {
            setting: {
                key: mean_sd([r["latents"][setting][key] for r in runs])
                for key in runs[0]["latents"][setting]
            }
            for setting in SETTINGS
        },
        "first_step_leak": round(runs[0]["first_step_leak"], 4),
        "latent_dim": runs[0]["latent_dim"],
        "step_parameters": runs[0]["step_parameters"],
        "step_fit_seconds": mean_sd([r["step_fit_seconds"] for r in runs], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oms-steps", type=int, default=3000)
    parser.add_argument("--every", type=float, default=15.0, help="score angles k·EVERY only")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="20 fit steps a stage (smoke run)")
    run_seeds_and_write(__file__, parser, run_seed, summarise)


if __name__ == "__main__":
    main()
