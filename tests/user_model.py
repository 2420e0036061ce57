"""A user's own model and task, outside paramgen: an MLP whose decision boundary turns with a
condition.

This module is what a user writes to bring their own model (see the README's "Bring your own
model"): a plain ``nn.Module`` and a :class:`paramgen.tasks.ClassificationTask` that builds it and
gives labelled examples of a condition value. The command line names it by its import string,
``tests.user_model:TASK``. It is not a test file: pytest does not collect it, the CLI imports it.

The data: points x ~ N(0, I) in 8 dimensions, labelled by the quadrant of (x0, x1) after turning
that plane by ``-angle`` degrees, so the four class boundaries turn by ``angle``. The base is
trained at angle 0 and gets about 1 - |angle|/90 right at small angles (half at ±45°), so a LoRA
adapter has real work to do; turning the input plane is a rank-2 change of ``fc1``, so a small
adapter can do it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.tasks import ClassificationTask, Labelled

__all__ = ["TASK", "QuadrantMLP", "TurnedQuadrants", "turned_quadrants"]

FEATURES, CLASSES = 8, 4
SIZES = {"train": 2048, "test": 1024}


class QuadrantMLP(nn.Module):
    """8 → hidden → hidden → 4: a small classifier of 8-dimensional points."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.fc1 = nn.Linear(FEATURES, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x [N, 8] → logits [N, 4]
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


@lru_cache(maxsize=128)
def turned_quadrants(angle: float, split: str) -> Labelled:
    """The fixed ``split`` points, labelled by the quadrant of (x0, x1) turned by ``-angle``°."""
    generator = torch.Generator().manual_seed(0 if split == "train" else 1)
    points = torch.randn(SIZES[split], FEATURES, generator=generator)
    turned = torch.atan2(points[:, 1], points[:, 0]) - math.radians(angle)
    labels = torch.floor(turned / (math.pi / 2)).long() % CLASSES
    return Labelled(points, labels)


@dataclass(frozen=True)
class TurnedQuadrants(ClassificationTask):
    """Classify points whose quadrant boundaries are turned by ``angle``; the base is trained at
    angle 0 (``pretrain_steps`` full-batch Adam steps from ``seed``: deterministic)."""

    hidden: int = 32
    pretrain_steps: int = 200

    name: ClassVar[str] = "quadrants"
    condition: ClassVar[str] = "angle"
    backbone_name: ClassVar[str] = "quadrant-mlp"

    def build_backbone(self, seed: int, pretrained: bool = True) -> nn.Module:
        torch.manual_seed(seed)
        model = QuadrantMLP(self.hidden)
        if pretrained:
            upright = turned_quadrants(0.0, "train")
            optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
            with torch.enable_grad():  # trains even when called under torch.no_grad()
                for _ in range(self.pretrain_steps):
                    loss = F.cross_entropy(model(upright.inputs), upright.labels)
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
        return model.eval()

    def examples(self, value: float | None, split: Literal["train", "test"]) -> Labelled:
        return turned_quadrants(float(value), split)


TASK = TurnedQuadrants()
