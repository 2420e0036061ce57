"""Score generated LoRA adapters against the baselines a sceptical reader asks for.

For each condition value (e.g. a rotation angle), next to n generated adapters:
(a) the trained adapters at that value (ground truth, from the zoo — train or held-out split),
(b) the trained adapters of the nearest *training* value,
(c) training adapters plus Gaussian noise scaled so their distance to the zoo matches the
    generated adapters' (in the generator's normalised space),
(d) the exact ΔW interpolation of the two neighbouring training values' adapters,
(e) the backbone without any adapter.
Every generated adapter's distance to its nearest training row is reported too: a generator that
only copies its zoo has distance ≈ 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from paramgen.backbones import build_backbone
from paramgen.data import load_digits16
from paramgen.families.lora import LoraSpec
from paramgen.families.lora.algebra import interpolate
from paramgen.families.lora.batched import batched_accuracy, stack_adapters
from paramgen.generator import ParamGenerator
from paramgen.tasks.digits import styled
from paramgen.training import accuracy
from zoo.group import ZooGroup
from zoo.store import Zoo

__all__ = ["ConditionScores", "evaluate_lora_generator", "lora_spec_of"]


@dataclass
class ConditionScores:
    """Median accuracies at one condition value (each list holds per-adapter accuracies)."""

    value: float
    split: str
    generated: list[float]
    nearest_distance: list[float]
    trained: list[float]
    nearest_condition_value: float
    nearest_condition: list[float]
    noise_added: list[float]
    interpolated: float
    no_adapter: float

    def as_dict(self) -> dict:
        return asdict(self)


def lora_spec_of(group: ZooGroup) -> LoraSpec:
    identity = group.family_config
    return LoraSpec(tuple(identity["target_modules"]), identity["r"], identity["lora_alpha"])


def _neighbours(value: float, train_values: np.ndarray) -> tuple[float, float]:
    below, above = train_values[train_values <= value], train_values[train_values >= value]
    low = below.max() if below.size else above.min()
    high = above.min() if above.size else below.max()
    return float(low), float(high)


def evaluate_lora_generator(
    generator: ParamGenerator,
    zoo: Zoo,
    group_name: str,
    values: Sequence[float],
    n: int = 20,
    seed: int = 0,
    condition_of: Callable[[float], Mapping] | None = None,
    **sampling,
) -> list[ConditionScores]:
    """Generate ``n`` adapters per value and score them with the baselines above.

    ``condition_of(value)`` is what the generator is asked for at each value: by default the
    style value itself, e.g. ``{"rotation": 30.0}``; example images for an image-conditioned one.
    """
    group = zoo.group(group_name)
    (style,) = group.condition_shapes
    spec = lora_spec_of(group)
    base = build_backbone(group.backbone)
    base.load_state_dict(zoo.backbone_weights(group.backbone))
    rows = group.read()
    conditions = rows.conditions[style].numpy()
    train = np.array([split == "train" for split in rows.split])
    train_values = np.unique(conditions[train])
    train_normalised = generator.normalizer.normalize(rows.params[train])
    test = load_digits16("test")
    rng = torch.Generator().manual_seed(seed)
    results = []
    for value in values:
        styled_test = styled(test, style, value)

        def score(
            parameter_rows: torch.Tensor, spec: LoraSpec = spec, data=styled_test
        ) -> list[float]:
            adapters = [group.schema.unflatten(row) for row in parameter_rows]
            return batched_accuracy(base, spec, stack_adapters(adapters), data).tolist()

        condition = condition_of(value) if condition_of else {style: float(value)}
        # The same sampling seed at every value, as `paramgen generate --seed` uses: eval then
        # scores exactly the adapters that generate writes.
        generated = generator.sample_rows(condition, n, seed=seed, **sampling)
        distance = (
            torch.cdist(generator.normalizer.normalize(generated), train_normalised)
            .min(dim=1)
            .values
        )
        at_value = np.flatnonzero(np.isclose(conditions, value))
        nearest = float(train_values[np.abs(train_values - value).argmin()])
        nearest_rows = np.flatnonzero(np.isclose(conditions, nearest) & train)
        # (c): Gaussian noise of the size that puts a row at the generated adapters' distance.
        sigma = float(distance.median()) / np.sqrt(group.schema.dim)
        clean = generator.normalizer.normalize(rows.params[nearest_rows])
        noisy = generator.normalizer.denormalize(
            clean + sigma * torch.randn(clean.shape, generator=rng)
        )
        low, high = _neighbours(value, train_values)
        lam = 0.0 if high == low else (value - low) / (high - low)
        last = {v: np.flatnonzero(np.isclose(conditions, v) & train)[-1] for v in (low, high)}
        mixed, mixed_spec = interpolate(
            [
                group.schema.unflatten(rows.params[last[low]]),
                group.schema.unflatten(rows.params[last[high]]),
            ],
            [1 - lam, lam],
            spec,
        )
        results.append(
            ConditionScores(
                value=float(value),
                split=rows.split[at_value[0]] if at_value.size else "unseen",
                generated=score(generated),
                nearest_distance=distance.tolist(),
                trained=[float(a) for a in rows.metrics["accuracy"][at_value]],
                nearest_condition_value=nearest,
                nearest_condition=[float(a) for a in rows.metrics["accuracy"][nearest_rows]]
                if nearest == value
                else score(rows.params[nearest_rows]),
                noise_added=score(noisy),
                interpolated=batched_accuracy(
                    base, mixed_spec, stack_adapters([mixed]), styled_test
                ).item(),
                no_adapter=accuracy(base, styled_test),
            )
        )
    return results
