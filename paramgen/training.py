"""The one supervised training loop (base pretraining and adapter fine-tuning) and its metric."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.data.digits import DigitImages

__all__ = ["train_classifier", "train_denoiser", "accuracy"]

SIGMA_MIN, SIGMA_MAX = 0.01, 1.0


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


def train_denoiser(
    model: nn.Module,
    data: DigitImages,
    *,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
) -> None:
    """Train ``model(x + σε, u) ≈ ε``, σ log-uniform in [0.01, 1], u its position in [0, 1].

    The denoiser sees images centred to [−1, 1]; u = (log σ − log σ_min)/(log σ_max − log σ_min).
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    log_range = torch.tensor([SIGMA_MIN, SIGMA_MAX]).log()
    model.train()
    for _ in range(steps):
        batch = torch.randint(len(data), (batch_size,), generator=generator)
        clean = data.images[batch] * 2 - 1
        u = torch.rand(batch_size, generator=generator)
        sigma = torch.exp(log_range[0] + u * (log_range[1] - log_range[0]))
        noise = torch.randn(clean.shape, generator=generator)
        loss = F.mse_loss(model(clean + sigma[:, None, None, None] * noise, u), noise)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, data: DigitImages) -> float:
    """Top-1 accuracy of ``model`` on ``data``."""
    model.eval()
    return (model(data.images).argmax(dim=1) == data.labels).float().mean().item()
