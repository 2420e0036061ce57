"""Built-in denoising task (what the DPI zoo trains): denoise digits of one style value.

The metric is the noise-scaled denoising MSE σ²·‖ε̂ − ε‖² — the squared error of the denoised
image x − σε̂, so every noise level counts on the image's scale — averaged over log-spaced σ bins,
on the style's test digits with noise from a fixed seed, so every model meets the same inputs.
Models are called as ``model(x, u)``, u the position of log σ in [0, 1] (a DPI, or a blind net
that ignores u); training shares one σ per minibatch (DPI's fast path).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.backbones import build_backbone
from paramgen.data.digits import DigitImages
from paramgen.errors import ParamgenError
from paramgen.tasks.builtin import StyleConditioned
from paramgen.tasks.digits import styled_split
from paramgen.tasks.protocol import Task
from paramgen.training import SIGMA_MAX, SIGMA_MIN, denoising_loss

__all__ = [
    "NOISE_SEED",
    "StyledDigitsDenoising",
    "check_denoiser",
    "denoising_errors",
    "denoising_mse",
    "noise_position",
    "sigma_bins",
]

NOISE_SEED = 1234  # the fixed test noise of ``denoising_mse``


def noise_position(sigma: float) -> float:
    """u ∈ [0, 1]: where log σ lies in [log SIGMA_MIN, log SIGMA_MAX] (what the DPI is fed)."""
    return (math.log(sigma) - math.log(SIGMA_MIN)) / (math.log(SIGMA_MAX) - math.log(SIGMA_MIN))


def sigma_bins(count: int = 8) -> torch.Tensor:
    """[count] centres of log-spaced σ bins over [SIGMA_MIN, SIGMA_MAX] (the training range)."""
    u = (torch.arange(count) + 0.5) / count
    return torch.exp(math.log(SIGMA_MIN) + u * (math.log(SIGMA_MAX) - math.log(SIGMA_MIN)))


@torch.no_grad()
def denoising_errors(model: nn.Module, data: DigitImages, sigmas: torch.Tensor) -> list[float]:
    """σ²·mean‖ε̂ − ε‖² on ``data`` (images centred to [−1, 1]) at each of ``sigmas``."""
    model.eval()
    clean = data.images * 2 - 1
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(NOISE_SEED))
    errors = []
    for sigma in torch.as_tensor(sigmas, dtype=torch.float32).tolist():
        predicted = model(clean + sigma * noise, noise_position(sigma))
        errors.append(sigma**2 * F.mse_loss(predicted, noise).item())
    return errors


def denoising_mse(model: nn.Module, data: DigitImages, sigmas: torch.Tensor | None = None) -> float:
    """Mean of ``denoising_errors`` over ``sigmas`` (default: the 8 bin centres)."""
    errors = denoising_errors(model, data, sigma_bins() if sigmas is None else sigmas)
    return sum(errors) / len(errors)


def check_denoiser(base: nn.Module, name: str) -> None:
    """A DPI calls its module as module(x): refuse a backbone that needs more, or maps elsewhere."""
    x = torch.zeros(1, 1, 16, 16)
    try:
        with torch.no_grad():
            shape = tuple(base(x).shape)
    except (TypeError, ValueError) as error:
        shape = f"an error ({error})"
    if shape != tuple(x.shape):
        raise ParamgenError(
            f"backbone {name!r} is not an unconditional denoiser: module(x) for x of shape "
            f"{tuple(x.shape)} gave {shape}; choose one such as 'digits-unet-small'"
        )


@dataclass(frozen=True)
class StyledDigitsDenoising(StyleConditioned, Task):
    """Denoise the built-in digits rendered at ``style=value``; the group's task is the style."""

    style: str = "stroke"
    backbone: str = "digits-unet-small"  # an unconditional denoiser: forward(x)
    metric: ClassVar[str] = "mse"
    higher_is_better: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_denoiser(build_backbone(self.backbone), self.backbone)  # cheap: no pretraining

    def training_data(self, value: float | None) -> DigitImages:
        return styled_split(self.style, float(value), "train")

    def loss(
        self, model: nn.Module, data: DigitImages, batch_size: int, generator: torch.Generator
    ) -> torch.Tensor:
        return denoising_loss(model, data, batch_size, "batch", generator)

    def score(self, model: nn.Module, value: float | None) -> float:
        return denoising_mse(model, styled_split(self.style, float(value), "test"))
