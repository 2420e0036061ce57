"""The one supervised training loop (base pretraining and adapter fine-tuning) and its metric."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.data.digits import DigitImages

__all__ = ["train_classifier", "accuracy"]


def train_classifier(
    model: nn.Module,
    data: DigitImages,
    *,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
    on_step: Callable[[int, nn.Module], None] | None = None,
) -> None:
    """Adam on the parameters that require grad; ``on_step(step, model)`` after each update.

    Minibatches come from a generator seeded with ``seed``, so a run is reproducible.
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(trainable, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(1, steps + 1):
        batch = torch.randint(len(data), (batch_size,), generator=generator)
        loss = F.cross_entropy(model(data.images[batch]), data.labels[batch])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if on_step is not None:
            on_step(step, model)
    model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, data: DigitImages) -> float:
    """Top-1 accuracy of ``model`` on ``data``."""
    model.eval()
    return (model(data.images).argmax(dim=1) == data.labels).float().mean().item()
