"""Style-LoRA zoo: one LoRA fine-tune per style value, keeping each run's last K checkpoints.

This is the p-diff collection recipe: the checkpoints at the end of a run are samples of "good
weights for this condition". Values fall into alternating bins (``heldout_bin`` wide, centred on
0); odd bins are marked ``heldout`` so a generator can be tested on conditions it never saw.

Runs are a warm-start chain by default (``init="chain"``): the training value nearest 0 starts
from peft's initialisation, every other training value starts from the final adapter of its
neighbour towards 0, and every held-out value starts from its nearest training value. The weights
then change smoothly with the style value — factor-space interpolation between neighbouring
training adapters works as well as the adapters trained in between (with independent runs, or
SVD-canonical factors, it does not) — which is what lets a generator interpolate. Held-out runs
depend on training runs, never the reverse. ``init="per-run"`` trains independent runs instead.

Rows hold the factors as trained (``canonical=False``) or in canonical SVD-balanced form, with the
style value as condition and accuracy on that style's held-out test digits as metric. A run's
rows are appended in one call, so a killed build loses at most the runs in flight, and a re-run
skips finished values (a warm start reads its parent's last checkpoint from the zoo).
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
from paramgen.families import LoraSpec, apply_lora, attach_lora, lora_tensors
from paramgen.families.lora_algebra import canonicalize
from paramgen.families.lora_batched import batched_accuracy, stack_adapters, train_lora_batched
from paramgen.schema import ParamSchema
from paramgen.training import train_classifier
from zoo.group import ZooGroup
from zoo.store import Zoo

__all__ = ["LoraZooConfig", "TRAINERS", "build_lora_zoo", "last_checkpoint", "styled"]

Adapter = dict[str, torch.Tensor]
Snapshots = list[Adapter]


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
    init: Literal["chain", "per-run"] = "chain"
    canonical: bool = False
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
        if self.init not in ("chain", "per-run"):
            raise ParamgenError(f"init must be 'chain' or 'per-run', got {self.init!r}")
        if self.method not in TRAINERS:
            raise ParamgenError(f"method must be one of {list(TRAINERS)}, got {self.method!r}")

    @property
    def task(self) -> str:
        return self.style

    def split_of(self, value: float) -> str:
        """Alternating bins centred on 0: even bins train, odd bins are held out."""
        return "heldout" if math.floor(value / self.heldout_bin + 0.5) % 2 else "train"

    def run_seed(self, run: int) -> int:
        """Seed of a run's initialisation (where it has no warm start) and minibatch order."""
        return self.seed * 1000 + run

    def warm_starts(self) -> dict[float, float | None]:
        """Each value's parent: the value whose final adapter it starts from (None: a fresh start).

        ``chain``: the training value nearest 0 starts fresh; another training value starts from
        its training neighbour towards 0; a held-out value from its nearest training value (ties
        go towards 0). ``per-run``: every run starts fresh.
        """
        train = [v for v in self.values if self.split_of(v) == "train"]
        if self.init == "per-run" or not train:
            return dict.fromkeys(self.values)
        anchor = min(train, key=abs)
        parents: dict[float, float | None] = {}
        for value in self.values:
            if value == anchor:
                parents[value] = None
            elif self.split_of(value) == "train":
                low, high = sorted((anchor, value))
                inward = [v for v in train if low <= v <= high and v != value]
                parents[value] = min(inward, key=lambda v: abs(v - value))
            else:
                parents[value] = min(train, key=lambda v: (abs(v - value), abs(v)))
        return parents


def styled(data: DigitImages, style: str, value: float) -> DigitImages:
    return DigitImages(apply_style(data.images, Style.of(**{style: value})), data.labels)


def _train_sequential(
    base: nn.Module,
    spec: LoraSpec,
    datasets: Sequence[DigitImages],
    seeds: Sequence[int],
    starts: Sequence[Adapter | None],
    config: LoraZooConfig,
) -> list[Snapshots]:
    """One peft model at a time."""
    runs = []
    for data, seed, start in zip(datasets, seeds, starts, strict=True):
        snapshots: Snapshots = []

        def keep_tail(step: int, model: nn.Module, snapshots: Snapshots = snapshots) -> None:
            if step > config.steps - config.keep_last:
                snapshots.append(lora_tensors(model))

        torch.manual_seed(seed)
        model = attach_lora(base, spec) if start is None else apply_lora(base, spec, start)
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
    starts: Sequence[Adapter | None],
    config: LoraZooConfig,
) -> list[Snapshots]:
    """All runs of the batch together through vmap (same seeds and starts)."""
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
        initial=starts,
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


def _depth(value: float, parents: dict[float, float | None]) -> int:
    parent = parents[value]
    return 0 if parent is None else 1 + _depth(parent, parents)


def last_checkpoint(group: ZooGroup, style: str, value: float) -> Adapter:
    """The adapter of the last step stored at ``style=value``."""
    rows = group.indices(**{style: value})
    if rows.size == 0:
        raise ParamgenError(
            f"group {group.name!r} has no adapter at {style}={value}; build it first or choose "
            "another value"
        )
    return group.tensors(int(rows[group.read(rows).step.argmax()]))


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
        parents = config.warm_starts()
        depth = {value: _depth(value, parents) for value in config.values}
        pending = []
        for run, value in enumerate(config.values):
            if group.indices(**{config.style: value}).size >= config.keep_last:
                if on_run:
                    on_run(value, None)
            else:
                pending.append((run, value))
        pending.sort(key=lambda item: depth[item[1]])  # parents train before their children
        trainer = TRAINERS[config.method]
        while pending:
            level = depth[pending[0][1]]
            batch = [item for item in pending if depth[item[1]] == level][: config.runs_per_batch]
            pending = [item for item in pending if item not in batch]
            datasets = [styled(train, config.style, value) for _, value in batch]
            seeds = [config.run_seed(run) for run, _ in batch]
            starts = [
                None
                if parents[value] is None
                else last_checkpoint(group, config.style, parents[value])
                for _, value in batch
            ]
            for (run, value), snapshots in zip(
                batch, trainer(base, spec, datasets, seeds, starts, config), strict=True
            ):
                if config.canonical:
                    snapshots = [canonicalize(s, spec) for s in snapshots]
                scores = batched_accuracy(
                    base, spec, stack_adapters(snapshots), styled(test, config.style, value)
                )
                group.append(
                    torch.stack([schema.flatten(s) for s in snapshots]),
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
