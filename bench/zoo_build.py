"""LoRA adapters per minute, one peft model at a time vs vmap-batched, and the default zoo's build.

    python bench/zoo_build.py [--adapters 8] [--steps 300]

Both methods train the same adapters (same angles, seeds, steps) in one run, alternately; then the
default rotation zoo (the one `paramgen run` uses) is built from scratch and timed. Writes
bench/results/zoo_build.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import torch

from paramgen.backbones import backbone_entry, build_backbone
from paramgen.data import load_digits16
from paramgen.families import LoraSpec
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.builders.lora import TRAINERS, styled

RESULTS = Path(__file__).with_name("results") / "zoo_build.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapters", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--skip-default-zoo", action="store_true")
    args = parser.parse_args()
    base = build_backbone("digits-cnn", seed=0, pretrained=True)
    train = load_digits16("train")
    rates = []
    for count in args.adapters:
        config = LoraZooConfig(steps=args.steps, keep_last=1)
        spec = LoraSpec(backbone_entry("digits-cnn").lora_targets, config.rank, config.alpha)
        angles = torch.linspace(-90, 90, count).tolist()
        datasets = [styled(train, "rotation", angle) for angle in angles]
        seeds = list(range(count))
        timings = {}
        for method in ("sequential", "batched"):
            started = time.perf_counter()
            TRAINERS[method](base, spec, datasets, seeds, config)
            timings[method] = time.perf_counter() - started
        rates.append(
            {
                "adapters": count,
                "steps": args.steps,
                "sequential_per_minute": round(60 * count / timings["sequential"], 1),
                "batched_per_minute": round(60 * count / timings["batched"], 1),
                "batched_speedup": round(timings["sequential"] / timings["batched"], 2),
            }
        )
        print(rates[-1], flush=True)
    results = {
        "command": "python bench/zoo_build.py --adapters " + " ".join(map(str, args.adapters)),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
        "adapters_per_minute": rates,
    }
    if not args.skip_default_zoo:
        default = LoraZooConfig()
        with tempfile.TemporaryDirectory() as tmp:
            started = time.perf_counter()
            build_lora_zoo(Path(tmp) / "zoo.h5", default)
            seconds = time.perf_counter() - started
        results["default_zoo"] = {
            "values": len(default.values),
            "rows": len(default.values) * default.keep_last,
            "method": default.method,
            "seconds_including_base_pretraining": round(seconds, 1),
        }
        print(results["default_zoo"], flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
