"""The supervised training loops (base pretraining, adapter fine-tuning) and their metric.

Minibatches and noise come from a generator seeded with ``seed``, so every run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.data.digits import DigitImages
from paramgen.errors import ParamgenError
from paramgen.paths import Path, make_path

__all__ = [
    "classification_loss",
    "denoising_loss",
    "optimise",
    "train_classifier",
    "train_denoiser",
    "train_flow_matching",
    "train_on_path",
    "accuracy",
    "SIGMA_MIN",
    "SIGMA_MAX",
]

SIGMA_MIN, SIGMA_MAX = 0.01, 1.0


def optimise(
    model: nn.Module,
    loss_of_step: Callable[[torch.Generator], torch.Tensor],
    *,
    steps: int,
    lr: float,
    seed: int,
    on_step: Callable[[int, nn.Module], None] | None = None,
) -> None:
    """Adam on the parameters that require grad; ``on_step(step, model)`` after each update.

    A model that offers ``parameter_groups(lr)`` (a DPI) gets those groups (λ's own rate).
    """
    if hasattr(model, "parameter_groups"):
        optimiser = torch.optim.Adam(model.parameter_groups(lr))
    else:
        optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for step in range(1, steps + 1):
        loss = loss_of_step(generator)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if on_step is not None:
            on_step(step, model)
    model.eval()


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
    """Cross-entropy on random minibatches of ``data``."""

    def loss(generator: torch.Generator) -> torch.Tensor:
        return classification_loss(model, data.images, data.labels, batch_size, generator)

    optimise(model, loss, steps=steps, lr=lr, seed=seed, on_step=on_step)


def classification_loss(
    model: nn.Module,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Cross-entropy of ``model`` on ``batch_size`` random examples (indices from ``generator``)."""
    batch = torch.randint(len(labels), (batch_size,), generator=generator)
    return F.cross_entropy(model(inputs[batch]), labels[batch])


def _centred_batch_and_level(
    data: DigitImages, batch_size: int, per: Literal["sample", "batch"], generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A random minibatch centred to [−1, 1] and [batch_size] uniform levels in [0, 1): one per
    sample, or (``per="batch"``) one shared by the whole minibatch."""
    batch = torch.randint(len(data), (batch_size,), generator=generator)
    level = torch.rand(batch_size if per == "sample" else 1, generator=generator)
    return data.images[batch] * 2 - 1, level.expand(batch_size)


def train_denoiser(
    model: nn.Module,
    data: DigitImages,
    *,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
    sigma_per: Literal["sample", "batch"] = "sample",
    on_step: Callable[[int, nn.Module], None] | None = None,
) -> None:
    """Train ``model(x + σε, u) ≈ ε``, σ log-uniform in [0.01, 1], u its position in [0, 1].

    Images are centred to [−1, 1]; u = (log σ − log σ_min)/(log σ_max − log σ_min). With
    ``sigma_per="batch"`` every minibatch shares one σ (what DPI needs; use it for every model of
    a comparison so they all see the same data). ``on_step(step, model)`` runs after each update.
    """

    def loss(generator: torch.Generator) -> torch.Tensor:
        return denoising_loss(model, data, batch_size, sigma_per, generator)

    optimise(model, loss, steps=steps, lr=lr, seed=seed, on_step=on_step)


def denoising_loss(
    model: nn.Module,
    data: DigitImages,
    batch_size: int,
    sigma_per: Literal["sample", "batch"],
    generator: torch.Generator,
) -> torch.Tensor:
    """‖model(x + σε, u) − ε‖² on a random minibatch (see ``train_denoiser``)."""
    log_range = torch.tensor([SIGMA_MIN, SIGMA_MAX]).log()
    clean, u = _centred_batch_and_level(data, batch_size, sigma_per, generator)
    sigma = torch.exp(log_range[0] + u * (log_range[1] - log_range[0]))
    noise = torch.randn(clean.shape, generator=generator)
    return F.mse_loss(model(clean + sigma[:, None, None, None] * noise, u), noise)


def train_flow_matching(
    model: nn.Module,
    data: DigitImages,
    *,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
    t_per: Literal["sample", "batch"] = "sample",
) -> None:
    """Train ``model(x_t, t) ≈ data − noise`` on the linear path x_t = (1 − t)·noise + t·data.

    Images are centred to [−1, 1]; t ~ U[0, 1), per sample or (``t_per="batch"``, what DPI needs)
    one per minibatch. Sample with ``paramgen.solvers.sample(make_path("linear"), model, noise)``.
    """
    path = make_path("linear")

    def loss(generator: torch.Generator) -> torch.Tensor:
        clean, t = _centred_batch_and_level(data, batch_size, t_per, generator)
        noise = torch.randn(clean.shape, generator=generator)
        c = path.coefficients(t, like=clean)
        target = c.d_alpha * noise + c.d_beta * clean
        return F.mse_loss(model(c.alpha * noise + c.beta * clean, t), target)

    optimise(model, loss, steps=steps, lr=lr, seed=seed)


def train_on_path(
    model: nn.Module,
    path: Path,
    data: torch.Tensor,
    *,
    steps: int,
    lr: float,
    batch_size: int = 64,
    seed: int = 0,
    extras: Mapping[str, torch.Tensor] | None = None,
) -> None:
    """Train ``model(x_t, t, **extras) ≈ target`` on any registered path (its own time law, mix
    and target: velocity, ε or v) for data [N, ...], already in the space the model samples;
    ``extras`` are per-row tensors [N, ...] (class labels, say), batched with the data."""
    extras = dict(extras or {})
    for name, value in extras.items():
        if len(value) != len(data):
            raise ParamgenError(f"extra {name!r} has {len(value)} rows for {len(data)} data rows")

    def loss(generator: torch.Generator) -> torch.Tensor:
        batch = torch.randint(len(data), (batch_size,), generator=generator)
        clean = data[batch]
        pair = path.sample_training(clean, torch.randn(clean.shape, generator=generator), generator)
        batch_extras = {name: value[batch] for name, value in extras.items()}
        return F.mse_loss(model(pair.x_t, pair.t, **batch_extras), pair.target)

    optimise(model, loss, steps=steps, lr=lr, seed=seed)


@torch.no_grad()
def accuracy(model: nn.Module, data: DigitImages) -> float:
    """Top-1 accuracy of ``model`` on ``data``."""
    model.eval()
    return (model(data.images).argmax(dim=1) == data.labels).float().mean().item()
