"""How much of the accuracy lost to rotation does a rank-4 LoRA restore? (3 seeds)

    python bench/lora_rotation.py [--seeds 0 1 2] [--angles 60 90]

For each seed: train the digits-cnn base from that seed on plain digits, score it on the plain and
rotated held-out test digits, then fine-tune one LoRA per angle (the zoo builder's settings) on
rotated training digits and score it on the rotated test digits. Writes
bench/results/lora_rotation.json with mean ± sd over seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from spread import mean_sd

from paramgen.backbones import backbone_entry, build_backbone
from paramgen.data import load_digits16
from paramgen.families.lora import LoraSpec, attach_lora
from paramgen.tasks.digits import styled
from paramgen.training import accuracy, train_classifier
from zoo.builders import LoraZooConfig

RESULTS = Path(__file__).with_name("results") / "lora_rotation.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--angles", type=float, nargs="+", default=[60.0, 90.0])
    args = parser.parse_args()
    config = LoraZooConfig()
    spec = LoraSpec(backbone_entry("digits-cnn").lora_targets, config.rank, config.alpha)
    train, test = load_digits16("train"), load_digits16("test")
    figures: dict[str, list[float]] = {"base_plain": []}
    for seed in args.seeds:
        base = build_backbone("digits-cnn", seed=seed, pretrained=True)
        figures["base_plain"].append(accuracy(base, test))
        for angle in args.angles:
            rotated_test = styled(test, "rotation", angle)
            figures.setdefault(f"base_at_{angle:g}", []).append(accuracy(base, rotated_test))
            torch.manual_seed(seed)
            model = attach_lora(base, spec)
            train_classifier(
                model,
                styled(train, "rotation", angle),
                steps=config.steps,
                lr=config.lr,
                batch_size=config.batch_size,
                seed=seed,
            )
            figures.setdefault(f"lora_at_{angle:g}", []).append(accuracy(model, rotated_test))
            print(
                f"seed {seed} angle {angle:g}: base {figures[f'base_at_{angle:g}'][-1]:.3f} "
                f"lora {figures[f'lora_at_{angle:g}'][-1]:.3f}",
                flush=True,
            )
    results = {
        "command": "python bench/lora_rotation.py --seeds " + " ".join(map(str, args.seeds)),
        "lora": {
            "rank": config.rank,
            "alpha": config.alpha,
            "targets": list(spec.targets),
            "steps": config.steps,
            "lr": config.lr,
        },
        "accuracy": {name: mean_sd(values) for name, values in figures.items()},
        "restored_fraction": {
            f"{angle:g}": mean_sd(
                [
                    (lora - rotated) / (plain - rotated)
                    for plain, rotated, lora in zip(
                        figures["base_plain"],
                        figures[f"base_at_{angle:g}"],
                        figures[f"lora_at_{angle:g}"],
                        strict=True,
                    )
                ]
            )
            for angle in args.angles
        },
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
