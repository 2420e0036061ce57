"""Zero-shot interpolation by multi-guidance on images (METHODS §4, E5): an unconditional flow
that only ever saw two extremes, guided by a noise-aware binary classifier with weights on both
classes, w·(1 − λ, λ), to produce what lies between them.

    python bench/zero_shot_images.py [--seeds 0 1 2] [--threads 1] [--quick]

Models: linear-path flows (``DigitsUNet`` trained by ``train_flow_matching``, noise at t = 0; not
a DDPM), sampled with Heun from N(0, I); guidance is ``MultiGuidance`` with a conv
``train_noise_aware_classifier`` fit on the same path and data, temperature-calibrated.

1. Border circles (``paramgen.data.circles``): one antialiased disc (radius 1.75) on a 16×16
   canvas, centres only in columns 2–4 or 11–13 (288 positions, label = right side); columns 5–10
   are never seen. Weights w₀ = w₁ ∈ --circle-weights and the split --circle-split w λ (default
   (1.5, 3.5), METHODS' P = 0.7 check). Read out: the centroid x of the pixels above 0.2;
   "middle" = centroid in the unseen columns; "valid" = exactly one 8-connected blob above 0.5
   whose area is within ±50 % of a training disc's; KL of the centroid histogram (half-pixel bins
   over the allowed columns) to uniform (ln 2 = 0.69 for the training set); p_right = the
   classifier's P(right) on the clean samples (mean, modal bin of 20).
2. Digits at two strokes: train digits rendered at stroke −1 (thin, class 0) and +1 (thick,
   class 1). Stroke rather than rotation ±60°: the 16×16 digits fill their frame, so a ±60°
   rotation crops corners and the extremes would differ from the in-between digits by more than
   the style; stroke is pixel-local, so an evaluation regressor reads it accurately everywhere.
   The evaluator (seed 0, fixed across seeds) is a digits-cnn-shaped regressor trained on the
   train digits at 21 strokes in [−1, 1], the gap included. Per sample set: a 20-bin histogram
   of the read stroke; "gap" = share strictly inside (−0.6, 0.6), the middle 60 % of the range;
   FD (digits-cnn features, seed 0) to the 449 test digits at stroke 2λ − 1 (the style λ
   targets if λ were linear in stroke), next to the unguided samples' FD to the same reference
   and the floor (as many train digits as samples at that stroke vs the test reference). The
   weights are w = 10 for every λ and w = 3.5 at λ = 0.5: larger weights did not settle within
   affordable steps (at w = 30, λ = 0.5, the gap share read 0.99, 0.95, 0.85, 0.71 after 25, 50,
   100, 200 Heun steps; w = 10 read 0.75, 0.66, 0.63 after 50, 100, 200): with too few steps the
   stiff guidance overshoots and inflates the gap share.
3. Settling: on the first seed, the largest equal-weight circle setting and the largest digit
   weight at λ = 0.5 are re-sampled (--check-samples) at ½, 1 and 2 × their step count.

Seeds set data order, model init and sampling noise; figures are mean ± sd over seeds. Writes
bench/results/zero_shot_images.json, zero_shot_images_hist.png (histograms pooled over seeds)
and zero_shot_images_grid.png (first seed). --quick: a tiny smoke run (zero_shot_images_quick.*).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from digit_grids import save_digit_grids
from spread import mean_sd
from torch import nn

from paramgen.backbones import DigitsCNN, build_backbone
from paramgen.backbones.unet import DigitsUNet
from paramgen.classifiers import ClassifierFit, train_noise_aware_classifier
from paramgen.data import Style, apply_style, load_digits16
from paramgen.data.circles import CircleLayout, blobs, border_circles, centroid_x
from paramgen.data.digits import DigitImages
from paramgen.frechet import FrechetScorer
from paramgen.guidance import Guide, MultiGuidance
from paramgen.paths import make_path
from paramgen.solvers import sample
from paramgen.training import optimise, train_flow_matching

matplotlib.use("Agg")  # files only, no display
RESULTS = Path(__file__).with_name("results")
PATH = make_path("linear")
GAP = 0.6  # "in the gap": |stroke| < GAP, the middle 60 % of [−1, 1]
STROKE_BINS, P_BINS = 20, 20
QUICK = {
    "seeds": [0],
    "flow_steps": 40,
    "classifier_steps": 40,
    "regressor_steps": 40,
    "samples": 64,
    "circle_steps": 4,
    "digit_steps": 4,
    "check_samples": 32,
}


def train_flow(data: DigitImages, channels: int, args: argparse.Namespace, seed: int) -> nn.Module:
    """An unconditional linear-path flow on ``data`` (images in [0, 1], modelled in [−1, 1])."""
    torch.manual_seed(seed)
    model = DigitsUNet(channels=channels)
    train_flow_matching(model, data, steps=args.flow_steps, lr=args.lr, seed=seed)
    return model


def train_guide(data: DigitImages, args: argparse.Namespace, seed: int) -> ClassifierFit:
    """The binary noise-aware classifier, on the inputs the flow's sampler shows ([−1, 1])."""
    return train_noise_aware_classifier(
        PATH, data.images * 2 - 1, data.labels, net="conv", steps=args.classifier_steps, seed=seed
    )


def fit_stats(fit: ClassifierFit) -> dict:
    """How the guide does on its held-out rows, noised along the path."""
    return {
        "heldout_accuracy": round(fit.heldout_accuracy, 4),
        "heldout_nll": round(fit.heldout_nll, 4),
        "temperature": round(fit.temperature, 4),
    }


def generate(
    model: nn.Module,
    fit: ClassifierFit,
    weights: tuple[float, float],
    noise: torch.Tensor,
    steps: int,
) -> torch.Tensor:
    """Heun samples [N, 1, 16, 16] in [0, 1] of ``model`` guided with ``weights`` on (0, 1)."""
    guided = MultiGuidance(model, PATH, [Guide(fit.classifier, weights)])
    return (sample(PATH, guided, noise, sampler="heun", steps=steps).clamp(-1, 1) + 1) / 2


def start_noise(samples: int, seed: int) -> torch.Tensor:
    """[samples, 1, 16, 16] ~ N(0, I), the same for every setting of a seed (paired sets)."""
    return torch.randn(samples, 1, 16, 16, generator=torch.Generator().manual_seed(10_000 + seed))


def settling_steps(steps: int) -> list[int]:
    """Half, the same and twice ``steps``: where a guided ODE has settled, the three agree."""
    return [max(1, steps // 2), steps, 2 * steps]


def split(weight: float, lam: float) -> tuple[float, float]:
    """w·(1 − λ, λ): the weights whose fixed point is P(class 1) = λ."""
    return (weight * (1 - lam), weight * lam)


def counts(values: torch.Tensor, low: float, high: float, bins: int) -> list[int]:
    """Histogram counts of the finite ``values``, those outside [low, high] in the end bins."""
    finite = values[values.isfinite()].clamp(low, high)
    return torch.histc(finite, bins, low, high).long().tolist()


def kl_to_uniform(histogram: list[int]) -> float:
    """KL(p ‖ uniform) of a histogram, in nats (0 for a flat one, ln 2 for half the bins)."""
    total = sum(histogram)
    return sum(c / total * math.log(c / total * len(histogram)) for c in histogram if c)


def p_class_one(fit: ClassifierFit, images: torch.Tensor) -> dict:
    """The classifier's P(class 1) on clean images [0, 1] (t = 1): mean, median, modal bin."""
    with torch.no_grad():
        p = fit.classifier(images * 2 - 1, torch.ones(len(images))).softmax(dim=1)[:, 1]
    histogram = counts(p, 0.0, 1.0, P_BINS)
    mode = (histogram.index(max(histogram)) + 0.5) / P_BINS
    return {"mean": round(p.mean().item(), 4), "median": round(p.median().item(), 4), "mode": mode}


def circle_readout(images: torch.Tensor, layout: CircleLayout, disc_area: float) -> dict:
    """Middle, validity and KL-to-uniform of generated circles (module docstring, 1)."""
    x = centroid_x(images)
    found = blobs(images)
    valid = (found.count == 1) & ((found.area - disc_area).abs() <= 0.5 * disc_area)
    low, high = layout.middle
    middle = (x >= low) & (x < high)
    histogram = counts(x, *layout.allowed, bins=2 * round(layout.allowed[1] - layout.allowed[0]))
    return {
        "middle": middle.float().mean().item(),
        "valid": valid.float().mean().item(),
        "middle_and_valid": (middle & valid).float().mean().item(),
        "kl_to_uniform": kl_to_uniform(histogram),
        "histogram": histogram,
    }


def run_circles(seed: int, args: argparse.Namespace, grids: dict) -> dict:
    """Train on border circles, sample every weight setting, read the samples out."""
    layout, data = CircleLayout(), border_circles()
    disc_area = blobs(data.images).area.float().median().item()
    as_digits = DigitImages(data.images, data.labels)
    model = train_flow(as_digits, args.circle_channels, args, seed)
    fit = train_guide(as_digits, args, seed)
    noise = start_noise(args.samples, seed)
    out = {"classifier": fit_stats(fit), "data": circle_readout(data.images, layout, disc_area)}
    largest = (max(args.circle_weights),) * 2
    shown = {(0.0, 0.0), largest, split(*args.circle_split)}  # the grid's circle panels
    for weights in [(w, w) for w in args.circle_weights] + [split(*args.circle_split)]:
        name = f"{weights[0]:g},{weights[1]:g}"
        images = generate(model, fit, weights, noise, args.circle_steps)
        out[name] = circle_readout(images, layout, disc_area) | {
            "p_right": p_class_one(fit, images)
        }
        if weights in shown:
            grids.setdefault(f"circles w=({name})", images[:64])
        print(seed, "circles", name, {k: out[name][k] for k in ("middle", "valid")}, flush=True)
    if seed == args.seeds[0]:
        out["steps_check"] = {}
        for n in settling_steps(args.circle_steps):
            images = generate(model, fit, largest, noise[: args.check_samples], n)
            readout = circle_readout(images, layout, disc_area)
            out["steps_check"][str(n)] = {k: readout[k] for k in ("middle_and_valid", "valid")}
    return out


def stroke_extremes(data: DigitImages) -> DigitImages:
    """``data`` at stroke −1 (label 0, thin) and +1 (label 1, thick), 2N images."""
    images = [apply_style(data.images, Style(stroke=s)) for s in (-1.0, 1.0)]
    return DigitImages(torch.cat(images), torch.arange(2).repeat_interleave(len(data)))


def train_stroke_regressor(data: DigitImages, steps: int) -> nn.Module:
    """The evaluator: a digits-cnn with one output, MSE to the stroke of ``data`` rendered at 21
    strokes from −1 to 1 (every value, the gap included). Seed 0, the same for every seed."""
    strokes = torch.linspace(-1, 1, 21)
    images = torch.cat([apply_style(data.images, Style(stroke=float(s))) for s in strokes])
    targets = strokes.repeat_interleave(len(data))
    torch.manual_seed(0)
    model = DigitsCNN(classes=1)

    def loss(generator: torch.Generator) -> torch.Tensor:
        batch = torch.randint(len(targets), (128,), generator=generator)
        return F.mse_loss(model(images[batch])[:, 0], targets[batch])

    optimise(model, loss, steps=steps, lr=3e-3, seed=0)
    return model


def stroke_of(regressor: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """[N, 1, 16, 16] in [0, 1] → [N] strokes as the regressor reads them."""
    with torch.no_grad():
        return regressor(images)[:, 0]


def stroke_readout(images: torch.Tensor, regressor: nn.Module) -> dict:
    """The read strokes' histogram (20 bins over [−1, 1]), gap share, mean and sd."""
    stroke = stroke_of(regressor, images)
    return {
        "gap": (stroke.abs() < GAP).float().mean().item(),
        "stroke_mean": stroke.mean().item(),
        "stroke_sd": stroke.std().item(),
        "histogram": counts(stroke, -1.0, 1.0, STROKE_BINS),
    }


@dataclass(frozen=True)
class Evaluators:
    """Fixed across seeds (seed 0): the stroke regressor, its mean absolute error on the test
    digits per stroke, and per λ the FD scorer against the test digits at stroke 2λ − 1."""

    regressor: nn.Module
    regressor_test_mae: dict[str, float]
    scorers: dict[float, FrechetScorer]


def digit_settings(args: argparse.Namespace) -> list[tuple[float, float]]:
    """(w, λ) to sample: every λ at the main weight, then the weight sweep at λ = 0.5."""
    return [(args.weight, lam) for lam in args.lambdas] + [(w, 0.5) for w in args.sweep]


def run_digits(seed: int, args: argparse.Namespace, evaluators: Evaluators, grids: dict) -> dict:
    """Train on the stroke extremes, sample unguided and multi-guided, read the style out."""
    train = load_digits16("train")
    extremes = stroke_extremes(train)
    model = train_flow(extremes, args.digit_channels, args, seed)
    fit = train_guide(extremes, args, seed)
    regressor, scorers = evaluators.regressor, evaluators.scorers
    noise = start_noise(args.samples, seed)
    unguided = generate(model, fit, (0.0, 0.0), noise, args.digit_steps)
    grids.setdefault("digits unguided", unguided[:64])
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    subset = order[: args.samples]  # the floor's train digits, as many as samples
    out = {
        "classifier": fit_stats(fit),
        "real_extremes": stroke_readout(extremes.images, regressor),
        "unguided": stroke_readout(unguided, regressor) | {"p_thick": p_class_one(fit, unguided)},
        "fd_unguided": {str(lam): scorer(unguided) for lam, scorer in scorers.items()},
        "fd_floor": {
            str(lam): scorer(apply_style(train.images[subset], Style(stroke=2 * lam - 1)))
            for lam, scorer in scorers.items()
        },
    }
    for weight, lam in digit_settings(args):
        images = generate(model, fit, split(weight, lam), noise, args.digit_steps)
        name = f"w={weight:g},lam={lam:g}"
        out[name] = stroke_readout(images, regressor) | {
            "p_thick": p_class_one(fit, images),
            "fd": scorers[lam](images),
        }
        if weight == args.weight:
            grids.setdefault(f"digits λ={lam:g}", images[:64])
        print(seed, "digits", name, {k: out[name][k] for k in ("gap", "fd")}, flush=True)
    if seed == args.seeds[0]:
        out["steps_check"] = digit_steps_check(model, fit, noise, regressor, scorers[0.5], args)
    return out


def digit_steps_check(
    model: nn.Module,
    fit: ClassifierFit,
    noise: torch.Tensor,
    regressor: nn.Module,
    scorer: FrechetScorer,
    args: argparse.Namespace,
) -> dict:
    """Gap share and FD (to stroke 0) at the largest weight, λ = 0.5, per step count."""
    weights = split(max([args.weight, *args.sweep]), 0.5)
    out = {}
    for n in settling_steps(args.digit_steps):
        images = generate(model, fit, weights, noise[: args.check_samples], n)
        out[str(n)] = {"gap": stroke_readout(images, regressor)["gap"], "fd": scorer(images)}
    return out


def evaluators(args: argparse.Namespace) -> Evaluators:
    """Train the stroke regressor, measure it, and build the FD scorers (on digits-cnn, seed 0)."""
    train, test = load_digits16("train"), load_digits16("test")
    regressor = train_stroke_regressor(train, args.regressor_steps).eval()
    features = build_backbone("digits-cnn", seed=0, pretrained=True)
    strokes = (-1.0, -0.5, 0.0, 0.5, 1.0)
    error = {
        str(s): (stroke_of(regressor, apply_style(test.images, Style(stroke=s))) - s).abs().mean()
        for s in strokes
    }
    return Evaluators(
        regressor,
        {s: round(e.item(), 4) for s, e in error.items()},
        {
            lam: FrechetScorer(features, apply_style(test.images, Style(stroke=2 * lam - 1)))
            for lam in sorted({*args.lambdas, 0.5})
        },
    )


def summarise(runs: list[dict], metrics: tuple[str, ...]) -> dict:
    """Per sample set in ``runs`` (those with a histogram): ``metrics`` as mean ± sd over seeds,
    P(class 1) mean and mode likewise, and the histogram pooled over seeds."""
    table = {}
    for name, first in runs[0].items():
        if not isinstance(first, dict) or "histogram" not in first:
            continue
        table[name] = {m: mean_sd([r[name][m] for r in runs], 3) for m in metrics if m in first}
        probability = next((key for key in ("p_right", "p_thick") if key in first), None)
        if probability:
            for stat in ("mean", "mode"):
                table[name][f"{probability}_{stat}"] = mean_sd(
                    [r[name][probability][stat] for r in runs], 3
                )
        pooled = torch.tensor([r[name]["histogram"] for r in runs]).sum(dim=0)
        table[name]["histogram_pooled"] = pooled.tolist()
    return table


def digit_headline(runs: list[dict], args: argparse.Namespace) -> dict:
    """Per λ at the main weight: gap share and FD, next to the unguided model's and the floor."""
    headline = {}
    for lam in args.lambdas:
        name = f"w={args.weight:g},lam={lam:g}"
        headline[f"lam={lam:g} (stroke {2 * lam - 1:g})"] = {
            "gap": mean_sd([r[name]["gap"] for r in runs], 3),
            "gap_unguided": mean_sd([r["unguided"]["gap"] for r in runs], 3),
            "fd": mean_sd([r[name]["fd"] for r in runs], 2),
            "fd_unguided": mean_sd([r["fd_unguided"][str(lam)] for r in runs], 2),
            "fd_floor": mean_sd([r["fd_floor"][str(lam)] for r in runs], 2),
        }
    return headline


def plot_histograms(circles: dict, digits: dict, args: argparse.Namespace, path: Path) -> None:
    """Left: centroid x of circles per weight; right: read stroke of digits per λ (pooled)."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    low, high = CircleLayout().allowed
    for name, row in circles.items():
        histogram = torch.tensor(row["histogram_pooled"], dtype=torch.float64)
        edges = torch.linspace(low, high, len(histogram) + 1)
        left.stairs(
            histogram / histogram.sum(),
            edges,
            label="training set" if name == "data" else f"w = ({name})",
        )
    left.axvspan(*CircleLayout().middle, color="grey", alpha=0.15, label="unseen columns")
    left.set(xlabel="centroid x (pixels)", ylabel="share of samples", title="border circles")
    digit_sets = ["real_extremes", "unguided"] + [
        f"w={args.weight:g},lam={lam:g}" for lam in args.lambdas
    ]
    for name in digit_sets:
        histogram = torch.tensor(digits[name]["histogram_pooled"], dtype=torch.float64)
        right.stairs(
            histogram / histogram.sum(), torch.linspace(-1, 1, STROKE_BINS + 1), label=name
        )
    right.axvspan(-GAP, GAP, color="grey", alpha=0.15, label="gap")
    right.set(xlabel="stroke read by the regressor", title="digits trained at stroke ±1")
    for axis in (left, right):
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--flow-steps", type=int, default=1000, help="flow-matching minibatches")
    parser.add_argument("--lr", type=float, default=2e-3, help="flow learning rate")
    parser.add_argument("--circle-channels", type=int, default=16, help="circle U-Net width")
    parser.add_argument("--digit-channels", type=int, default=24, help="digit U-Net width")
    parser.add_argument("--classifier-steps", type=int, default=1000)
    parser.add_argument("--regressor-steps", type=int, default=1500)
    parser.add_argument("--samples", type=int, default=1000, help="samples per setting")
    parser.add_argument("--circle-steps", type=int, default=50, help="Heun steps, circles")
    parser.add_argument("--digit-steps", type=int, default=100, help="Heun steps, digits")
    parser.add_argument("--circle-weights", type=float, nargs="+", default=[0, 1, 3, 10, 30])
    parser.add_argument("--circle-split", type=float, nargs=2, default=[5, 0.7], help="w λ")
    parser.add_argument("--weight", type=float, default=10, help="digits: the weight of each λ")
    parser.add_argument("--lambdas", type=float, nargs="+", default=[0.3, 0.5, 0.7])
    parser.add_argument("--sweep", type=float, nargs="*", default=[3.5], help="more w at λ=.5")
    parser.add_argument("--check-samples", type=int, default=250)
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run")
    if parser.parse_args().quick:  # tiny defaults; flags given explicitly still win
        parser.set_defaults(**QUICK)
    args = parser.parse_args()
    if args.samples < 64:
        parser.error(f"--samples must be >= 64 (the 8 × 8 sample grids), got {args.samples}")
    stem = "zero_shot_images_quick" if args.quick else "zero_shot_images"
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    judges = evaluators(args)
    print("regressor test MAE", judges.regressor_test_mae, f"{time.perf_counter() - started:.0f} s")
    grids: dict = {}
    circles, digits, timing = [], [], []
    for seed in args.seeds:
        clock = time.perf_counter()
        circles.append(run_circles(seed, args, grids))
        middle = time.perf_counter()
        digits.append(run_digits(seed, args, judges, grids))
        timing.append(
            {"circles_s": round(middle - clock), "digits_s": round(time.perf_counter() - middle)}
        )
        print(seed, timing[-1], flush=True)
    summary = {
        "circles": summarise(circles, ("middle", "valid", "middle_and_valid", "kl_to_uniform")),
        "digits": summarise(digits, ("gap", "stroke_mean", "stroke_sd", "fd")),
        "digits_headline": digit_headline(digits, args),
        "steps_check": {"circles": circles[0]["steps_check"], "digits": digits[0]["steps_check"]},
        "classifier_heldout_accuracy": {
            name: mean_sd([r["classifier"]["heldout_accuracy"] for r in runs], 3)
            for name, runs in (("circles", circles), ("digits", digits))
        },
    }
    results = {
        "command": "python " + " ".join(sys.argv),
        "config": vars(args),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "regressor_test_mae": judges.regressor_test_mae,
        "summary": summary,
        "per_seed": {
            seed: {"circles": c, "digits": d, "timing": t}
            for seed, c, d, t in zip(args.seeds, circles, digits, timing, strict=True)
        },
        "wall_s": round(time.perf_counter() - started),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=1) + "\n")
    plot_histograms(summary["circles"], summary["digits"], args, RESULTS / f"{stem}_hist.png")
    save_digit_grids(
        grids, {name: name for name in grids}, RESULTS / f"{stem}_grid.png", panel=(3, 3.3)
    )
    print(json.dumps({k: summary[k] for k in ("digits_headline", "steps_check")}, indent=1))
    print(f"wall time {results['wall_s']} s")


if __name__ == "__main__":
    main()
