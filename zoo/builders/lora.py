"""Rotation-LoRA zoo: one LoRA fine-tune per rotation angle, keeping its last K checkpoints.

This is the p-diff collection recipe: the checkpoints at the end of a run are samples of "good
weights for this condition". Each run's rows are appended in one call, so a killed build loses at
most the run in flight, and a re-run skips the angles that are already complete.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from paramgen.backbones import backbone_entry, build_backbone
from paramgen.data import load_digits16, rotate
from paramgen.data.digits import DigitImages
from paramgen.families import LoraSpec, attach_lora, lora_tensors
from paramgen.schema import ParamSchema
from paramgen.training import accuracy, train_classifier
from zoo.group import ZooGroup
from zoo.store import Zoo

__all__ = ["RotationLoraConfig", "build_rotation_lora_zoo"]

TASK = "rotation"


@dataclass(frozen=True)
class RotationLoraConfig:
    """What to build: which angles, and how each adapter is trained and sampled."""

    backbone: str = "digits-cnn"
    angles: tuple[float, ...] = (-60.0, -30.0, 30.0, 60.0)
    rank: int = 4
    alpha: float = 4.0
    steps: int = 300
    keep_last: int = 5
    lr: float = 1e-2
    batch_size: int = 64
    seed: int = 0


def _base_model(zoo: Zoo, config: RotationLoraConfig) -> torch.nn.Module:
    """Frozen base weights: read from the zoo if stored, else trained from the seed and stored."""
    if config.backbone in zoo.backbones():
        model = build_backbone(config.backbone)
        model.load_state_dict(zoo.backbone_weights(config.backbone))
        return model.eval()
    model = build_backbone(config.backbone, seed=config.seed, pretrained=True)
    spec = {"name": config.backbone, "seed": config.seed, "pretrained_on": "digits16-train"}
    zoo.store_backbone(config.backbone, model.state_dict(), spec)
    return model


def _train_run(
    base: torch.nn.Module, spec: LoraSpec, angle: float, run: int, config: RotationLoraConfig
) -> tuple[list[dict[str, torch.Tensor]], list[int], list[float]]:
    train = load_digits16("train")
    test = load_digits16("test")
    styled_train = DigitImages(rotate(train.images, angle), train.labels)
    styled_test = DigitImages(rotate(test.images, angle), test.labels)
    snapshots, steps = [], []

    def keep_tail(step: int, model: torch.nn.Module) -> None:
        if step > config.steps - config.keep_last:
            snapshots.append(lora_tensors(model))
            steps.append(step)

    torch.manual_seed(config.seed * 1000 + run)
    model = attach_lora(base, spec)
    train_classifier(
        model,
        styled_train,
        steps=config.steps,
        lr=config.lr,
        batch_size=config.batch_size,
        seed=config.seed * 1000 + run,
        on_step=keep_tail,
    )
    scores = []
    for tensors in snapshots:
        model.load_state_dict({_live_key(k): v for k, v in tensors.items()}, strict=False)
        scores.append(accuracy(model, styled_test))
    return snapshots, steps, scores


def _live_key(name: str) -> str:
    """Zoo name ``m.lora_A.weight`` → live peft key ``base_model.model.m.lora_A.default.weight``."""
    module, factor, leaf = name.rsplit(".", 2)
    return f"base_model.model.{module}.{factor}.default.{leaf}"


def _complete(group: ZooGroup, angle: float, keep_last: int) -> bool:
    return group.indices(angle=angle).size >= keep_last


def build_rotation_lora_zoo(
    path: str | Path,
    config: RotationLoraConfig = RotationLoraConfig(),
    on_run: Callable[[float, float | None], None] | None = None,
) -> Path:
    """Build (or finish building) the rotation zoo at ``path``; returns the path.

    ``on_run(angle, best_accuracy)`` is called after each angle (``None`` when it was skipped).
    """
    path = Path(path)
    entry = backbone_entry(config.backbone)
    spec = LoraSpec(targets=entry.lora_targets, rank=config.rank, alpha=config.alpha)
    with Zoo.open(path, "a") if path.exists() else Zoo.create(path) as zoo:
        base = _base_model(zoo, config)
        schema = ParamSchema.from_state_dict(lora_tensors(attach_lora(base, spec)))
        group = zoo.create_group(
            family="lora",
            backbone=config.backbone,
            task=TASK,
            schema=schema,
            conditions={"angle": ()},
            metrics=["accuracy"],
            family_config=spec.identity,
            backbone_spec={"name": config.backbone, "builder": asdict(config)},
            exist_ok=True,
        )
        for run, angle in enumerate(config.angles):
            if _complete(group, angle, config.keep_last):
                if on_run:
                    on_run(angle, None)
                continue
            snapshots, steps, scores = _train_run(base, spec, angle, run, config)
            group.append(
                torch.stack([schema.flatten(s) for s in snapshots]),
                conditions={"angle": angle},
                metrics={"accuracy": scores},
                run=run,
                step=steps,
                seed=config.seed * 1000 + run,
            )
            if on_run:
                on_run(angle, max(scores))
    return path
