"""Built-in MAC task: sample digits from a frozen flow model in a given number of steps (NFE).

The condition is the NFE. A run trains a coefficient net (:class:`MacSampler` holds it with the
velocity model) against the feature-space MMD to real training digits, back-propagated through
the NFE γ-space steps; the metric ``fd`` is the Fréchet distance, in the built-in digits
classifier's feature space, between ``samples`` images sampled from fixed noise (seed
``NOISE_SEED``) and the test digits. The classifier is ``digits-cnn`` from seed 0, stored in the
zoo like every base.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from paramgen.backbones import build_backbone
from paramgen.data import load_digits16
from paramgen.data.digits import DigitImages
from paramgen.errors import ParamgenError
from paramgen.families.mac.training import mac_minibatch_loss, mmd_widths
from paramgen.frechet import FrechetScorer
from paramgen.tasks.builtin import BuiltInBackbone
from paramgen.tasks.protocol import BaseLoader, Task

__all__ = ["CLASSIFIER", "FLOW_BACKBONE", "NOISE_SEED", "DigitsFlowSampling", "evaluation_noise"]

NOISE_SEED = 4321  # the fixed start noise of every ``fd``
FLOW_BACKBONE = "digits-unet-flow"  # registered in paramgen.backbones
CLASSIFIER = "digits-cnn"  # the FD's feature space, always from seed 0


def evaluation_noise(samples: int) -> torch.Tensor:
    """[samples, 1, 16, 16]: the fixed start noise of every ``fd`` (seed ``NOISE_SEED``)."""
    return torch.randn(samples, 1, 16, 16, generator=torch.Generator().manual_seed(NOISE_SEED))


@dataclass(frozen=True)
class MacTrainingData:
    """Training digits, the NFE to sample with, and the MMD's kernel widths."""

    digits: DigitImages
    nfe: int
    widths: list[float]


def as_nfe(value: float | None) -> int:
    """A condition value as a step count, refusing what is not a whole number >= 1."""
    if value is None or value < 1 or float(value) != round(float(value)):
        raise ParamgenError(f"nfe must be a whole number of steps >= 1, got {value!r}")
    return round(float(value))


@dataclass(frozen=True)
class DigitsFlowSampling(BuiltInBackbone, Task):
    """Few-step sampling of digits with ``backbone`` (a linear-path velocity net, noise at t=0)."""

    backbone: str = FLOW_BACKBONE
    samples: int = 449  # images per FD (the test set has 449 digits)
    name: ClassVar[str] = "nfe"
    condition: ClassVar[str] = "nfe"
    metric: ClassVar[str] = "fd"
    higher_is_better: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.samples < 2:
            raise ParamgenError(f"samples must be >= 2 (a covariance), got {self.samples}")

    def bind(self, load_base: BaseLoader, seed: int) -> nn.Module:
        """The velocity model, and the FD's classifier (``digits-cnn`` from seed 0)."""
        classifier = load_base(
            CLASSIFIER, 0, lambda pretrained: build_backbone(CLASSIFIER, 0, pretrained)
        )
        classifier.requires_grad_(False).eval()
        frozen = {
            "classifier": classifier,
            "scorer": FrechetScorer(classifier, load_digits16("test").images),
            "noise": evaluation_noise(self.samples),
        }
        object.__setattr__(self, "_frozen", frozen)  # run-time state, not part of the task's spec
        return super().bind(load_base, seed)

    def _bound(self, name: str):
        frozen = getattr(self, "_frozen", {})
        if name not in frozen:
            raise ParamgenError("bind the flow-sampling task to a zoo's base weights first")
        return frozen[name]

    def training_data(self, value: float | None) -> MacTrainingData:
        digits = load_digits16("train")
        return MacTrainingData(digits, as_nfe(value), mmd_widths(self._bound("classifier"), digits))

    def loss(
        self, model: nn.Module, data: MacTrainingData, batch_size: int, generator: torch.Generator
    ) -> torch.Tensor:
        return mac_minibatch_loss(
            model.net,
            model.velocity,
            self._bound("classifier"),
            data.digits,
            data.nfe,
            data.widths,
            batch_size,
            generator,
        )

    @torch.no_grad()
    def score(self, model: nn.Module, value: float | None) -> float:
        return self._bound("scorer")(model(self._bound("noise"), as_nfe(value)))
