"""DPI vs other ways of telling a denoiser its noise level (the DPI paper's Figure 3 and 4 views).

    python bench/dpi_denoise.py [--seeds 0 1 2] [--steps 1500]

The built-in U-Net denoises 16×16 digits at σ log-uniform in [0.01, 1], predicting the noise ε,
with the same budget (steps, batch, Adam learning rate, one σ per minibatch, the same minibatches)
under five conditionings on u = position of log σ in [0, 1]:
blind (no σ), σ-map (a constant u channel concatenated to the input), embedding (sinusoidal
features of u → MLP → scale/shift of every block: the U-Net's own FiLM), DPI (the blind U-Net's
weights interpolated by a learned λ(u); λ's logits at 100× the learning rate), and DPI with a fixed
λ = u. Reports the noise-scaled MSE σ²·mean‖ε̂ − ε‖² (= MSE of the denoised image) per σ bin on
the held-out test digits, parameter counts, training / inference step time relative to the
embedding model (timed alternately in one run), and the learned λ curves. Writes
bench/results/dpi_denoise.json and dpi_denoise.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from paramgen.backbones.unet import DigitsUNet  # noqa: E402
from paramgen.data import load_digits16  # noqa: E402
from paramgen.families.dpi import DPI  # noqa: E402
from paramgen.tasks.denoising import denoising_errors, sigma_bins  # noqa: E402
from paramgen.training import train_denoiser  # noqa: E402

RESULTS = Path(__file__).with_name("results")
BINS = 8  # σ bins, log-spaced over [SIGMA_MIN, SIGMA_MAX]


class Blind(nn.Module):
    """Ignores u."""

    def __init__(self) -> None:
        super().__init__()
        self.net = DigitsUNet(time_embedding=False)

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SigmaMap(nn.Module):
    """u as a constant extra input channel."""

    def __init__(self) -> None:
        super().__init__()
        self.net = DigitsUNet(in_channels=2, time_embedding=False)

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        level = torch.as_tensor(u, dtype=x.dtype).expand(len(x))[:, None, None, None]
        return self.net(torch.cat([x, level.expand_as(x)], dim=1))


def fixed_lambda_dpi() -> DPI:
    """DPI with λ(u) = u: equal table steps, not trained."""
    dpi = DPI(DigitsUNet(time_embedding=False), 0.0, 1.0)
    dpi.lam.logits.data.zero_()
    dpi.lam.logits.requires_grad_(False)
    return dpi


CONDITIONINGS: dict[str, Callable[[], nn.Module]] = {
    "blind": Blind,
    "sigma-map": SigmaMap,
    "embedding (FiLM)": lambda: DigitsUNet(time_embedding=True),
    "DPI": lambda: DPI(DigitsUNet(time_embedding=False), 0.0, 1.0),
    "DPI, fixed λ = u": fixed_lambda_dpi,
}
REFERENCE = "embedding (FiLM)"


def step_times(models: dict[str, nn.Module], rounds: int = 7, steps: int = 5) -> dict:
    """Median seconds of a training step (forward + backward) and an inference call, per model,
    the models called alternately so that machine noise hits them alike."""
    x = torch.randn(64, 1, 16, 16)
    u = torch.tensor(0.4)
    train: dict[str, list[float]] = {name: [] for name in models}
    infer: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            started = time.perf_counter()
            for _ in range(steps):
                model(x, u).square().mean().backward()
            train[name].append((time.perf_counter() - started) / steps)
            with torch.no_grad():
                started = time.perf_counter()
                for _ in range(steps):
                    model(x, u)
                infer[name].append((time.perf_counter() - started) / steps)
    reference_train = statistics.median(train[REFERENCE])
    reference_infer = statistics.median(infer[REFERENCE])
    return {
        name: {
            "train_step_ms": round(1000 * statistics.median(train[name]), 2),
            "inference_ms": round(1000 * statistics.median(infer[name]), 2),
            "train_vs_embedding": round(statistics.median(train[name]) / reference_train, 3),
            "inference_vs_embedding": round(statistics.median(infer[name]) / reference_infer, 3),
        }
        for name in models
    }


def plot(summary: dict, curves: dict, path: Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    sigmas = sigma_bins(BINS).tolist()
    for name, row in summary.items():
        left.errorbar(sigmas, row["mean"], yerr=row["sd"], label=name, marker="o", capsize=2)
    left.set(xscale="log", yscale="log", xlabel="σ", ylabel="σ²·MSE(ε̂, ε)  (test digits)")
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.legend(fontsize=8)
    left.set_title("noise-scaled MSE per σ bin (3 seeds)")
    for seed, (s, lam) in curves.items():
        right.plot(s, lam, label=f"learned λ, seed {seed}")
    right.plot([0, 1], [0, 1], "k--", label="λ = u")
    right.set(xlabel="u (position of log σ)", ylabel="λ(u)")
    right.legend(fontsize=8)
    right.set_title("DPI's learned λ")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()
    train = load_digits16("train")
    test = load_digits16("test")
    per_seed: dict[str, dict[int, list[float]]] = {name: {} for name in CONDITIONINGS}
    curves, trained_last = {}, {}
    for seed in args.seeds:
        for name, build in CONDITIONINGS.items():
            torch.manual_seed(seed)
            model = build()
            started = time.perf_counter()
            train_denoiser(model, train, steps=args.steps, lr=args.lr, seed=seed, sigma_per="batch")
            per_seed[name][seed] = denoising_errors(model, test, sigma_bins(BINS))
            print(seed, name, f"{time.perf_counter() - started:.1f} s", per_seed[name][seed])
            trained_last[name] = model
        s, lam = trained_last["DPI"].lambda_curve()
        curves[seed] = (s.tolist(), lam.tolist())
    summary = {
        name: {
            "mean": [statistics.mean(r[b] for r in runs.values()) for b in range(BINS)],
            "sd": [
                statistics.stdev(r[b] for r in runs.values()) if len(runs) > 1 else 0.0
                for b in range(BINS)
            ],
            "mean_over_bins": statistics.mean(statistics.mean(r) for r in runs.values()),
        }
        for name, runs in per_seed.items()
    }
    results = {
        "command": "python " + " ".join(sys.argv),
        "sigma_bins": [round(s, 4) for s in sigma_bins(BINS).tolist()],
        "summary": summary,
        "per_seed": per_seed,
        "parameters": {
            name: sum(p.numel() for p in model.parameters()) for name, model in trained_last.items()
        },
        "step_times": step_times(trained_last),
        "lambda_curves": curves,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dpi_denoise.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(summary, curves, RESULTS / "dpi_denoise.png")
    print(json.dumps({k: results[k] for k in ("parameters", "step_times")}, indent=1))


if __name__ == "__main__":
    main()
