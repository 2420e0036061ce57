"""Zero-shot interpolation in weight space: multi-guided sampling of an *unconditional* latent
generator fitted on rotation LoRAs of the extremes only (|angle| ≥ 45°), over seeds.

    python bench/zero_shot_weights.py [--seeds 0 1 2] [--samples 70] [--weights 10 30 100]
        [--lambdas 0.3 0.5 0.7] [--steps 100] [--threads 1] [--work-dir DIR] [--results PATH]

Per seed s, in a process of its own:

* two LoRA rotation zoos of digits-cnn from seed s (same base): the *extremes* zoo trains one run
  per angle in −90…−45 and 45…90 (5° apart; the warm-start chain runs through these angles only,
  −45 → 45 across the gap), the *full* zoo every 5° from −90 to 90 (the reference: adapters
  trained at the angles the generator never saw);
* an unconditional generator (the main job's config, seed s) on every row of the extremes zoo,
  and a noise-aware latent classifier (angle < 0 vs ≥ 0) on the same rows, along its path;
* ``--samples`` adapters per setting and seed (70: 210 pooled over 3 seeds): unguided;
  one-class guidance (0, w₁) at the middle weight; multi-guidance w·(1 − λ, λ) for every
  ``--weights`` w and ``--lambdas`` λ; Heun, ``--steps``;
* each adapter's *effective angle*: the angle of the 5° grid −90…90 where its accuracy on the
  rotated held-out test digits peaks (a grid search, no probe; coarse to fine, see
  ``accuracy_grid``);
* λ's *target angle*: −45 + 90·λ on the 5° grid (λ = 0.5 → 0°), where adapters are scored
  against the full zoo's adapters trained there, the exact ΔW interpolation (1 − λ)·ΔW(−45°) +
  λ·ΔW(45°) of the extremes' last checkpoints (``Family.interpolate``) and the nearer extreme.

Recorded per setting: the histogram of effective angles, the share strictly inside the gap
(−45°, 45°), their median, the median accuracy at the target angle relative to the trained
adapters', and the median row norm over the training rows' (an adapter that shrinks towards
zero is the base, which peaks at 0°: "in the gap" for the wrong reason; the base's own accuracy at
the target is recorded as ``no_adapter``). Writes bench/results/zero_shot_weights.json (or
``--results``) and the histograms beside it (.png).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from seed_processes import peak_gib, run_seeds, write_results
from spread import mean_sd

RESULTS = Path(__file__).with_name("results") / "zero_shot_weights.json"
GROUP = "lora/digits-cnn/rotation"
GRID = tuple(float(a) for a in range(-90, 91, 5))
COARSE = GRID[::3]  # every 15°, 0 included
EXTREMES = tuple(a for a in GRID if abs(a) >= 45)
GAP = (-45.0, 45.0)


def target_angle(lam: float) -> float:
    """The angle λ points at across the gap, on the 5° grid."""
    return 5.0 * round((GAP[0] + (GAP[1] - GAP[0]) * lam) / 5.0)


def settings(args: argparse.Namespace) -> dict[str, tuple[float, float] | None]:
    """Setting name → class weights (angle < 0, angle ≥ 0); None: unguided."""
    middle = args.weights[len(args.weights) // 2]
    named: dict[str, tuple[float, float] | None] = {
        "unguided": None,
        f"one-class (0, {middle:g})": (0.0, middle),
    }
    for w in args.weights:
        for lam in args.lambdas:
            named[f"multi w={w:g} lambda={lam:g}"] = (w * (1 - lam), w * lam)
    return named


def accuracy_grid(scorer, rows, targets: tuple[float, ...]) -> np.ndarray:
    """[n, len(GRID)]: each row's accuracy on the grid, coarse to fine (NaN where not scored).

    Every row is scored at every 15° (``COARSE``) and at ``targets``, then at the 5° angles
    within 10° of its own best coarse angle: its peak over the whole grid is found when its
    accuracy curve has one peak, at about half the cost of scoring all 37 angles."""
    scores = np.full((len(rows), len(GRID)), np.nan)
    for angle in sorted({*COARSE, *targets}):
        scores[:, GRID.index(angle)] = scorer.scores(rows, angle)
    coarse = np.array([GRID.index(a) for a in COARSE])
    best = np.array(COARSE)[np.nanargmax(scores[:, coarse], axis=1)]
    for column, angle in enumerate(GRID):
        wanted = np.isnan(scores[:, column]) & (np.abs(best - angle) <= 10)
        if wanted.any():
            scores[wanted, column] = scorer.scores(rows[wanted.nonzero()[0].tolist()], angle)
    return scores


def effective_summary(grid_scores: np.ndarray) -> dict:
    """Effective angles (argmax over the grid), their histogram, gap share and median."""
    angles = np.array(GRID)[np.nanargmax(grid_scores, axis=1)]
    inside = (angles > GAP[0]) & (angles < GAP[1])
    return {
        "effective_angles_histogram": {f"{a:g}": int((angles == a).sum()) for a in GRID},
        "share_in_gap": float(inside.mean()),
        "median_effective_angle": float(np.median(angles)),
    }


def build_zoos(work: Path, seed: int) -> tuple[Path, Path]:
    """The extremes and the full zoo of ``seed`` (kept and reused when already built)."""
    from zoo.builders import LoraZooConfig, build_lora_zoo

    extremes = LoraZooConfig(values=EXTREMES, seed=seed)
    return (
        build_lora_zoo(work / f"extremes_{seed}.h5", extremes),
        build_lora_zoo(work / f"full_{seed}.h5", LoraZooConfig(seed=seed)),
    )


def same_base(extremes, full) -> bool:
    """Whether both zoos' scorers run the same base weights (they should: same seed)."""
    a, b = extremes.base.state_dict(), full.base.state_dict()
    return all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def fit_models(zoo, seed: int, args: argparse.Namespace):
    """The unconditional generator on every row of the extremes zoo, and its latent classifier
    (``--quick``: 50 steps a stage, for a smoke run)."""
    import torch

    from paramgen.generator import ParamGenerator
    from paramgen.generator.latent_guidance import fit_latent_classifier
    from zoo.main_job import MainJobConfig
    from zoo.training_set import training_set

    data = replace(training_set(zoo.group(GROUP), None), conditions={})
    config = replace(MainJobConfig().generator, seed=seed)
    if args.quick:
        config = replace(config, ae_steps=50, denoiser_steps=50)
    generator = ParamGenerator.fit(data, config)
    angles = torch.as_tensor(zoo.group(GROUP).read_labels().conditions["rotation"])
    labels = (angles >= 0).long()
    fit = fit_latent_classifier(
        generator, data.params, labels, class_names=("angle<0", "angle>=0"),
        steps=args.classifier_steps, seed=seed,
    )  # fmt: skip
    return generator, fit


def last_rows(zoo, angle: float):
    """The rows at ``angle`` in a zoo, in checkpoint order (the last one last)."""
    group = zoo.group(GROUP)
    return group.read_params(group.indices(rotation=angle))


def reference_scores(extremes_zoo, full_zoo, scorers, lam: float) -> dict:
    """Accuracy at λ's target angle of the trained adapters, the ΔW interpolation and the
    nearer extreme, with the interpolation's effective angle."""
    target = target_angle(lam)
    extremes, full = scorers
    trained = full.scores(last_rows(full_zoo, target), target)
    schema = extremes_zoo.group(GROUP).schema
    low, high = (schema.unflatten(last_rows(extremes_zoo, a)[-1]) for a in GAP)
    mixed, config = extremes.family.interpolate(extremes.config, [low, high], [1 - lam, lam])
    interpolated = [extremes.score_tensors(mixed, config, angle) for angle in GRID]
    nearer = GAP[0] if lam < 0.5 else GAP[1]
    return {
        "target_angle": target,
        "trained_median": statistics.median(trained),
        "interpolated": interpolated[GRID.index(target)],
        "interpolated_effective_angle": GRID[int(np.argmax(interpolated))],
        "nearer_extreme": statistics.median(
            extremes.scores(last_rows(extremes_zoo, nearer), target)
        ),
        "no_adapter": extremes.neutral_score(target),
    }


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    """Build, fit, sample and score one seed in this process."""
    import torch

    from paramgen.generator.latent_guidance import latent_guides
    from zoo.row_scoring import RowScorer
    from zoo.store import Zoo

    torch.set_num_threads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    extremes_path, full_path = build_zoos(args.work_dir, seed)
    zoo_seconds = time.perf_counter() - started
    with Zoo.open(extremes_path) as extremes_zoo, Zoo.open(full_path) as full_zoo:
        started = time.perf_counter()
        generator, fit = fit_models(extremes_zoo, seed, args)
        fit_seconds, fit_peak = time.perf_counter() - started, peak_gib()
        train_norm = extremes_zoo.group(GROUP).read_params().norm(dim=1).median()
        scorers = tuple(RowScorer.of_group(z, z.group(GROUP)) for z in (extremes_zoo, full_zoo))
        references = {f"{lam:g}": reference_scores(extremes_zoo, full_zoo, scorers, lam)
                      for lam in args.lambdas}  # fmt: skip
        out = {}
        for name, weights in settings(args).items():
            guides = latent_guides(generator, [fit.classifier], [weights]) if weights else []
            rows = generator.sample_rows({}, args.samples, seed=seed, steps=args.steps,
                                         sampler="heun", guides=guides)  # fmt: skip
            targets = tuple(reference["target_angle"] for reference in references.values())
            grid_scores = accuracy_grid(scorers[0], rows, targets)
            figures = effective_summary(grid_scores)
            figures["median_norm_over_training"] = float(rows.norm(dim=1).median() / train_norm)
            for lam, reference in references.items():
                at_target = np.median(grid_scores[:, GRID.index(reference["target_angle"])])
                figures[f"median_accuracy_at_target_lambda_{lam}"] = float(at_target)
                figures[f"relative_to_trained_lambda_{lam}"] = float(
                    at_target / reference["trained_median"]
                )
            out[name] = figures
            print(seed, name, figures["share_in_gap"], figures["median_effective_angle"],
                  file=sys.stderr, flush=True)  # fmt: skip
        return {
            "zoo_seconds": round(zoo_seconds, 1),
            "fit_seconds": round(fit_seconds, 1),
            "peak_rss_after_fit_gib": fit_peak,
            "peak_rss_gib": peak_gib(),
            "same_base": same_base(*scorers),
            "classifier": {
                "heldout_accuracy": fit.heldout_accuracy,
                "temperature": fit.temperature,
            },
            "references": references,
            "settings": out,
        }


def summarise(runs: list[dict]) -> dict:
    """Mean ± sd over seeds of every scalar figure per setting and per reference."""
    settings_out = {}
    for name, figures in runs[0]["settings"].items():
        settings_out[name] = {
            key: mean_sd([run["settings"][name][key] for run in runs], 3)
            for key, value in figures.items()
            if isinstance(value, float)
        }
        settings_out[name]["effective_angles_histogram"] = {
            angle: sum(run["settings"][name]["effective_angles_histogram"][angle] for run in runs)
            for angle in figures["effective_angles_histogram"]
        }
    references = {
        lam: {key: mean_sd([run["references"][lam][key] for run in runs], 3) for key in figures}
        for lam, figures in runs[0]["references"].items()
    }
    return {"settings": settings_out, "references": references}


def plot_histograms(summary: dict, path: Path) -> None:
    """One panel per setting: its effective angles pooled over seeds, the gap shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    named = summary["settings"]
    columns = 4
    figure, axes = plt.subplots(
        -(-len(named) // columns), columns, figsize=(14, 2.6 * -(-len(named) // columns)),
        sharex=True, squeeze=False,
    )  # fmt: skip
    for axis, (name, figures) in zip(axes.flat, named.items(), strict=False):
        counts = [figures["effective_angles_histogram"][f"{a:g}"] for a in GRID]
        axis.bar(GRID, counts, width=4.5)
        axis.axvspan(*GAP, color="grey", alpha=0.15)
        share = figures["share_in_gap"]["mean"]
        axis.set_title(f"{name}: {share:.0%} in the gap", fontsize=8)
    for axis in axes.flat[len(named) :]:
        axis.axis("off")
    for axis in axes[-1]:
        axis.set_xlabel("effective angle (°)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=float, nargs="+", default=[10.0, 30.0, 100.0])
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--steps", type=int, default=100, help="Heun steps of guided sampling")
    parser.add_argument("--classifier-steps", type=int, default=2000)
    parser.add_argument("--work-dir", type=Path, default=Path("/work/zoos/zero_shot"))
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="50 fit steps a stage (smoke run)")
    parser.set_defaults(samples=70)  # per seed: ≥ 200 pooled over 3 seeds
    args, per_seed = run_seeds(__file__, parser, run_seed)
    if per_seed is None:
        return
    summary = summarise(list(per_seed.values()))
    write_results(__file__, args, per_seed, summary)
    plot_histograms(summary, args.results.with_suffix(".png"))


if __name__ == "__main__":
    main()
