"""One More Step on image brightness (METHODS §6, E9): a class-conditional ε U-Net trained with
Stable Diffusion's scaled-linear schedule, sampled with 20 "leading" DDIM steps from pure noise,
against the same sampler behind a One More Step, and a zero-terminal-SNR v-model as the upper
reference.

    python bench/oms_brightness.py [--seeds 0 1 2] [--threads 1] [--quick]

Data: the 1,348 train digits in [−1, 1], centred on their pixel mean, each shifted by its class's
brightness (classes 0–2 dark −0.8, 3–6 unchanged, 7–9 bright +0.8) plus a per-image jitter
U(−0.3, 0.3); the 449 test digits, shifted the same way (their own jitter draw), are the
held-out reference. Models (``DigitsUNet(classes=10)`` by ``train_on_path``, same seed and
minibatches for each):

* ``baseline``: ``ddpm-scaled-linear`` (ε, leading spacing); its x_T kept √ᾱ_T = 0.068 of the
  data in training, but sampling starts from N(0, I);
* ``baseline + OMS``: the same frozen model after ``OneMoreStep`` (an MLP on noise and class,
  trained on the same images with 10 % dropped labels), and ``+ OMS, w = 2`` with the step's
  classifier-free guidance (the reference's default);
* ``zero-SNR (v, trailing)``: ``ddpm-scaled-linear-zero-snr-v``, retrained: the fix-the-model
  comparison (Lin et al. 2023);
* ``linear schedule``: ``ddpm`` with leading spacing, whose leak is 10× smaller.

Per brightness group: the sample image means' mean ± sd next to the test data's; the
1-Wasserstein distance between the two sets of image means; the Fréchet distance in the
built-in digits-cnn's feature space (images mapped back by (x + 1)/2, unclipped, against the
test reference mapped the same way); and the floor: the same FD for as many train images. The
headline is OMS's W1 as a fraction of the baseline's, per group. Leak coefficients
√(ᾱ_T·d/(1 − ᾱ_T)) (d = 256 pixels, and d = 64 for a latent) are computed from the schedules.
OMS's sampling overhead is the ratio of wall times, the baseline and OMS sampling alternated
in one run. Writes bench/results/oms_brightness.json and oms_brightness_grid.png (first seed).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from digit_grids import save_digit_grids
from scipy.stats import wasserstein_distance
from seed_processes import peak_gib, run_seeds_and_write
from spread import mean_sd

from paramgen.backbones import build_backbone
from paramgen.backbones.unet import DigitsUNet
from paramgen.data import load_digits16
from paramgen.frechet import FrechetScorer
from paramgen.paths import DDPMPath, make_path
from paramgen.solvers import OneMoreStep, sample, train_one_more_step
from paramgen.training import train_on_path

RESULTS = Path(__file__).with_name("results") / "oms_brightness.json"
GROUPS = {"dark (0-2)": (range(0, 3), -0.8), "unchanged (3-6)": (range(3, 7), 0.0)}
GROUPS["bright (7-9)"] = (range(7, 10), 0.8)
JITTER = 0.3
QUICK = {"steps": 20, "oms_steps": 20, "samples": 8, "sampling_steps": 4, "timing_rounds": 1}
PATHS = {
    "baseline": lambda: make_path("ddpm-scaled-linear"),
    "zero-SNR (v, trailing)": lambda: make_path("ddpm-scaled-linear-zero-snr-v"),
    "linear schedule": lambda: DDPMPath(spacing="leading"),
}


def offsets(labels: torch.Tensor) -> torch.Tensor:
    """[N] the brightness offset of each label's group."""
    table = torch.zeros(10)
    for classes, offset in GROUPS.values():
        table[list(classes)] = offset
    return table[labels]


def bright_digits(split: str, centre: float | None, seed: int) -> tuple[torch.Tensor, ...]:
    """(images [N, 1, 16, 16] in model space, labels [N], centre used): digits in [−1, 1] minus
    the train pixel mean, plus the group offset and a U(−JITTER, JITTER) jitter per image."""
    digits = load_digits16(split)
    images = digits.images * 2 - 1
    centre = images.mean().item() if centre is None else centre
    jitter = (
        torch.rand(len(images), generator=torch.Generator().manual_seed(seed)) * 2 - 1
    ) * JITTER
    shift = offsets(digits.labels) + jitter
    return images - centre + shift[:, None, None, None], digits.labels, centre


def leak(alpha_bar: float, dims: int) -> float:
    """√(ᾱ·d/(1 − ᾱ)): the data's mean over d dimensions in x_T, in units of the noise's mean."""
    return math.sqrt(alpha_bar * dims / (1 - alpha_bar))


def group_readout(
    samples: torch.Tensor, labels: torch.Tensor, reference: dict, scorers: dict
) -> dict:
    """Per group: image-mean mean and sd, W1 to the test data's image means, FD to the test set."""
    out = {}
    for group, (classes, _) in GROUPS.items():
        mask = torch.isin(labels, torch.tensor(list(classes)))
        means = samples[mask].mean(dim=(1, 2, 3))
        out[group] = {
            "image_mean": means.mean().item(),
            "image_mean_sd": means.std().item(),
            "w1": wasserstein_distance(means.numpy(), reference[group].numpy()),
            "fd": scorers[group]((samples[mask] + 1) / 2),
        }
    return out


def run_seed(args: argparse.Namespace, seed: int) -> dict:
    """Train the three models and the step with ``seed``; sample and read out every setting."""
    torch.set_num_threads(args.threads)
    if args.quick:
        args = argparse.Namespace(**{**vars(args), **QUICK})
    train, train_labels, centre = bright_digits("train", None, 1000 + seed)
    test, test_labels, _ = bright_digits("test", centre, 2000 + seed)
    features = build_backbone("digits-cnn", seed=0, pretrained=True)
    reference, scorers, floor = {}, {}, {}
    for group, (classes, _) in GROUPS.items():
        in_test = torch.isin(test_labels, torch.tensor(list(classes)))
        in_train = torch.isin(train_labels, torch.tensor(list(classes)))
        reference[group] = test[in_test].mean(dim=(1, 2, 3))
        scorers[group] = FrechetScorer(features, (test[in_test] + 1) / 2)
        floor[group] = scorers[group]((train[in_train][: args.samples * 3] + 1) / 2)
    started = time.perf_counter()
    models = {}
    for name, make in PATHS.items():
        torch.manual_seed(seed)
        model = DigitsUNet(channels=args.channels, classes=10)
        train_on_path(
            model,
            make(),
            train,
            steps=args.steps,
            lr=args.lr,
            seed=seed,
            extras={"labels": train_labels},
        )
        models[name] = model.eval()
    torch.manual_seed(seed)
    step = OneMoreStep((1, 16, 16), classes=10, width=args.oms_width)
    train_one_more_step(
        step,
        train,
        labels=train_labels,
        steps=args.oms_steps,
        lr=1e-3,
        drop_condition=0.1,
        seed=seed,
    )
    fit_seconds = time.perf_counter() - started
    labels = torch.arange(10).repeat_interleave(args.samples)
    noise = torch.randn(len(labels), 1, 16, 16, generator=torch.Generator().manual_seed(seed))
    guided = OneMoreStep.from_config(step.to_config() | {"guidance_scale": 2.0})
    guided.load_state_dict(step.state_dict())
    guided.eval()

    def draw(name: str, first_step=None) -> torch.Tensor:
        return sample(
            PATHS[name](),
            models[name],
            noise,
            sampler="ddim",
            steps=args.sampling_steps,
            first_step=first_step,
            generator=torch.Generator().manual_seed(7 + seed),
            labels=labels,
        )

    settings = {
        "baseline": lambda: draw("baseline"),
        "baseline + OMS": lambda: draw("baseline", step),
        "baseline + OMS, w=2": lambda: draw("baseline", guided),
        "zero-SNR (v, trailing)": lambda: draw("zero-SNR (v, trailing)"),
        "linear schedule": lambda: draw("linear schedule"),
    }
    samples = {name: run() for name, run in settings.items()}
    timing = {"baseline": [], "baseline + OMS": []}
    for _ in range(args.timing_rounds):  # alternated, same noise
        for name in timing:
            begun = time.perf_counter()
            settings[name]()
            timing[name].append(time.perf_counter() - begun)
    if seed == args.seeds[0]:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        save_grid(samples, args.results.with_name("oms_brightness_grid.png"))
    return {
        "fit_seconds": fit_seconds,
        "peak_rss_after_fit_gib": peak_gib(),
        "peak_rss_gib": peak_gib(),
        "data": {
            group: {"image_mean": r.mean().item(), "image_mean_sd": r.std().item()}
            for group, r in reference.items()
        },
        "fd_floor": floor,
        "settings": {
            name: group_readout(images, labels, reference, scorers)
            for name, images in samples.items()
        },
        "oms_overhead": min(timing["baseline + OMS"]) / min(timing["baseline"]),
        "oms_parameters": sum(p.numel() for p in step.parameters()),
        "unet_parameters": sum(p.numel() for p in models["baseline"].parameters()),
    }


def save_grid(samples: dict[str, torch.Tensor], path: Path) -> None:
    """Baseline vs OMS vs zero-SNR, one 8×8 panel each: a row of 8 samples for each of classes
    0, 1, 2 (dark), 4, 5 (unchanged), 7, 8, 9 (bright); display range [−1.8, 1.8] mapped to
    [0, 1] so that the offsets show."""
    shown = ("baseline", "baseline + OMS", "zero-SNR (v, trailing)")
    per_class = len(next(iter(samples.values()))) // 10
    picks = torch.cat([torch.arange(8) + c * per_class for c in (0, 1, 2, 4, 5, 7, 8, 9)])
    grids = {name: ((samples[name][picks] + 1.8) / 3.6).clamp(0, 1) for name in shown}
    save_digit_grids(grids, {name: name for name in shown}, path)


def summarise(runs: list[dict]) -> dict:
    """Mean ± sd over seeds of every figure, the headline ratios and the leak coefficients."""
    settings = runs[0]["settings"]
    table = {
        name: {
            group: {
                key: mean_sd([run["settings"][name][group][key] for run in runs])
                for key in settings[name][group]
            }
            for group in GROUPS
        }
        for name in settings
    }
    ratio = {
        f"{name} / baseline": {
            group: mean_sd(
                [
                    run["settings"][name][group]["w1"] / run["settings"]["baseline"][group]["w1"]
                    for run in runs
                ]
            )
            for group in GROUPS
        }
        for name in ("baseline + OMS", "baseline + OMS, w=2", "zero-SNR (v, trailing)")
    }
    schedules = {
        "linear": DDPMPath(spacing="leading"),
        "scaled-linear": make_path("ddpm-scaled-linear"),
    }
    leaks = {
        name: {
            "sqrt_alpha_bar_T": round(path.alphas_cumprod[-1].sqrt().item(), 5),
            "leak_16x16": round(leak(path.alphas_cumprod[-1].item(), 256), 4),
            "leak_latent_64": round(leak(path.alphas_cumprod[-1].item(), 64), 4),
            "leak_16x16_first_leading_step": round(leak(path.alphas_cumprod[951].item(), 256), 4),
        }
        for name, path in schedules.items()
    }
    return {
        "data": {
            group: {
                key: mean_sd([run["data"][group][key] for run in runs])
                for key in ("image_mean", "image_mean_sd")
            }
            for group in GROUPS
        },
        "fd_floor": {group: mean_sd([run["fd_floor"][group] for run in runs]) for group in GROUPS},
        "settings": table,
        "w1_ratio": ratio,
        "leak": leaks,
        "oms_overhead": mean_sd([run["oms_overhead"] for run in runs]),
        "oms_parameters": runs[0]["oms_parameters"],
        "unet_parameters": runs[0]["unet_parameters"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000, help="U-Net training minibatches")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--channels", type=int, default=24, help="U-Net width")
    parser.add_argument("--oms-steps", type=int, default=2000)
    parser.add_argument("--oms-width", type=int, default=64)
    parser.add_argument("--sampling-steps", type=int, default=20, help="DDIM steps")
    parser.add_argument("--timing-rounds", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run (with --results)")
    parser.set_defaults(samples=100)  # per class
    run_seeds_and_write(__file__, parser, run_seed, summarise)


if __name__ == "__main__":
    main()
