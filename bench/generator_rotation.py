"""The generator on the default rotation zoo: seen vs held-out angles, paths, latent-noise ablation,
example-image conditioning, and time per usable adapter (3 seeds).

    python bench/generator_rotation.py [--zoo runs/default/zoo.h5] [--seeds 0 1 2]

For each configuration and seed: fit on the training angles, generate 20 adapters for every angle
(training and held-out), score them on the rotated held-out test digits next to the baselines of
``zoo.evaluation``. Writes bench/results/generator_rotation.json after every fit.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

from paramgen.backbones import build_backbone
from paramgen.data import load_digits16
from paramgen.families import attach_lora
from paramgen.families.lora_batched import batched_accuracy, stack_adapters
from paramgen.generator import ParamGenerator
from paramgen.training import train_classifier
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.builders.lora import styled
from zoo.evaluation import evaluate_lora_generator, lora_spec_of
from zoo.main_job import MainJobConfig
from zoo.report import summarize_scores
from zoo.store import Zoo
from zoo.training_set import training_set

RESULTS = Path(__file__).with_name("results") / "generator_rotation.json"
GROUP = "lora/digits-cnn/rotation"
BASE = MainJobConfig().generator
CONFIGS = {
    "flow (linear path), latent noise 0.1": BASE,
    "flow, no latent noise (ablation)": replace(BASE, latent_noise=0.0),
    "ddpm (eps, DDIM 50 steps)": replace(BASE, path="ddpm"),
}


def mean_sd(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.mean(values), 4),
        "sd": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
        "values": [round(v, 4) for v in values],
    }


def timing(generator: ParamGenerator, zoo: Zoo) -> dict[str, float]:
    """Seconds for 100 generated adapters vs one fine-tuned adapter, and how many are usable."""
    group = zoo.group(GROUP)
    base = build_backbone("digits-cnn")
    base.load_state_dict(zoo.backbone_weights("digits-cnn"))
    spec = lora_spec_of(group)
    angle = 45.0  # a held-out angle
    started = time.perf_counter()
    adapters = generator.sample({"rotation": angle}, 100, seed=7)
    generate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    torch.manual_seed(0)
    model = attach_lora(base, spec)
    train_classifier(model, styled(load_digits16("train"), "rotation", angle), steps=300, lr=1e-2)
    finetune_seconds = time.perf_counter() - started
    trained = group.read(group.indices(rotation=angle)).metrics["accuracy"].median().item()
    scores = batched_accuracy(
        base, spec, stack_adapters(adapters), styled(load_digits16("test"), "rotation", angle)
    )
    usable = int((scores >= 0.9 * trained).sum())
    per_usable = generate_seconds / max(usable, 1)
    return {
        "generate_100_s": round(generate_seconds, 3),
        "finetune_1_s": round(finetune_seconds, 2),
        "usable_of_100": usable,
        "usable_rule": "accuracy >= 0.9 x trained median at 45 deg",
        "finetune_over_generate_per_usable": round(finetune_seconds / per_usable, 1),
    }


def image_conditioning(zoo: Zoo, seed: int, scalar: ParamGenerator) -> dict[str, float]:
    """Held-out angles: adapters from 16 rotated *test* digits vs from the angle itself."""
    data = training_set(zoo.group(GROUP))
    generator = ParamGenerator.fit(data, replace(BASE, condition="style-images", seed=seed))
    group = zoo.group(GROUP)
    base = build_backbone("digits-cnn")
    base.load_state_dict(zoo.backbone_weights("digits-cnn"))
    spec = lora_spec_of(group)
    test = load_digits16("test")
    heldout = sorted(
        {
            v
            for v, s in zip(
                group.read().conditions["rotation"].tolist(), group.read().split, strict=True
            )
            if s == "heldout"
        }
    )
    gaps = []
    for angle in heldout:
        styled_test = styled(test, "rotation", angle)
        examples = styled_test.images[
            torch.randperm(len(styled_test.labels), generator=torch.Generator().manual_seed(seed))[
                :16
            ]
        ]
        from_images = generator.sample({"images": examples}, 20, seed=seed)
        from_angle = scalar.sample({"rotation": angle}, 20, seed=seed)
        image_acc = (
            batched_accuracy(base, spec, stack_adapters(from_images), styled_test).median().item()
        )
        angle_acc = (
            batched_accuracy(base, spec, stack_adapters(from_angle), styled_test).median().item()
        )
        gaps.append(100 * (angle_acc - image_acc))
    return {"mean_points_below_angle_conditioned": statistics.mean(gaps), "max_points": max(gaps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", type=Path, default=None, help="an existing default zoo to reuse")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        zoo_path = args.zoo or Path(tmp) / "zoo.h5"
        build_lora_zoo(zoo_path, LoraZooConfig())
        results: dict = {
            "command": "python bench/generator_rotation.py --seeds "
            + " ".join(map(str, args.seeds)),
            "configs": {},
            "per_seed": {},
        }
        with Zoo.open(zoo_path) as zoo:
            data = training_set(zoo.group(GROUP))
            values = LoraZooConfig().values
            for name, config in CONFIGS.items():
                for seed in args.seeds:
                    started = time.perf_counter()
                    generator = ParamGenerator.fit(data, replace(config, seed=seed))
                    fit_seconds = time.perf_counter() - started
                    scores = evaluate_lora_generator(
                        generator, zoo, GROUP, values, n=args.samples, seed=seed
                    )
                    record = {
                        "summary": summarize_scores(scores),
                        "fit_seconds": round(fit_seconds, 1),
                    }
                    if name == next(iter(CONFIGS)):
                        record["timing"] = timing(generator, zoo)
                        record["images"] = image_conditioning(zoo, seed, generator)
                    results["per_seed"].setdefault(name, {})[seed] = record
                    print(name, seed, json.dumps(record), flush=True)
                    runs = results["per_seed"][name].values()
                    results["configs"][name] = {
                        f"{split}_{key}": mean_sd([r["summary"][split][key] for r in runs])
                        for split in ("train", "heldout")
                        for key in (
                            "generated",
                            "trained",
                            "generated_over_trained",
                            "nearest_condition",
                            "noise_added",
                            "interpolated",
                            "no_adapter",
                            "median_nearest_distance",
                        )
                    }
                    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
