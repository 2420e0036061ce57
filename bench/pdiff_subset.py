"""p-diff in miniature (METHODS §1.1, §9 E1): are generated last layers of digits-cnn new and
good, or copies of the checkpoints, and do they beat Zeng et al.'s baselines (§1.3)?

    python bench/pdiff_subset.py [--seeds 0 1 2] [--patterns 'fc2.*'] [--lr 1e-2] [--every 5]
        [--warmup 100] [--checkpoints 200] [--ae-steps 1500] [--denoiser-steps 3000]
        [--latent-noise 0.1] [--samples 100] [--threads 1] [--zoo-dir runs/pdiff/zoos]
        [--collect-only] [--no-plot]

The base is the same for every seed: ``digits-cnn`` pretrained from ``--base-seed`` 0 (stored in
each seed's zoo before the build, so ``SubsetZooConfig.seed`` does not re-pretrain it). Seed s
varies what p-diff's pipeline draws: the collection run's minibatches (``SubsetZooConfig(seed=s)``:
Adam on the ``--patterns`` tensors only, ``--warmup`` steps dropped, then ``--checkpoints`` kept
``--every`` steps apart), the generator's fit (subset-family defaults, ``seed=s``) and the samples
and baselines (``evaluate_generator(..., seed=s)``).

Per seed: the collection's spread (accuracy, distinct test-error sets, pairwise distances), then
``--samples`` generated rows scored by ``zoo.evaluation.evaluate_generator`` on the 449 held-out
test digits next to the originals (the collected checkpoints), Zeng et al.'s baselines (noise
×0.1 and ×1 of the per-element spread, average of 16, per-parameter Gaussian fit) and noise
matched to the generated rows' median distance. For each source: accuracy mean / max / min,
median distance to the nearest original (the generator's normalised space) and mean max
error-set IoU with the originals; for the originals themselves both figures are leave-one-out
(nearest / most similar *other* original). Writes bench/results/pdiff_subset.json (or
``--results``) and, for the first seed, accuracy-vs-novelty scatters next to it (``*_distance.png``,
``*_iou.png``). ``--collect-only`` builds the zoos and reports their spread without a generator.
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

from paramgen.generator import ParamGenerator, config_for_family
from paramgen.generator.normalization import TensorwiseNormalizer
from paramgen.schema import state_dict_sha256
from zoo.bases import base_model
from zoo.builders.subset import SubsetZooConfig, build_subset_zoo
from zoo.evaluation import evaluate_generator
from zoo.novelty import error_set_iou, nearest_distance
from zoo.novelty_plot import plot_metric_vs_novelty
from zoo.row_scoring import RowScorer
from zoo.store import Zoo
from zoo.training_set import training_set

RESULTS = Path(__file__).with_name("results") / "pdiff_subset.json"
GROUP = "subset/digits-cnn/digits"  # the one group of an unconditional subset zoo
BASELINES = ("noise x0.1", "noise x1", "average of 16", "Gaussian fit", "noise matched")
SOURCES = ("original", "generated", *BASELINES)
P_DIFF = {"setting": "ResNet-18 CIFAR-100 (Wang et al. 2024)", "original": [76.72, 77.15]}
P_DIFF["generated"] = [77.24, 77.55]  # mean / max top-1 %, reported


def collect(seed: int, args: argparse.Namespace) -> tuple[Path, float, bool]:
    """Build (or reuse) seed's zoo on the fixed base: its path, seconds taken, whether reused."""
    config = SubsetZooConfig(
        patterns=tuple(args.patterns),
        checkpoints=args.checkpoints,
        every=args.every,
        warmup=args.warmup,
        lr=args.lr,
        seed=seed,
    )
    tag = "+".join(p.replace(".*", "").replace("*", "") for p in args.patterns)
    name = f"pdiff-{tag}-lr{args.lr:g}-e{args.every}-w{args.warmup}-k{args.checkpoints}-s{seed}"
    path = args.zoo_dir / f"{name}.h5"
    path.parent.mkdir(parents=True, exist_ok=True)
    started, reused = time.perf_counter(), path.exists()
    if not reused:
        with Zoo.create(path) as zoo:
            base_model(zoo, "digits-cnn", args.base_seed)  # pins the base for every seed
    build_subset_zoo(path, config)
    return path, time.perf_counter() - started, reused


def masked_max(similarity: torch.Tensor) -> torch.Tensor:
    """Each row's largest entry off the diagonal of a square [N, N] matrix (leave-one-out)."""
    return similarity.fill_diagonal_(-torch.inf).max(dim=1).values


def distinct(wrong: torch.Tensor) -> int:
    """How many different test-error sets the rows of ``wrong`` [N, E] (bool) make."""
    return len({tuple(w.nonzero().flatten().tolist()) for w in wrong})


def collection_spread(zoo: Zoo, group_name: str, centre: str) -> dict:
    """The originals: accuracy, error sets and distances (normalised as the generator does)."""
    group = zoo.group(group_name)
    read = group.read(group.indices(split="train"))  # what the generator trains on
    rows, accuracy = read.params, read.metrics["accuracy"].tolist()
    normalize = TensorwiseNormalizer(group.schema, centre).fit(rows).normalize
    wrong = RowScorer.of_group(zoo, group).assess(rows, None).wrong
    nearest = [
        nearest_distance(rows[i : i + 1], torch.cat([rows[:i], rows[i + 1 :]]), normalize)
        for i in range(len(rows))
    ]
    pairwise = torch.pdist(normalize(rows).double())
    return {
        "accuracy": accuracy,
        "distance": torch.cat([n.distance for n in nearest]).tolist(),
        "iou": masked_max(error_set_iou(wrong, wrong)).tolist(),
        "distinct_error_sets": distinct(wrong),
        "wrong_count_mean": wrong.sum(dim=1).double().mean().item(),
        "pairwise_distance_median": pairwise.median().item(),
        "pairwise_distance_max": pairwise.max().item(),
        "normalised_row_norm_mean": normalize(rows).norm(dim=1).mean().item(),
    }


def fit(
    zoo: Zoo, group_name: str, seed: int, args: argparse.Namespace
) -> tuple[ParamGenerator, dict]:
    """The unconditional generator on the originals, with the seconds of each stage."""
    stage_start = {}

    def on_progress(stage: str, step: int, steps: int, loss: float) -> None:
        stage_start.setdefault(stage, time.perf_counter())

    config = config_for_family(
        "subset",
        ae_steps=args.ae_steps,
        denoiser_steps=args.denoiser_steps,
        latent_noise=args.latent_noise,
        seed=seed,
    )
    started = time.perf_counter()
    generator = ParamGenerator.fit(training_set(zoo.group(group_name)), config, on_progress)
    ended = time.perf_counter()
    seconds = {
        "autoencoder": stage_start["denoiser"] - started,
        "denoiser": ended - stage_start["denoiser"],
    }
    return generator, seconds


def summary(accuracy: list[float], distance: list[float], iou: list[float]) -> dict:
    """One source's figures: accuracy in %, median nearest distance, mean max IoU."""
    return {
        "accuracy_mean": round(100 * statistics.mean(accuracy), 4),
        "accuracy_max": round(100 * max(accuracy), 4),
        "accuracy_min": round(100 * min(accuracy), 4),
        "distance_median": round(statistics.median(distance), 4),
        "iou_mean": round(statistics.mean(iou), 4),
    }


def run_seed(seed: int, args: argparse.Namespace) -> tuple[dict, dict]:
    """One seed's figures (JSON) and its per-row points (for the scatter)."""
    path, collect_s, reused = collect(seed, args)
    with Zoo.open(path) as zoo:
        group_name = GROUP
        dim = zoo.group(group_name).schema.dim
        started = time.perf_counter()
        centre = config_for_family("subset").centre
        originals = collection_spread(zoo, group_name, centre)
        spread_s = time.perf_counter() - started
        scorer = RowScorer.of_group(zoo, zoo.group(group_name))
        out = {
            "base": {
                "sha256": state_dict_sha256(zoo.backbone_weights("digits-cnn")),
                "test_accuracy": round(100 * scorer.task.score(scorer.base, None), 4),
            },
            "D": dim,
            "zoo_reused": reused,  # then "collect" is not the collection's time
            "collection": {k: v for k, v in originals.items() if not isinstance(v, list)},
            "seconds": {"collect": collect_s, "collection_spread": spread_s},
        }
        out["collection"]["accuracy_sd"] = 100 * statistics.stdev(originals["accuracy"])
        points = {"original": (originals["distance"], originals["accuracy"], originals["iou"])}
        out["sources"] = {
            "original": summary(originals["accuracy"], originals["distance"], originals["iou"])
        }
        if args.collect_only:
            return out, points
        generator, fit_s = fit(zoo, group_name, seed, args)
        out["seconds"].update(fit_s)
        started = time.perf_counter()
        (scores,) = evaluate_generator(
            generator, zoo, group_name, [None], n=args.samples, seed=seed
        )
        out["seconds"]["evaluate"] = time.perf_counter() - started
        started = time.perf_counter()
        # Zeng et al.'s generated–generated figure: the same rows evaluate_generator scored.
        generated = generator.sample_rows({}, args.samples, seed=seed)
        wrong = RowScorer.of_group(zoo, zoo.group(group_name)).assess(generated, None).wrong
        if not torch.allclose(
            1 - wrong.double().mean(dim=1), torch.tensor(scores.generated).double()
        ):
            raise RuntimeError("re-sampled rows differ from the rows evaluate_generator scored")
        out["generated_generated_iou_mean"] = masked_max(error_set_iou(wrong, wrong)).mean().item()
        out["generated_distinct_error_sets"] = distinct(wrong)
        # Mode collapse: how many originals the generated rows sit nearest to, and where in the
        # collection run those lie (the kept steps span warmup + every … warmup + K·every).
        read = zoo.group(group_name).read(zoo.group(group_name).indices(split="train"))
        nearest = nearest_distance(generated, read.params, generator.normalizer.normalize)
        out["generated_distinct_nearest_originals"] = int(nearest.index.unique().numel())
        out["generated_nearest_original_step_median"] = float(
            statistics.median(read.step[nearest.index.numpy()].tolist())
        )
        out["seconds"]["generated_iou"] = time.perf_counter() - started
    accuracy = {"generated": scores.generated, **scores.baselines}
    accuracy["noise matched"] = scores.noise_added
    for source in SOURCES[1:]:
        points[source] = (scores.distances[source], accuracy[source], scores.max_iou[source])
        out["sources"][source] = summary(
            accuracy[source], scores.distances[source], scores.max_iou[source]
        )
    out["seconds"] = {key: round(value, 1) for key, value in out["seconds"].items()}
    gen, orig = out["sources"]["generated"], out["sources"]["original"]
    out["generated_minus_original_accuracy_mean"] = gen["accuracy_mean"] - orig["accuracy_mean"]
    out["generated_rows_above_best_original"] = sum(
        a > max(originals["accuracy"]) for a in scores.generated
    )
    return out, points


def plot(points: dict, results: Path) -> list[str]:
    """Accuracy vs nearest distance and vs max IoU, one marker per source (first seed)."""
    written, order = [], [*(s for s in points if s != "generated"), "generated"]
    for suffix, column, name in (
        ("distance", 0, "nearest distance to an original (normalised space)"),
        ("iou", 2, "max error-set IoU with the originals"),
    ):
        path = results.with_name(f"{results.stem}_{suffix}.png")
        plot_metric_vs_novelty(
            {s: (points[s][column], [100 * a for a in points[s][1]]) for s in order},
            path,
            "test accuracy (%)",
            name,
        )
        written.append(str(path))
    return written


def aggregate(runs: list[dict]) -> dict:
    """mean ± sd over seeds of every per-source figure and of the collection's spread."""
    sources = runs[0]["sources"]
    table = {
        source: {key: mean_sd([r["sources"][source][key] for r in runs]) for key in figures}
        for source, figures in sources.items()
    }
    collection = {
        key: mean_sd([r["collection"][key] for r in runs]) for key in runs[0]["collection"]
    }
    extra = {
        key: mean_sd([r[key] for r in runs])
        for key in runs[0]
        if key not in ("sources", "collection", "seconds", "D", "zoo_reused", "base")
    }
    seconds = {key: mean_sd([r["seconds"][key] for r in runs], 1) for key in runs[0]["seconds"]}
    return {"sources": table, "collection": collection, **extra, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--base-seed", type=int, default=0, help="digits-cnn's pretraining")
    parser.add_argument("--patterns", nargs="+", default=["fc2.*"], help="tensors collected")
    parser.add_argument("--checkpoints", type=int, default=200)
    parser.add_argument("--every", type=int, default=5, help="steps between checkpoints")
    parser.add_argument("--warmup", type=int, default=100, help="steps before the first kept")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam rate of the collection")
    parser.add_argument("--ae-steps", type=int, default=1500)
    parser.add_argument("--denoiser-steps", type=int, default=3000)
    parser.add_argument("--latent-noise", type=float, default=0.1, help="p-diff's 0.1")
    parser.add_argument("--samples", type=int, default=100, help="generated rows per seed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--zoo-dir", type=Path, default=Path("runs/pdiff/zoos"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--collect-only", action="store_true", help="no generator")
    parser.add_argument("--no-plot", action="store_true", help="no scatter PNGs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    runs, first_points = [], None
    for seed in args.seeds:
        print(f"seed {seed}", flush=True)
        figures, points = run_seed(seed, args)
        runs.append(figures)
        first_points = first_points or points
        print(json.dumps({k: v for k, v in figures.items() if k != "sources"}), flush=True)
        for source, row in figures["sources"].items():
            print(f"  {source:>14}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()))
    generator = config_for_family(
        "subset",
        ae_steps=args.ae_steps,
        denoiser_steps=args.denoiser_steps,
        latent_noise=args.latent_noise,
    )
    results = {
        "command": "python " + " ".join(sys.argv),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "base": {
            "backbone": "digits-cnn",
            "pretraining_seed": args.base_seed,
            **runs[0]["base"],
            "same_for_every_seed": all(r["base"] == runs[0]["base"] for r in runs),
        },
        "collection": {
            "patterns": args.patterns,
            "D": runs[0]["D"],
            "checkpoints": args.checkpoints,
            "every": args.every,
            "warmup": args.warmup,
            "lr": args.lr,
            "optimiser": "Adam, batch 64",
            "varies_per_seed": "collection minibatches, generator fit, samples and baselines",
        },
        "generator": None
        if args.collect_only
        else {k: v for k, v in asdict(generator).items() if k != "seed"}
        | {"samples": args.samples},
        "figures": "accuracy % on the 449 held-out test digits; distance_median: median "
        "distance to the nearest original in the generator's normalised space (originals: "
        "nearest other original); iou_mean: mean over rows of the max error-set IoU with the "
        "originals (originals: with the other originals)",
        "p_diff_reported": P_DIFF,
        "summary": aggregate(runs),
        "per_seed": dict(zip(args.seeds, runs, strict=True)),
        "wall_s": round(time.perf_counter() - started),
    }
    if not (args.collect_only or args.no_plot):
        results["plots"] = plot(first_points, args.results)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wall time {results['wall_s']} s; wrote {args.results}")


if __name__ == "__main__":
    main()
