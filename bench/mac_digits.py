"""MAC on 16×16 digits (METHODS §7): 5-step sampling of a frozen flow U-Net, plain Euler vs the
γ-space sampler along MAC paths from a low-pass conv coefficient net trained through it.

    python bench/mac_digits.py [--seeds 0 1 2] [--scales 0.05 0.2] [--iterations 150] [--threads 1]

Per seed: the velocity model is ``digits-unet-flow`` (the 196k digits U-Net trained by flow
matching on the linear path, 1,000 steps, from the seed), pretrained once and stored in the seed's
MAC zoo file (``--zoo-dir``, shared with bench/mac_zoo.py, via ``base_model``). A MacConvNet
(≈3.9k parameters: two 3×3 SiLU convs of width 16 → tanh → Gaussian LPF σ = 2 px, 9 taps →
per-sample min–max renormalisation → ×s; M = 5, q = 7) is trained for NFE = 5 by back-propagating
through all 5 γ-space Euler steps; the loss is the squared MMD (RBF kernels at 0.5, 1 and 2× the
median feature distance) between 64 generated and 64 real training digits in the digits
classifier's feature space — not the evaluation statistic. Besides the paper's s = 0.05, MAC is
also trained with s = 0.2 (as in bench/mac_2d.py: at 0.05 the weights sit at their bound).

Quality: the Fréchet distance between 449 generated digits and the 449 test digits in the
feature space of ``digits-cnn`` (seed 0), as bench/dpi_flow.py. Plain Euler at NFE 5, MAC at
NFE 5 and plain Euler at NFE 50 (the reference) all start from the same 449 noises (seeded per
seed), so the comparison is paired. Floors: train (1,348) vs test, and 449 train digits vs test
(the same sample size as the generated sets). Writes bench/results/mac_digits.json and a sample
grid (seed 0), mac_digits.png.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch
from digit_grids import save_digit_grids
from spread import mean_sd

from paramgen.data import load_digits16
from paramgen.families.mac import MacConvNet
from paramgen.families.mac.training import euler_images, mac_images, train_mac_net
from paramgen.frechet import FrechetScorer
from paramgen.tasks.flow_sampling import CLASSIFIER, FLOW_BACKBONE
from zoo.bases import base_model
from zoo.store import Zoo

RESULTS = Path(__file__).with_name("results")
ZOO_DIR = Path("runs/mac/zoos")


def zoo_path(folder: Path, seed: int) -> Path:
    """The seed's MAC zoo file (bench/mac_zoo.py builds its group there)."""
    return folder / f"mac-zoo-{seed}.h5"


def frozen_models(path: Path, seed: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The seed's flow model and the seed-0 classifier, read from the zoo or trained and stored."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with Zoo.open(path, "a") if path.exists() else Zoo.create(path) as zoo:
        return base_model(zoo, FLOW_BACKBONE, seed), base_model(zoo, CLASSIFIER, 0)


def run(seed: int, args: argparse.Namespace, grids: dict) -> dict:
    started = time.perf_counter()
    velocity, classifier = frozen_models(zoo_path(args.zoo_dir, seed), seed)
    pretrain_s = time.perf_counter() - started
    train, test = load_digits16("train"), load_digits16("test")
    score = FrechetScorer(classifier, test.images)
    noise = torch.randn(
        len(test), 1, 16, 16, generator=torch.Generator().manual_seed(10_000 + seed)
    )
    images = {f"euler_{n}": euler_images(velocity, noise, n) for n in (args.nfe, args.reference)}
    out: dict = {name: score(x) for name, x in images.items()}
    subset = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    out["floor_449"] = score(train.images[subset[: len(test)]])
    out["mac"], out["mac_train_s"] = {}, {}
    for scale in args.scales:
        clock = time.perf_counter()
        torch.manual_seed(seed)
        net = MacConvNet(scale=scale, hidden=args.hidden, depth=args.depth)
        train_mac_net(
            net,
            velocity,
            classifier,
            train,
            nfe=args.nfe,
            iterations=args.iterations,
            lr=args.lr,
            batch_size=args.batch,
            seed=seed,
        )
        with torch.no_grad():
            images[f"mac_{scale}"] = mac_images(net, velocity, noise, args.nfe)
        out["mac"][str(scale)] = score(images[f"mac_{scale}"])
        out["mac_train_s"][str(scale)] = round(time.perf_counter() - clock, 1)
    out["pretrain_or_load_s"] = round(pretrain_s, 1)
    if not grids:
        grids.update({name: x[:64] for name, x in images.items()})
    print(seed, json.dumps(out), f"{time.perf_counter() - started:.0f} s", flush=True)
    return out


def summarise(runs: list[dict], args: argparse.Namespace) -> dict:
    euler = [r[f"euler_{args.nfe}"] for r in runs]
    table = {
        f"euler_nfe{args.nfe}": mean_sd(euler, 3),
        f"euler_nfe{args.reference}": mean_sd([r[f"euler_{args.reference}"] for r in runs], 3),
        "floor_449_train_vs_test": mean_sd([r["floor_449"] for r in runs], 3),
        f"mac_nfe{args.nfe}": {},
    }
    for scale in map(str, args.scales):
        mac = [r["mac"][scale] for r in runs]
        table[f"mac_nfe{args.nfe}"][scale] = {
            "fd": mean_sd(mac, 3),
            "change_vs_euler_pct": mean_sd(
                [100 * (m - e) / e for m, e in zip(mac, euler, strict=True)], 1
            ),
            "lower_than_euler_every_seed": all(m < e for m, e in zip(mac, euler, strict=True)),
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.05, 0.2], help="s values")
    parser.add_argument("--nfe", type=int, default=5)
    parser.add_argument("--reference", type=int, default=50, help="plain Euler reference NFE")
    parser.add_argument("--iterations", type=int, default=150, help="MAC training minibatches")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--depth", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--zoo-dir", type=Path, default=ZOO_DIR, help="where flow models are kept")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    grids: dict = {}
    runs = [run(seed, args, grids) for seed in args.seeds]
    train, test = load_digits16("train"), load_digits16("test")
    with Zoo.open(zoo_path(args.zoo_dir, args.seeds[0])) as zoo:
        score = FrechetScorer(base_model(zoo, CLASSIFIER, 0), test.images)
    results = {
        "command": "python " + " ".join(sys.argv),
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "loss": "squared MMD in digits-cnn feature space, RBF kernels at 0.5/1/2x median distance",
        "fd": f"digits-cnn (seed 0) relu(fc1) features, {len(test)} generated vs {len(test)} test",
        "train_vs_test_floor": round(score(train.images), 3),
        "summary": summarise(runs, args),
        "per_seed": dict(zip(args.seeds, runs, strict=True)),
        "wall_s": round(time.perf_counter() - started),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mac_digits.json").write_text(json.dumps(results, indent=1) + "\n")
    first = results["per_seed"][args.seeds[0]]
    fds = {name: first[name] for name in grids if name.startswith("euler")}
    fds.update({f"mac_{s}": v for s, v in first["mac"].items()})
    titles = {n: f"{n.replace('_', ' ')}: FD {fds[n]:.1f} (seed 0)" for n in grids}
    save_digit_grids(grids, titles, RESULTS / "mac_digits.png", panel=(4, 4.3), dpi=100)
    print(json.dumps(results["summary"], indent=1))
    print(f"wall time {results['wall_s']} s")


if __name__ == "__main__":
    main()
