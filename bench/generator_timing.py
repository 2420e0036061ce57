"""Time per usable adapter: generating a batch of 100 vs fine-tuning one, in the same run.

    python bench/generator_timing.py [--zoo ZOO] [--generator DIR] [--device cpu|cuda]
        [--threads N] [--results PATH]

Without ``--zoo`` it builds the default zoo and fits the main job's generator on it; with the
path of a rotation LoRA zoo that exists (e.g. the wide one of ``bench/wide_zoos.py --keep``) it
uses that zoo's group and backbone and fits ``GeneratorConfig`` defaults (element centre) on it,
unless ``--generator`` names a fitted one. Then on ``--device`` it times one batch of 100
generated adapters at a held-out angle (after one warm-up batch) against one 300-step peft
fine-tune at that angle, and counts the generated adapters that are usable (accuracy ≥ 0.9 × the
trained adapters' median there). Writes bench/results/generator_timing_<device>.json (or
``--results``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from paramgen.backbones import build_backbone
from paramgen.data import load_digits16
from paramgen.data.digits import DigitImages
from paramgen.families import get_family
from paramgen.families.lora import attach_lora
from paramgen.families.lora.batched import batched_accuracy, stack_adapters
from paramgen.generator import GeneratorConfig, ParamGenerator
from paramgen.tasks.digits import styled
from paramgen.training import train_classifier
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.main_job import MainJobConfig
from zoo.store import Zoo
from zoo.training_set import training_set

RESULTS = Path(__file__).with_name("results")
ANGLE = 45.0  # a held-out angle
USABLE = 0.9  # usable: accuracy >= USABLE x the trained adapters' median at ANGLE


def _synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(generator: ParamGenerator, zoo: Zoo, device: str) -> dict:
    (name,) = zoo.groups()
    group = zoo.group(name)
    base = build_backbone(group.backbone)
    base.load_state_dict(zoo.backbone_weights(group.backbone))
    spec = get_family(group.family).config_from_dict(group.family_config)
    generator.to(device)
    train = styled(load_digits16("train"), "rotation", ANGLE)
    train = DigitImages(train.images.to(device), train.labels.to(device))

    generator.sample({"rotation": ANGLE}, 100, seed=6)  # warm-up
    _synchronise(device)
    started = time.perf_counter()
    adapters = generator.sample({"rotation": ANGLE}, 100, seed=7)
    _synchronise(device)
    generate_seconds = time.perf_counter() - started

    torch.manual_seed(0)
    model = attach_lora(base.to(device), spec)
    started = time.perf_counter()
    train_classifier(model, train, steps=300, lr=1e-2)
    _synchronise(device)
    finetune_seconds = time.perf_counter() - started

    trained = group.read(group.indices(rotation=ANGLE)).metrics["accuracy"].median().item()
    on_cpu = [{name: value.cpu() for name, value in adapter.items()} for adapter in adapters]
    scores = batched_accuracy(
        base.cpu(), spec, stack_adapters(on_cpu), styled(load_digits16("test"), "rotation", ANGLE)
    )
    usable = int((scores >= USABLE * trained).sum())
    return {
        "group": name,
        "row_length": group.schema.dim,
        "architecture": generator.config.architecture,
        "device": "cpu" if device == "cpu" else torch.cuda.get_device_name(device),
        "torch_threads": torch.get_num_threads(),
        "generate_100_seconds": round(generate_seconds, 4),
        "finetune_1_seconds": round(finetune_seconds, 3),
        "usable_of_100": usable,
        "usable_rule": f"accuracy >= {USABLE} x trained median ({trained:.3f}) at {ANGLE:g} deg",
        "finetune_over_generate_per_usable": round(
            finetune_seconds / (generate_seconds / max(usable, 1)), 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", type=Path, default=None, help="a fitted generator folder")
    parser.add_argument("--zoo", type=Path, default=None, help="a built rotation LoRA zoo")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    parser.add_argument("--results", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        config = GeneratorConfig(centre="element")
        if args.zoo is None or not args.zoo.exists():
            args.zoo = args.zoo or Path(tmp) / "zoo.h5"
            build_lora_zoo(args.zoo, LoraZooConfig())
            config = MainJobConfig().generator
        with Zoo.open(args.zoo) as zoo:
            if args.generator:
                generator = ParamGenerator.from_pretrained(args.generator)
            else:
                (name,) = zoo.groups()
                started = time.perf_counter()
                generator = ParamGenerator.fit(training_set(zoo.group(name)), config)
                fit_seconds = round(time.perf_counter() - started, 1)
            result = measure(generator, zoo, args.device)
            if not args.generator:
                result["fit_seconds"] = fit_seconds
    result["command"] = "python " + " ".join(sys.argv)
    print(json.dumps(result, indent=1))
    path = args.results or RESULTS / f"generator_timing_{args.device.split(':')[0]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
