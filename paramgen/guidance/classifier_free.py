"""Classifier-free guidance: a conditional model pushed away from its unconditional self."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import Tensor

__all__ = ["ClassifierFreeGuidance"]


class ClassifierFreeGuidance:
    """Classifier-free guidance (Ho & Salimans 2022): u + scale·(c − u).

    c = model(x, t, **extras) is the conditional prediction, u = model(x, t, **extras updated with
    ``unconditional``) the prediction with the condition dropped (e.g. the learnt null embedding).
    Both run in one batched call of 2N rows; ``scale`` = 1 is the plain conditional model, one call.
    Every extra that ``unconditional`` replaces must be a tensor with N rows.
    """

    def __init__(
        self, model: Callable[..., Tensor], scale: float, unconditional: Mapping[str, Tensor]
    ) -> None:
        self.model = model
        self.scale = float(scale)
        self.unconditional = dict(unconditional)

    def __call__(self, x: Tensor, t: Tensor, **extras: Any) -> Tensor:
        if self.scale == 1.0:
            return self.model(x, t, **extras)
        both = {
            name: torch.cat([value, self.unconditional[name]])
            if name in self.unconditional
            else value
            for name, value in extras.items()
        }
        conditional, unconditional = self.model(torch.cat([x, x]), torch.cat([t, t]), **both).chunk(
            2
        )
        return unconditional + self.scale * (conditional - unconditional)
