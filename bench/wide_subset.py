"""p-diff at 4.2M numbers a row: the tokenized generator on the wide subset zoo (200 checkpoints of
digits-mlp-wide's fc2) — generated vs original accuracy, novelty and the memorisation baselines.

    python bench/wide_subset.py [--zoo /work/zoos/subset.h5] [--seeds 0 1 2] [--samples 20]
        [--threads 1] [--results PATH]

The zoo is the one ``bench/wide_zoos.py --keep`` writes. Each seed runs in its own process, one
after the other: an unconditional generator (``GeneratorConfig`` defaults, element centre, so
``auto`` picks tokens; ``seed``) is fitted on the 200 checkpoints, streamed from the file; then
``--samples`` generated rows and as many rows of each of Zeng et al.'s baselines made from the
checkpoints (noise ×0.1 and ×1 of the per-element spread, average of 16, per-parameter Gaussian)
are scored on the held-out test digits, next to the checkpoints' own stored accuracy. Novelty:
each row's distance to its nearest checkpoint in the generator's normalised space (the
checkpoints normalised once); for ``--samples`` random checkpoints, the distance to their
nearest *other* checkpoint (one Gram matrix; before seed 2 of the first 3-seed run, 20 passes
over the pool did this in 55 min and 14 GiB). Recorded per
seed: fit seconds, peak RSS after the fit and at the end; then mean ± sd over seeds. Writes
bench/results/wide_subset.json (or ``--results``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from seed_processes import peak_gib, run_seeds, write_results
from spread import mean_sd

RESULTS = Path(__file__).with_name("results") / "wide_subset.json"
SOURCES = ("original", "generated", "noise x0.1", "noise x1", "average of 16", "Gaussian fit")


def summary(accuracy: list[float], distance: list[float]) -> dict:
    return {
        "accuracy_mean": round(100 * statistics.mean(accuracy), 3),
        "accuracy_max": round(100 * max(accuracy), 3),
        "accuracy_min": round(100 * min(accuracy), 3),
        "distance_median": round(statistics.median(distance), 3),
    }


def nearest_other(pool, picks):
    """[len(picks)]: each picked row's L2 distance to its nearest *other* row of ``pool`` [N, D]
    (rows already normalised), from one float64 Gram matrix built a column block at a time;
    the winners' distances are recomputed by subtraction (the Gram form cancels)."""
    import torch

    gram = torch.zeros(len(pool), len(pool), dtype=torch.float64)
    for start in range(0, pool.shape[1], 1 << 20):
        block = pool[:, start : start + (1 << 20)].double()
        gram += block @ block.T
    squares = gram.diagonal()
    distances = squares[:, None] + squares[None, :] - 2 * gram  # [N, N]
    distances.fill_diagonal_(float("inf"))
    nearest = distances[picks].argmin(dim=1)
    return torch.linalg.vector_norm(pool[picks].double() - pool[nearest].double(), dim=1)


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    """Fit, sample, make the baselines and score them, in this process."""
    import torch

    from paramgen.generator import GeneratorConfig, ParamGenerator
    from zoo.baselines import average_of_random, gaussian_fitted, noise_added
    from zoo.novelty import nearest_distance
    from zoo.row_scoring import RowScorer
    from zoo.store import Zoo
    from zoo.training_set import training_set

    torch.set_num_threads(args.threads)
    with Zoo.open(args.zoo) as zoo:
        (name,) = zoo.groups()
        group = zoo.group(name)
        started = time.perf_counter()
        data = training_set(group, "train")
        generator = ParamGenerator.fit(data, GeneratorConfig(centre="element", seed=seed))
        fit_seconds, fit_peak = time.perf_counter() - started, peak_gib()
        started = time.perf_counter()
        rng = torch.Generator().manual_seed(seed)
        pool = group.read_params(group.indices(split="train"))  # [200, D]: 3.2 GiB
        rows = {
            "generated": generator.sample_rows({}, args.samples, seed=seed),
            "noise x0.1": noise_added(pool, args.samples, 0.1, rng),
            "noise x1": noise_added(pool, args.samples, 1.0, rng),
            "average of 16": average_of_random(pool, args.samples, rng, k=16),
            "Gaussian fit": gaussian_fitted(pool, args.samples, rng),
        }
        scorer = RowScorer.of_group(zoo, group)
        normalize = generator.normalizer.normalize
        for start in range(0, len(pool), 16):  # in place: the pool is 3.2 GiB
            pool[start : start + 16] = normalize(pool[start : start + 16])
        out = {
            source: summary(
                scorer.scores(candidate, None),
                nearest_distance(normalize(candidate), pool).distance.tolist(),
            )
            for source, candidate in rows.items()
        }
        picks = torch.randperm(len(pool), generator=rng)[: args.samples]
        stored = group.read_labels(group.indices(split="train")).metrics
        (metric,) = stored.values()
        out["original"] = summary(metric.tolist(), nearest_other(pool, picks).tolist())
        return {
            "group": name,
            "dim": group.schema.dim,
            "rows": len(pool),
            "architecture": generator.config.architecture,
            "fit_seconds": round(fit_seconds, 1),
            "evaluate_seconds": round(time.perf_counter() - started, 1),
            "peak_rss_after_fit_gib": fit_peak,
            "peak_rss_gib": peak_gib(),
            "sources": out,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=Path("/work/zoos/subset.h5"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    args, per_seed = run_seeds(__file__, parser, run_seed)
    if per_seed is None:
        return
    runs = list(per_seed.values())
    sources = {
        source: {key: mean_sd([r["sources"][source][key] for r in runs], 3) for key in figures}
        for source, figures in runs[0]["sources"].items()
    }
    write_results(__file__, args, per_seed, {"sources": sources})


if __name__ == "__main__":
    main()
