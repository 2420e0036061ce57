"""The generator on a large-row zoo (the wide rank-16 LoRA zoo: 102,400 numbers a row): fit time,
peak memory and quality on seen and held-out conditions, over seeds.

    python bench/wide_generator.py [--zoo /work/zoos/lora.h5] [--seeds 0 1 2] [--samples 20]
        [--architecture auto] [--centre element] [--linear] [--threads 1] [--results PATH]

The zoo is the one ``bench/wide_zoos.py --keep`` writes (``--lora-values`` all 37 default angles
for the held-out split). Each seed runs in its own process, one after the other: the generator is
fitted on the zoo's training rows with ``GeneratorConfig`` defaults and ``seed`` (``--architecture``
default auto: tokens at this D; ``--centre``; ``--linear``: the linear whole-row autoencoder), then
``zoo.evaluation.evaluate_generator`` scores ``--samples`` generated adapters at every angle of the
zoo on the rotated held-out test digits next to its baselines (the rows trained at the angle, the
nearest training angle, noise, interpolation, no adapter). Recorded per seed: fit seconds, the
process's peak RSS after the fit and at the end, and ``zoo.report.summarize_scores`` per split;
then mean ± sd over seeds. Writes bench/results/wide_generator.json (or ``--results``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from seed_processes import peak_gib, run_seeds, write_results
from spread import mean_sd

RESULTS = Path(__file__).with_name("results") / "wide_generator.json"
KEYS = ("generated", "trained", "generated_over_trained", "nearest_condition", "interpolated")


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    """Fit and score one seed in this process."""
    import torch

    from paramgen.generator import GeneratorConfig, ParamGenerator
    from zoo.evaluation import evaluate_generator
    from zoo.report import summarize_scores
    from zoo.store import Zoo
    from zoo.training_set import training_set

    torch.set_num_threads(args.threads)
    config = GeneratorConfig(architecture=args.architecture, centre=args.centre, seed=seed)
    if args.linear:  # the whole-row comparison that fits 10⁵ numbers at all on a CPU
        config = replace(config, ae_channels=())
    with Zoo.open(args.zoo) as zoo:
        (name,) = zoo.groups()
        group = zoo.group(name)
        (condition,) = group.condition_shapes
        values = sorted(set(group.read_labels().conditions[condition].tolist()))
        started = time.perf_counter()
        generator = ParamGenerator.fit(training_set(group), config)
        fit_seconds = time.perf_counter() - started
        fit_peak = peak_gib()
        started = time.perf_counter()
        scores = evaluate_generator(generator, zoo, name, values, n=args.samples, seed=seed)
        return {
            "group": name,
            "dim": group.schema.dim,
            "rows": len(group),
            "architecture": generator.config.architecture,
            "fit_seconds": round(fit_seconds, 1),
            "evaluate_seconds": round(time.perf_counter() - started, 1),
            "peak_rss_after_fit_gib": fit_peak,
            "peak_rss_gib": peak_gib(),
            "summary": summarize_scores(scores),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("/work/zoos/lora.h5"))
    parser.add_argument("--architecture", default="auto")
    parser.add_argument("--centre", default="element")
    parser.add_argument("--linear", action="store_true", help="linear whole-row autoencoder")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args, per_seed = run_seeds(__file__, parser, run_seed)
    if per_seed is None:
        return
    summary = {
        f"{split}_{key}": mean_sd([r["summary"][split][key] for r in per_seed.values()])
        for split in ("train", "heldout")
        for key in KEYS
    }
    write_results(__file__, args, per_seed, {"summary": summary})


if __name__ == "__main__":
    main()
