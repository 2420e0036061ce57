"""DPI inside a generative model: the U-Net as a flow-matching velocity net on 16×16 digits,
time-conditioned by DPI or by its own embedding (FiLM), at the same budget.

    python bench/dpi_flow.py [--seeds 0 1 2] [--steps 1000]

Both nets train on the linear path (noise at t = 0, digits at t = 1) with the same steps, batch,
Adam learning rate and minibatches, one t per minibatch (what DPI needs), then sample 449 digits
each (Heun, 50 steps). Quality: the Fréchet distance between generated and held-out test digits
in the 64-d penultimate features of the built-in digits classifier (`digits-cnn`, pretrained from
seed 0; no downloaded Inception weights); the train-vs-test distance is the floor. Writes
bench/results/dpi_flow.json and a sample grid, dpi_flow.png.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from digit_grids import save_digit_grids
from spread import mean_sd
from torch import nn

from paramgen.backbones import build_backbone
from paramgen.backbones.unet import DigitsUNet
from paramgen.data import load_digits16
from paramgen.families.dpi import DPI
from paramgen.frechet import classifier_features, frechet_distance
from paramgen.paths import make_path
from paramgen.solvers import sample
from paramgen.training import train_flow_matching

RESULTS = Path(__file__).with_name("results")
NETS: dict[str, Callable[[], nn.Module]] = {
    "embedding (FiLM)": lambda: DigitsUNet(time_embedding=True),
    "DPI": lambda: DPI(DigitsUNet(time_embedding=False), 0.0, 1.0),
}


@torch.no_grad()
def generate(model: nn.Module, n: int, seed: int) -> torch.Tensor:
    """n digits in [0, 1]."""
    model.eval()
    noise = torch.randn(n, 1, 16, 16, generator=torch.Generator().manual_seed(10_000 + seed))
    x = sample(make_path("linear"), model, noise, sampler="heun", steps=50)
    return ((x.clamp(-1, 1) + 1) / 2).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=2e-3)
    args = parser.parse_args()
    train, test = load_digits16("train"), load_digits16("test")
    classifier = build_backbone("digits-cnn", seed=0, pretrained=True)
    reference = classifier_features(classifier, test.images)
    floor = frechet_distance(classifier_features(classifier, train.images), reference)
    distances: dict[str, list[float]] = {name: [] for name in NETS}
    grids = {}
    for seed in args.seeds:
        for name, build in NETS.items():
            torch.manual_seed(seed)
            model = build()
            started = time.perf_counter()
            train_flow_matching(
                model, train, steps=args.steps, lr=args.lr, seed=seed, t_per="batch"
            )
            images = generate(model, len(test.labels), seed)
            distances[name].append(
                frechet_distance(classifier_features(classifier, images), reference)
            )
            print(seed, name, f"{time.perf_counter() - started:.1f} s", distances[name][-1])
            grids.setdefault(name, images[:64])
    results = {
        "command": "python " + " ".join(sys.argv),
        "frechet_distance": {name: mean_sd(v, digits=3) for name, v in distances.items()},
        "train_vs_test_floor": round(floor, 3),
        "samples": len(test.labels),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dpi_flow.json").write_text(json.dumps(results, indent=1) + "\n")
    titles = {name: f"{name}: FD {results['frechet_distance'][name]['mean']:.2f}" for name in grids}
    save_digit_grids(grids, titles, RESULTS / "dpi_flow.png")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
