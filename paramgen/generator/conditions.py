"""Condition encoders: what the generator is asked for → an embedding vector per sample.

- ``scalar``: named scalar or vector conditions (e.g. ``rotation``), each value min-max scaled by
  the training range, expanded into sinusoidal features and passed through an MLP.
- ``style-images``: a few example images of the target style (Cond P-Diff conditions on style
  images): 2 conv layers + average pool + linear per image, averaged over the examples. Training
  draws each row's examples from a pool of built-in training digits rendered once per training
  style value (rendering per step would cost more than the network).
- ``NoConditionEncoder``: for groups without conditions (p-diff: checkpoints of one model); the
  generator uses it whatever the config names, since there is nothing to encode.

Inputs are validated: an unknown condition name or a wrong shape is a clear error. Each encoder's
``outside_range`` lists the values outside its training range (only scalars have one); the
generator reports them (``paramgen.generator.condition_checks``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

import torch
from torch import nn

from paramgen.data import Style, apply_style, load_digits16
from paramgen.embeddings import sinusoidal_features
from paramgen.errors import ParamgenError, check_names
from paramgen.generator.condition_checks import RANGE_TOLERANCE, OutOfRange

__all__ = [
    "CONDITION_ENCODERS",
    "ImageConditionEncoder",
    "NoConditionEncoder",
    "ScalarConditionEncoder",
]

Conditions = Mapping[str, torch.Tensor]


def _repeat_single(value: object, sample_ndim: int, n: int) -> torch.Tensor:
    """``value`` as a batch: one sample (``sample_ndim`` dims) is repeated n times."""
    tensor = torch.as_tensor(value, dtype=torch.float32)
    return tensor.expand(n, *tensor.shape) if tensor.ndim == sample_ndim else tensor


class ScalarConditionEncoder(nn.Module):
    """{name: [N, *shape]} → [N, out_dim]; the names and shapes are fixed at construction."""

    def __init__(
        self, shapes: Mapping[str, tuple[int, ...]], out_dim: int = 128, features: int = 32
    ) -> None:
        super().__init__()
        self.shapes = {name: tuple(shape) for name, shape in sorted(shapes.items())}
        width = sum(max(1, int(torch.tensor(shape).prod())) for shape in self.shapes.values())
        # one label per flat column, for messages: "rotation", "rgb[0]", "rgb[1]", …
        self.labels = [
            name if not shape else f"{name}[{', '.join(map(str, index))}]"
            for name, shape in self.shapes.items()
            for index in itertools.product(*(range(size) for size in shape))
        ]
        self.features = features
        self.register_buffer("low", torch.zeros(width))
        self.register_buffer("high", torch.ones(width))
        self.mlp = nn.Sequential(
            nn.Linear(width * features, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim)
        )

    def _flat(self, conditions: Conditions) -> torch.Tensor:
        check_names(conditions, self.shapes, "this generator is conditioned on")
        columns = []
        for name, shape in self.shapes.items():
            value = torch.as_tensor(conditions[name], dtype=torch.float32)
            if tuple(value.shape[1:]) != shape:
                raise ParamgenError(
                    f"condition {name!r} has shape {tuple(value.shape[1:])} per sample, "
                    f"expected {shape}"
                )
            columns.append(value.reshape(len(value), -1))
        return torch.cat(columns, dim=1)

    @torch.no_grad()
    def fit(self, conditions: Conditions) -> None:
        """Remember the training range of every condition value (for scaling to [0, 1])."""
        flat = self._flat(conditions)
        self.low.copy_(flat.min(dim=0).values)
        self.high.copy_(flat.max(dim=0).values)  # the true range: messages quote it

    def training_inputs(self, conditions: Conditions, generator: torch.Generator) -> Conditions:
        return conditions

    def batch(self, conditions: Mapping, n: int) -> Conditions:
        """One value per condition (repeated n times) or n values, as batched tensors."""
        return {
            name: _repeat_single(value, len(self.shapes.get(name, ())), n)
            for name, value in conditions.items()
        }

    @torch.no_grad()
    def outside_range(self, conditions: Conditions) -> list[OutOfRange]:
        """Every condition element with values outside the range ``fit`` saw, per element."""
        flat = self._flat(conditions)  # [N, width]
        slack = RANGE_TOLERANCE * (self.high - self.low)
        outside = (flat < self.low - slack) | (flat > self.high + slack)
        middle = (self.low + self.high) / 2
        found = []
        for column in outside.any(dim=0).nonzero().flatten().tolist():
            values = flat[outside[:, column], column].unique()
            farthest = values[(values - middle[column]).abs().argmax()]
            low, high = self.low[column].item(), self.high[column].item()
            found.append(OutOfRange(self.labels[column], farthest.item(), low, high, len(values)))
        return found

    def forward(self, conditions: Conditions) -> torch.Tensor:
        span = (self.high - self.low).clamp_min(1e-6)  # one training value: span 0
        scaled = (self._flat(conditions) - self.low) / span  # [N, width]
        features = sinusoidal_features(scaled.reshape(-1), self.features, scale=8.0)
        return self.mlp(features.reshape(len(scaled), -1))


class ImageConditionEncoder(nn.Module):
    """{"images": [N, K, 1, H, W]} → [N, out_dim]; trained on digits rendered in each style."""

    POOL = 256

    def __init__(
        self, shapes: Mapping[str, tuple[int, ...]], out_dim: int = 128, examples: int = 16
    ) -> None:
        super().__init__()
        if len(shapes) != 1 or next(iter(shapes.values())) != ():
            raise ParamgenError(
                "style-images conditioning needs exactly one scalar style condition, "
                f"got {dict(shapes)}"
            )
        (self.style,) = shapes
        self.examples = examples
        # Set by fit, not saved: the training style values and their rendered example pools.
        self.values: torch.Tensor | None = None
        self.pool: torch.Tensor | None = None
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1),  # stride 2 in both: a training step
            nn.ReLU(),  # encodes 64 rows x 16 examples; 5x cheaper than a full-size first layer
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.linear = nn.Linear(32, out_dim)

    @torch.no_grad()
    def fit(self, conditions: Conditions) -> None:
        """Render the example pool: ``POOL`` training digits in each distinct training style."""
        self.values = torch.unique(torch.as_tensor(conditions[self.style], dtype=torch.float32))
        digits = load_digits16("train").images
        picks = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))[: self.POOL]
        self.pool = torch.stack(
            [apply_style(digits[picks], Style.of(**{self.style: float(v)})) for v in self.values]
        )  # [V, POOL, 1, H, W]

    def training_inputs(self, conditions: Conditions, generator: torch.Generator) -> Conditions:
        """K random pool images per row, in that row's style."""
        if self.pool is None:
            raise ParamgenError("fit the style-images encoder on the training conditions first")
        wanted = torch.as_tensor(conditions[self.style], dtype=torch.float32).reshape(-1)
        index = (wanted[:, None] - self.values[None]).abs().argmin(dim=1)
        picks = torch.randint(self.POOL, (len(wanted), self.examples), generator=generator)
        return {"images": self.pool[index[:, None], picks]}

    def batch(self, conditions: Mapping, n: int) -> Conditions:
        """One example set [K, 1, H, W] (repeated n times) or n of them [n, K, 1, H, W]."""
        return {name: _repeat_single(value, 4, n) for name, value in conditions.items()}

    def outside_range(self, conditions: Conditions) -> list[OutOfRange]:
        """Example images have no training range to leave."""
        return []

    def forward(self, conditions: Conditions) -> torch.Tensor:
        if set(conditions) != {"images"}:
            raise ParamgenError(
                "this generator is conditioned on example images: pass "
                "{'images': [K, 1, 16, 16]}, "
                f"got {sorted(conditions)}"
            )
        images = torch.as_tensor(conditions["images"], dtype=torch.float32)
        if images.ndim != 5 or images.shape[2] != 1:
            raise ParamgenError(f"images must be [N, K, 1, H, W], got {tuple(images.shape)}")
        n, k = images.shape[:2]
        per_image = self.conv(images.flatten(0, 1)).mean(dim=(2, 3))  # [N*K, 32]
        return self.linear(per_image).view(n, k, -1).mean(dim=1)


class NoConditionEncoder(nn.Module):
    """{} → one zero embedding [1, out_dim] for the whole batch: an unconditional generator.

    The denoiser's condition projection has a bias, so a constant zero input loses nothing.
    """

    def __init__(
        self, shapes: Mapping[str, tuple[int, ...]], out_dim: int = 128, examples: int = 16
    ) -> None:
        super().__init__()
        if shapes:
            raise ParamgenError(
                f"NoConditionEncoder is for training sets without conditions, got {sorted(shapes)}"
            )
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.register_buffer("embedding", torch.zeros(1, out_dim), persistent=False)

    def fit(self, conditions: Conditions) -> None:
        """Nothing to learn from: there are no condition values."""

    def training_inputs(self, conditions: Conditions, generator: torch.Generator) -> Conditions:
        return conditions

    def batch(self, conditions: Mapping, n: int) -> Conditions:
        if conditions:
            raise ParamgenError(
                f"this generator is unconditional; pass no conditions, got {sorted(conditions)}"
            )
        return {}

    def outside_range(self, conditions: Conditions) -> list[OutOfRange]:
        return []

    def forward(self, conditions: Conditions) -> torch.Tensor:
        return self.embedding  # [1, out_dim]: the generator expands it to the batch


# name → factory(shapes, out_dim, examples): one signature, so callers need no per-kind branches.
CONDITION_ENCODERS: dict[str, Callable[[Mapping[str, tuple[int, ...]], int, int], nn.Module]] = {
    "scalar": lambda shapes, out_dim, examples: ScalarConditionEncoder(shapes, out_dim),
    "style-images": lambda shapes, out_dim, examples: ImageConditionEncoder(
        shapes, out_dim, examples
    ),
}
