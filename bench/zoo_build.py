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
from paramgen.families import get_family
from paramgen.families.lora import LoraSpec
from paramgen.runs import RunStart, train_runs
from paramgen.tasks.digits import StyledDigitsClassification
from zoo.builders import LoraZooConfig, build_lora_zoo

RESULTS = Path(__file__).with_name("results") / "zoo_build.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapters", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--skip-default-zoo", action="store_true")
    args = parser.parse_args()
    base = build_backbone("digits-cnn", seed=0, pretrained=True)
    rates = []
    for count in args.adapters:
        config = LoraZooConfig(steps=args.steps, keep_last=1)
        spec = LoraSpec(backbone_entry("digits-cnn").lora_targets, config.rank, config.alpha)
        angles = torch.linspace(-90, 90, count).tolist()
        runs = [RunStart((angle,), seed) for seed, angle in enumerate(angles)]
        task, lora = StyledDigitsClassification("rotation"), get_family("lora")
        timings = {}
        for method in ("sequential", "batched"):
            started = time.perf_counter()
            train_runs(lora, spec, base, task, runs, config.plan.settings, method == "batched")
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
