"""Is the rotation zoo a smooth function of the angle? Independent runs vs the warm-start chain.

    python bench/zoo_smoothness.py [--seeds 0 1 2]

A generator can only interpolate to a held-out angle if the weights between its training
neighbours are good weights. For each seed this builds the default zoo twice (``init="per-run"``
and ``init="chain"``) and scores, at every held-out angle, the trained adapter there against:
(b) the nearest training angle's adapter, (d) the exact ΔW interpolation of the two training
neighbours, and the plain average of their factors — as stored, and after SVD-canonicalisation.
Last checkpoints only; accuracy on the rotated held-out test digits. Writes
bench/results/zoo_smoothness.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

from paramgen.backbones import build_backbone
from paramgen.data import load_digits16
from paramgen.families import get_family
from paramgen.families.lora.algebra import canonicalize, interpolate
from paramgen.families.lora.batched import batched_accuracy, stack_adapters
from paramgen.tasks.digits import styled
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.builders.driver import last_checkpoint
from zoo.store import Zoo

RESULTS = Path(__file__).with_name("results") / "zoo_smoothness.json"
GROUP = "lora/digits-cnn/rotation"
MEASURES = ("trained", "nearest", "delta_w", "factor_average", "canonical_factor_average")


def held_out_scores(path: Path, config: LoraZooConfig) -> dict[str, float]:
    """Mean over held-out angles of each measure."""
    with Zoo.open(path) as zoo:
        group = zoo.group(GROUP)
        spec = get_family(group.family).config_from_dict(group.family_config)
        base = build_backbone(group.backbone)
        base.load_state_dict(zoo.backbone_weights(group.backbone))
        train = np.array([v for v in config.values if config.split_of(v) == "train"])
        last = {v: last_checkpoint(group, "rotation", v) for v in config.values}
    test = load_digits16("test")
    scores: dict[str, list[float]] = {name: [] for name in MEASURES}
    for value in (v for v in config.values if config.split_of(v) == "heldout"):
        data = styled(test, "rotation", value)
        low, high = train[train < value].max(), train[train > value].min()
        lam = (value - low) / (high - low)
        nearest = min(train, key=lambda v: (abs(v - value), abs(v)))
        a, b = last[float(low)], last[float(high)]
        mixed, mixed_spec = interpolate([a, b], [1 - lam, lam], spec)
        ca, cb = canonicalize(a, spec), canonicalize(b, spec)
        adapters = {
            "trained": last[value],
            "nearest": last[float(nearest)],
            "factor_average": {k: (1 - lam) * a[k] + lam * b[k] for k in a},
            "canonical_factor_average": {k: (1 - lam) * ca[k] + lam * cb[k] for k in a},
        }
        names = list(adapters)
        got = batched_accuracy(base, spec, stack_adapters(list(adapters.values())), data)
        for name, score in zip(names, got.tolist(), strict=True):
            scores[name].append(score)
        scores["delta_w"].append(
            batched_accuracy(base, mixed_spec, stack_adapters([mixed]), data).item()
        )
    return {name: statistics.mean(values) for name, values in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    per_seed: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for init in ("per-run", "chain"):
                config = LoraZooConfig(seed=seed, init=init)
                path = Path(tmp) / f"{init}-{seed}.h5"
                build_lora_zoo(path, config)
                per_seed.setdefault(init, {})[seed] = held_out_scores(path, config)
                print(init, seed, json.dumps(per_seed[init][seed]), flush=True)
    summary = {
        init: {
            name: {
                "mean": round(statistics.mean(r[name] for r in runs.values()), 4),
                "sd": round(statistics.stdev(r[name] for r in runs.values()), 4)
                if len(runs) > 1
                else 0.0,
            }
            for name in MEASURES
        }
        for init, runs in per_seed.items()
    }
    results = {"command": "python " + " ".join(sys.argv), "summary": summary, "per_seed": per_seed}
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
