"""MAC on 2D toys (METHODS §7, E8): 5-step sampling of a frozen linear-path velocity MLP, plain
Euler (SI_α) vs the γ-space sampler along a MAC path whose coefficient net is trained through it.

    python bench/mac_2d.py [--seeds 0 1 2] [--threads 1]

For each seed, target (8 Gaussians, moons; torchcfm's scaling, paramgen.data.sample_toy) and
pairing (independent, or minibatch optimal transport as torchcfm's
ExactOptimalTransportConditionalFlowMatcher): train a velocity MLP (3×64 SELU, torchcfm's
tutorial net) on the linear path and freeze it; then train a MacMLP (x_start → 2·M·2 weights,
M = 5, q = 7, s = 0.05) by back-propagating a distribution loss between its 5-step samples and
fresh target samples through all 5 steps. The paper uses a hinge GAN; the loss here is the squared
MMD with a sum of RBF kernels (--bandwidths): a proper divergence, cheap at 256 × 256, and not the
metric itself (a minibatch exact-OT W2² loss gave the same W2 to 0.001 on seed 0). W2 is exact OT
(POT emd2 on squared distances, square root) between 5,000 fresh samples and 5,000 fresh target
samples; the floor is W2 between two independent 5,000-sample draws of the target. Ablation: the
MAC net fed a constant (zeros), independent noise, or the trajectory's own start point. Besides
the paper's s = 0.05, MAC is also trained with a larger weight bound (--scales), because at
s = 0.05 the trained weights sit at ±s. Writes bench/results/mac_2d.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import ot
import torch
from spread import mean_sd
from torch import nn

from paramgen.data import sample_toy
from paramgen.families.mac import MacMLP
from paramgen.families.mac.training import rbf_mmd
from paramgen.paths import LinearPath
from paramgen.solvers import gamma_euler, sample

RESULTS = Path(__file__).with_name("results")
TARGETS = ["8gaussians", "moons"]
PAIRINGS = ["independent", "ot"]
FEEDS = ["start", "noise", "constant"]
PAPER = {  # W2 at NFE 5 (METHODS §7): SI_α → SI_γ + φ
    ("8gaussians", "independent"): (0.763, 0.721),
    ("moons", "independent"): (0.882, 0.682),
    ("8gaussians", "ot"): (0.457, 0.399),
    ("moons", "ot"): (0.245, 0.230),
}


class VelocityMLP(nn.Module):
    """torchcfm's tutorial MLP: [x, t] → 3 hidden SELU layers of 64 → velocity."""

    def __init__(self, dims: int = 2, hidden: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dims + 1, hidden),
            nn.SELU(),
            nn.Linear(hidden, hidden),
            nn.SELU(),
            nn.Linear(hidden, hidden),
            nn.SELU(),
            nn.Linear(hidden, dims),
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, t[:, None]], dim=1))


def ot_pairing(noise: torch.Tensor, data: torch.Tensor) -> torch.Tensor:
    """``data`` reordered so that row i is noise i's partner under the exact minibatch OT plan
    (squared Euclidean cost; with equal uniform weights the plan is a permutation)."""
    plan = ot.emd([], [], ot.dist(noise.double().numpy(), data.double().numpy()))
    return data[torch.from_numpy(plan.argmax(axis=1))]


def train_velocity(pool: torch.Tensor, pairing: str, seed: int, args) -> nn.Module:
    torch.manual_seed(seed)
    model, path = VelocityMLP(), LinearPath()
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(args.flow_steps):
        data = pool[torch.randint(len(pool), (args.batch,), generator=generator)]
        noise = torch.randn(data.shape, generator=generator)
        if pairing == "ot":
            data = ot_pairing(noise, data)
        pair = path.sample_training(data, noise, generator)
        loss = (model(pair.x_t, pair.t) - pair.target).square().mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return model.requires_grad_(False).eval()


def feed(kind: str, start: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """What the coefficient net sees: the start point, independent noise, or a constant."""
    if kind == "start":
        return start
    if kind == "noise":
        return torch.randn(start.shape, generator=generator)
    return torch.zeros_like(start)


def train_mac(velocity: nn.Module, pool: torch.Tensor, kind: str, scale: float, seed: int, args):
    """A MacMLP trained through the ``args.nfe``-step γ-space sampler against the MMD to fresh
    target minibatches; ``kind`` says what it is fed (see :func:`feed`)."""
    torch.manual_seed(seed)
    net = MacMLP(dims=2, basis_size=args.basis, scale=scale, exponent=args.exponent)
    optimiser = torch.optim.Adam(net.parameters(), lr=args.mac_lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(args.mac_steps):
        start = torch.randn(args.mac_batch, 2, generator=generator)
        target = pool[torch.randint(len(pool), (args.mac_batch,), generator=generator)]
        x = gamma_euler(net.path(feed(kind, start, generator)), velocity, start, steps=args.nfe)
        loss = rbf_mmd(x, target, args.bandwidths)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return net.eval()


def w2(x: torch.Tensor, y: torch.Tensor) -> float:
    """Exact W2 between two equal-size samples: POT's emd2 returns W2², hence the root."""
    cost = ot.dist(x.double().numpy(), y.double().numpy())
    return float(np.sqrt(ot.emd2([], [], cost, numItermax=10**7)))


def run(target: str, seed: int, args) -> dict:
    """W2 of SI_α and of MAC (per scale s and, for the ablation, per feed) for one target, seed."""
    pool = sample_toy(target, 100_000, seed=1000 + seed)  # training data of both nets
    reference = sample_toy(target, args.eval_samples, seed=3000 + seed)
    generator = torch.Generator().manual_seed(5000 + seed)
    start = torch.randn(args.eval_samples, 2, generator=generator)
    out = {"floor": w2(sample_toy(target, args.eval_samples, seed=4000 + seed), reference)}
    for pairing in args.pairings:
        clock = time.perf_counter()
        velocity = train_velocity(pool, pairing, seed, args)
        with torch.no_grad():
            plain = sample(LinearPath(), velocity, start, sampler="euler", steps=args.nfe)
        out[pairing] = {"si_alpha": w2(plain, reference), "mac": {}}
        for scale in args.scales:
            paper_scale = scale == args.scales[0]
            kinds = FEEDS if paper_scale and pairing in args.ablation else FEEDS[:1]
            for kind in kinds:
                net = train_mac(velocity, pool, kind, scale, seed, args)
                with torch.no_grad():
                    path = net.path(feed(kind, start, generator))
                    x = gamma_euler(path, velocity, start, steps=args.nfe)
                out[pairing]["mac"].setdefault(str(scale), {})[kind] = w2(x, reference)
        print(target, seed, pairing, out[pairing], f"{time.perf_counter() - clock:.0f} s")
    return out


def relative(new: list[float], old: list[float]) -> dict:
    """Per-seed relative change (new − old)/old in %, as mean ± sd."""
    return mean_sd([100 * (a - b) / b for a, b in zip(new, old, strict=True)], digits=1)


def summarise(per_seed: dict, args) -> dict:
    """mean ± sd over seeds of every W2, and MAC's relative change next to the paper's."""
    table = {}
    for target, runs in per_seed.items():
        table[target] = {"floor": mean_sd([r["floor"] for r in runs])}
        for pairing in args.pairings:
            si = [r[pairing]["si_alpha"] for r in runs]
            row = {"si_alpha": mean_sd(si), "mac": {}}
            for scale, kinds in runs[0][pairing]["mac"].items():
                for kind in kinds:
                    mac = [r[pairing]["mac"][scale][kind] for r in runs]
                    row["mac"].setdefault(scale, {})[kind] = {
                        "w2": mean_sd(mac),
                        "change_vs_si_alpha_pct": relative(mac, si),
                    }
            before, after = PAPER[(target, pairing)]
            row["paper"] = {
                "si_alpha": before,
                "mac": after,
                "change_pct": round(100 * (after - before) / before, 1),
            }
            table[target][pairing] = row
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--targets", nargs="+", default=TARGETS, choices=TARGETS)
    parser.add_argument("--pairings", nargs="+", default=PAIRINGS, choices=PAIRINGS)
    parser.add_argument(
        "--ablation",
        nargs="*",
        default=["independent"],
        choices=PAIRINGS,
        help="pairings whose MAC net is also trained on constant and independent-noise inputs",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--nfe", type=int, default=5)
    parser.add_argument("--flow-steps", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--mac-steps", type=int, default=300)
    parser.add_argument("--mac-batch", type=int, default=256)
    parser.add_argument("--mac-lr", type=float, default=1e-2)
    parser.add_argument("--bandwidths", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0])
    parser.add_argument("--basis", type=int, default=5, help="M")
    parser.add_argument("--exponent", type=float, default=7.0, help="q")
    parser.add_argument(
        "--scales",
        type=float,
        nargs="+",
        default=[0.05, 0.2],
        help="s values; the first (the paper's 0.05) is the main table and the ablation",
    )
    parser.add_argument("--eval-samples", type=int, default=5000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    per_seed = {t: [run(t, seed, args) for seed in args.seeds] for t in args.targets}
    results = {
        "command": "python " + " ".join(sys.argv),
        "config": vars(args),
        "loss": "squared MMD, sum of RBF kernels with bandwidths config.bandwidths",
        "w2": f"exact OT (POT emd2), {args.eval_samples} vs {args.eval_samples} fresh samples",
        "summary": summarise(per_seed, args),
        "per_seed": per_seed,
        "wall_s": round(time.perf_counter() - started),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mac_2d.json").write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results["summary"], indent=1))
    print(f"wall time {results['wall_s']} s")


if __name__ == "__main__":
    main()
