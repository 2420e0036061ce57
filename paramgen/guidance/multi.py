"""Classifier (multi-)guidance: steer a model with the gradients of noise-aware classifiers.

For classifiers k with class weights w_k [C_k] the guided model predicts

    prediction(x_t, t) + gain(t)·∇_x Σ_k Σ_c w_{k,c}·log softmax(ℓ_k(x_t, t))_c,

where gain(t) is the path's own map from a score shift to a prediction shift
(:meth:`paramgen.paths.Path.guidance_gain`: −√(1 − ᾱ) for ε-prediction, α·det/β for velocity).
Weights on one class are ordinary classifier guidance (Dhariwal & Nichol 2021); weights on *both*
classes of a binary classifier pull samples to where p(c = 1 | x) = w₁/(w₀ + w₁), values between
the classes the model never saw (Deschenaux et al. 2024, "DDPMs can produce zero-shot
interpolations"). Several classifiers (attributes) sum their terms. All weights zero is the bare
model, call for call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.paths import Path

__all__ = ["Guide", "MultiGuidance"]

Classifier = Callable[[Tensor, Tensor], Tensor]
"""``classifier(x_t [N, ...], t [N]) -> logits [M, C]``, t as the model sees it. M may differ
from N (a row classifier over a generator's per-token latents): only the summed log-probability
is differentiated."""


@dataclass(frozen=True)
class Guide:
    """One noise-aware classifier and the weight of each of its classes."""

    classifier: Classifier
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        weights = tuple(float(w) for w in self.weights)
        if not weights or not all(0 <= w < math.inf for w in weights):
            raise ParamgenError(
                "guidance weights must be one finite number >= 0 per class, got "
                f"{list(self.weights)}"
            )
        object.__setattr__(self, "weights", weights)

    def log_probability(self, x: Tensor, t: Tensor) -> Tensor:
        """Σ_rows Σ_c w_c·log p(c | x_t, t): the scalar whose gradient guides."""
        logits = self.classifier(x, t)
        if logits.ndim != 2 or logits.shape[1] != len(self.weights):
            raise ParamgenError(
                f"the classifier gives logits of shape {tuple(logits.shape)}, but "
                f"{len(self.weights)} guidance weights were given; give one weight per class"
            )
        weights = torch.tensor(self.weights, dtype=logits.dtype, device=logits.device)
        return (torch.log_softmax(logits, dim=1) * weights).sum()


class MultiGuidance:
    """``model`` plus the summed classifier gradients of ``guides``, converted by ``path``."""

    def __init__(self, model: Callable[..., Tensor], path: Path, guides: Sequence[Guide]) -> None:
        self.model = model
        self.path = path
        self.guides = tuple(guides)
        self.active = any(any(guide.weights) for guide in self.guides)
        if self.active:
            path.guidance_gain(torch.zeros(1), torch.zeros(1, 1))  # refuse a path without one

    def score(self, x: Tensor, t: Tensor) -> Tensor:
        """[N, ...]: ∇_x Σ_k Σ_c w_{k,c}·log p_k(c | x_t, t), with autograd on even when the
        sampler runs without it."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            total = sum(guide.log_probability(x, t) for guide in self.guides)
            (gradient,) = torch.autograd.grad(total, x)
        return gradient

    def __call__(self, x: Tensor, t: Tensor, **extras: Any) -> Tensor:
        prediction = self.model(x, t, **extras)
        if not self.active:
            return prediction
        return prediction + self.path.guidance_gain(t, x) * self.score(x, t)
