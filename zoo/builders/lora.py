"""Style-LoRA zoo: one LoRA fine-tune per style value, keeping each run's last K checkpoints.

This is the p-diff collection recipe: the checkpoints at the end of a run are samples of "good
weights for this condition". Values fall into alternating bins (``heldout_bin`` wide, centred on
0); odd bins are marked ``heldout`` so a generator can be tested on conditions it never saw.
Rows are stored in canonical form (SVD-balanced factors) with the style value as condition and
accuracy on that style's held-out test digits as metric. A run's rows are appended in one call,
so a killed build loses at most the runs in flight, and a re-run skips finished values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from paramgen.backbones import backbone_entry, build_backbone
from paramgen.data import STYLE_PARAMETERS, Style, apply_style, load_digits16
from paramgen.data.digits import DigitImages
from paramgen.errors import ParamgenError
from paramgen.families import LoraSpec, attach_lora, lora_tensors
from paramgen.families.lora_algebra import canonicalize
from paramgen.families.lora_batched import batched_accuracy, stack_adapters, train_lora_batched
from paramgen.schema import ParamSchema
from paramgen.training import train_classifier
from zoo.store import Zoo

__all__ = ["LoraZooConfig", "TRAINERS", "build_lora_zoo", "styled"]

Snapshots = list[dict[str, torch.Tensor]]


def _default_angles() -> tuple[float, ...]:
    return tuple(float(angle) for angle in range(-90, 91, 5))


@dataclass(frozen=True)
class LoraZooConfig:
    """What to build: the style values, and how each adapter is trained and sampled."""

    backbone: str = "digits-cnn"
    style: str = "rotation"
    values: tuple[float, ...] = field(default_factory=_default_angles)
    heldout_bin: float = 15.0
    rank: int = 4
    alpha: float = 4.0
    steps: int = 300
    keep_last: int = 10
    lr: float = 1e-2
    batch_size: int = 64
    seed: int = 0
    init: Literal["shared", "per-run"] = "per-run"
    method: Literal["batched", "sequential"] = "batched"
    runs_per_batch: int = 16

    def __post_init__(self) -> None:
        if self.style not in STYLE_PARAMETERS:
            raise ParamgenError(
                f"unknown style {self.style!r}; choose one of {list(STYLE_PARAMETERS)}"
            )
        if not self.values or len(set(self.values)) != len(self.values):
            raise ParamgenError(f"style values must be non-empty and distinct, got {self.values}")
        if not 1 <= self.keep_last <= self.steps:
            raise ParamgenError(
                f"keep_last must be in 1..steps ({self.steps}), got {self.keep_last}"
            )
        if self.init not in ("shared", "per-run"):
            raise ParamgenError(f"init must be 'shared' or 'per-run', got {self.init!r}")
        if self.method not in TRAINERS:
            raise ParamgenError(f"method must be one of {list(TRAINERS)}, got {self.method!r}")

    @property
    def task(self) -> str:
        return self.style

    def split_of(self, value: float) -> str:
        """Alternating bins centred on 0: even bins train, odd bins are held out."""
        return "heldout" if math.floor(value / self.heldout_bin + 0.5) % 2 else "train"

    def run_seed(self, run: int) -> int:
        """Seed of a run's initialisation and minibatch order.

        ``shared``: every run starts from the same adapter and sees the same minibatch indices, so
        the trained weights change smoothly with the style value (what a generator interpolates).
        ``per-run``: independent runs.
        """
        return self.seed * 1000 + (0 if self.init == "shared" else run)


def styled(data: DigitImages, style: str, value: float) -> DigitImages:
    return DigitImages(apply_style(data.images, Style.of(**{style: value})), data.labels)


def _train_sequential(
    base: nn.Module,
    spec: LoraSpec,
    datasets: Sequence[DigitImages],
    seeds: Sequence[int],
    config: LoraZooConfig,
) -> list[Snapshots]:
    """One peft model at a time."""
    runs = []
    for data, seed in zip(datasets, seeds, strict=True):
        snapshots: Snapshots = []

        def keep_tail(step: int, model: nn.Module, snapshots: Snapshots = snapshots) -> None:
            if step > config.steps - config.keep_last:
                snapshots.append(lora_tensors(model))

        torch.manual_seed(seed)
        model = attach_lora(base, spec)
        train_classifier(
            model,
            data,
            steps=config.steps,
            lr=config.lr,
            batch_size=config.batch_size,
            seed=seed,
            on_step=keep_tail,
        )
        runs.append(snapshots)
    return runs


def _train_batched(
    base: nn.Module,
    spec: LoraSpec,
    datasets: Sequence[DigitImages],
    seeds: Sequence[int],
    config: LoraZooConfig,
) -> list[Snapshots]:
    """All runs of the batch together through vmap (same seeds and initialisation)."""
    runs: list[Snapshots] = [[] for _ in datasets]

    def keep_tail(step: int, stacked: dict[str, torch.Tensor]) -> None:
        if step > config.steps - config.keep_last:
            for run, snapshots in enumerate(runs):
                snapshots.append(
                    {name: value[run].detach().clone() for name, value in stacked.items()}
                )

    train_lora_batched(
        base,
        spec,
        datasets,
        seeds,
        steps=config.steps,
        lr=config.lr,
        batch_size=config.batch_size,
        on_step=keep_tail,
    )
    return runs


TRAINERS: dict[str, Callable[..., list[Snapshots]]] = {
    "batched": _train_batched,
    "sequential": _train_sequential,
}


def base_model(zoo: Zoo, backbone: str, seed: int) -> nn.Module:
    """Frozen base weights: read from the zoo if stored, else trained from the seed and stored."""
    if backbone in zoo.backbones():
        model = build_backbone(backbone)
        model.load_state_dict(zoo.backbone_weights(backbone))
        return model.eval()
    model = build_backbone(backbone, seed=seed, pretrained=True)
    zoo.store_backbone(backbone, model.state_dict(), {"name": backbone, "seed": seed})
    return model


def build_lora_zoo(
    path: str | Path,
    config: LoraZooConfig = LoraZooConfig(),
    on_run: Callable[[float, float | None], None] | None = None,
) -> Path:
    """Build (or finish building) the style zoo at ``path``; returns the path.

    ``on_run(value, best_accuracy)`` is called once per style value (``None``: already built).
    """
    path = Path(path)
    spec = LoraSpec(
        targets=backbone_entry(config.backbone).lora_targets, rank=config.rank, alpha=config.alpha
    )
    train, test = load_digits16("train"), load_digits16("test")
    with Zoo.open(path, "a") if path.exists() else Zoo.create(path) as zoo:
        base = base_model(zoo, config.backbone, config.seed)
        schema = ParamSchema.from_state_dict(lora_tensors(attach_lora(base, spec)))
        group = zoo.create_group(
            family="lora",
            backbone=config.backbone,
            task=config.task,
            schema=schema,
            conditions={config.style: ()},
            metrics=["accuracy"],
            family_config=spec.identity,
            backbone_spec={"name": config.backbone, "builder": asdict(config)},
            exist_ok=True,
        )
        pending = []
        for run, value in enumerate(config.values):
            if group.indices(**{config.style: value}).size >= config.keep_last:
                if on_run:
                    on_run(value, None)
            else:
                pending.append((run, value))
        trainer = TRAINERS[config.method]
        for start in range(0, len(pending), config.runs_per_batch):
            batch = pending[start : start + config.runs_per_batch]
            datasets = [styled(train, config.style, value) for _, value in batch]
            seeds = [config.run_seed(run) for run, _ in batch]
            for (run, value), snapshots in zip(
                batch, trainer(base, spec, datasets, seeds, config), strict=True
            ):
                canonical = [canonicalize(s, spec) for s in snapshots]
                scores = batched_accuracy(
                    base, spec, stack_adapters(canonical), styled(test, config.style, value)
                )
                group.append(
                    torch.stack([schema.flatten(c) for c in canonical]),
                    conditions={config.style: value},
                    metrics={"accuracy": scores},
                    run=run,
                    step=list(range(config.steps - config.keep_last + 1, config.steps + 1)),
                    seed=config.run_seed(run),
                    split=config.split_of(value),
                )
                if on_run:
                    on_run(value, float(scores.max()))
    return path
