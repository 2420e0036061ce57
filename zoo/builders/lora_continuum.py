"""Style continuum: adapters at λ = 0, 1/n, …, (n−1)/n between two adapters A and B.

Each row is the exact interpolation ΔW(λ) = (1−λ)·ΔW_A + λ·ΔW_B, stored in canonical form at rank
r_A + r_B (a sum of two rank-r matrices can need rank 2r, so this is exact, not an SVD truncation),
with condition ``lambda``. It is scored on the test digits rendered at the interpolated style value
(1−λ)·a + λ·b. λ falls in ten bands; odd bands ([0.1, 0.2), [0.3, 0.4), …) are the training split
and even bands are held out — the Cond P-Diff generalisation study. Rows are appended in chunks
in λ order, so a re-run continues where a killed one stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from paramgen.data import load_digits16
from paramgen.errors import ParamgenError
from paramgen.families import get_family
from paramgen.families.lora import LoraFamily
from paramgen.families.lora.algebra import interpolate
from paramgen.families.lora.batched import batched_accuracy, stack_adapters
from paramgen.schema import ParamSchema
from paramgen.tasks.digits import StyledDigitsClassification, styled
from zoo.bases import base_model
from zoo.builders.driver import last_checkpoint
from zoo.store import Zoo

__all__ = ["ContinuumConfig", "build_lora_continuum"]

_CHUNK = 50


@dataclass(frozen=True)
class ContinuumConfig:
    """Endpoints: the last checkpoint at style values ``value_a`` / ``value_b`` of ``source``."""

    source: str = field(default="lora/digits-cnn/rotation", metadata={"help": "Source LoRA group."})
    value_a: float = field(default=-30.0, metadata={"help": "Style value of endpoint A (λ = 0)."})
    value_b: float = field(default=30.0, metadata={"help": "Style value of endpoint B (λ = 1)."})
    count: int = field(default=1000, metadata={"help": "Number of adapters (λ = k/count)."})
    task: str = field(
        default="rotation-continuum", metadata={"help": "Task name of the new group."}
    )

    def __post_init__(self) -> None:
        if self.count < 10:
            raise ParamgenError(f"count must be >= 10 (ten λ bands), got {self.count}")

    def split_of(self, k: int) -> str:
        """Band ⌊10λ⌋ of λ = k/count: odd bands train, even bands are held out."""
        return "train" if (10 * k // self.count) % 2 else "heldout"


def build_lora_continuum(
    path: str | Path,
    config: ContinuumConfig = ContinuumConfig(),
    on_chunk: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the continuum group into the zoo at ``path``; ``on_chunk(done, total)`` reports."""
    path = Path(path)
    with Zoo.open(path, "a") as zoo:
        source = zoo.group(config.source)
        if source.family != LoraFamily.name or len(source.condition_shapes) != 1:
            raise ParamgenError(f"group {config.source!r} is not a one-style LoRA group")
        (style,) = source.condition_shapes
        spec = get_family(source.family).config_from_dict(source.family_config)
        StyledDigitsClassification(style, source.backbone)  # a built-in style and backbone
        a = last_checkpoint(source, style, config.value_a)
        b = last_checkpoint(source, style, config.value_b)
        base = base_model(zoo, source.backbone)
        middle, out_spec = interpolate([a, b], [0.5, 0.5], spec)
        schema = ParamSchema.from_state_dict(middle)
        group = zoo.create_group(
            family=LoraFamily.name,
            backbone=source.backbone,
            task=config.task,
            schema=schema,
            conditions={"lambda": ()},
            metrics=["accuracy"],
            family_config=out_spec.identity,
            backbone_spec={"name": source.backbone, "continuum": asdict(config)},
            exist_ok=True,
        )
        test = load_digits16("test")
        for start in range(len(group), config.count, _CHUNK):
            ks = range(start, min(start + _CHUNK, config.count))
            lambdas = [k / config.count for k in ks]
            adapters = [interpolate([a, b], [1 - lam, lam], spec)[0] for lam in lambdas]
            tests = [
                styled(test, style, (1 - lam) * config.value_a + lam * config.value_b)
                for lam in lambdas
            ]
            scores = batched_accuracy(base, out_spec, stack_adapters(adapters), tests)
            group.append(
                torch.stack([schema.flatten(adapter) for adapter in adapters]),
                conditions={"lambda": lambdas},
                metrics={"accuracy": scores},
                step=list(ks),
                split=[config.split_of(k) for k in ks],
            )
            if on_chunk:
                on_chunk(ks.stop, config.count)
    return path
