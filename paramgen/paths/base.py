"""The path contract: how a training pair (noise, data) is mixed at time t, and what the model
must predict there.

Continuous paths put noise at t = 0 and data at t = 1 (torchcfm's convention). The model
signature ``model(x, t, **extras)`` with t a [N] float tensor serves every path; the discrete DDPM
path shows its step k to the model as t = k / T, so its t runs the other way (k = 0 is nearly
clean data). Each path names the sampler (and its step count) that
:meth:`ParamGenerator.sample` uses when the caller names none; the samplers that fit a path are
the ones registered for its type (:mod:`paramgen.solvers`).

Shapes: x, noise, data are [N, ...] (any trailing shape); t is [N]; coefficients broadcast as
[N, 1, …, 1], or are [N, ...] per sample and dimension (the MAC path).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor

from paramgen.errors import ParamgenError

__all__ = ["PathSample", "Coefficients", "expand_like", "uniform_times", "check_pair", "Path"]


@dataclass(frozen=True)
class PathSample:
    """One training batch: the model sees ``model(x_t, t)`` and regresses onto ``target``.

    ``t`` is the model's time input: the path time for every path but MAC, whose model is shown
    the row's mean data weight instead (:mod:`paramgen.paths.mac`).
    """

    x_t: Tensor
    t: Tensor
    target: Tensor


@dataclass(frozen=True)
class Coefficients:
    """α(t) (noise weight), β(t) (data weight) and their time derivatives: [N], or
    [N, 1, …, 1] when expanded against x, or [N, ...] per sample and dimension."""

    alpha: Tensor
    beta: Tensor
    d_alpha: Tensor
    d_beta: Tensor


def expand_like(t: Tensor, x: Tensor) -> Tensor:
    """[N] → [N, 1, …, 1] with x's rank, so that it broadcasts against x [N, ...]."""
    return t.reshape(-1, *([1] * (x.ndim - 1)))


def uniform_times(like: Tensor, generator: torch.Generator | None) -> Tensor:
    """[N] uniform draws in [0, 1), made on the generator's device and moved to ``like``'s."""
    device = generator.device if generator is not None else like.device
    t = torch.rand(like.shape[0], generator=generator, device=device, dtype=like.dtype)
    return t.to(like.device)


def check_pair(data: Tensor, noise: Tensor) -> None:
    """Refuse a training pair whose data and noise differ in shape."""
    if data.shape != noise.shape or data.ndim < 1:
        raise ParamgenError(
            f"data and noise must have the same shape [N, ...], got data {tuple(data.shape)} and "
            f"noise {tuple(noise.shape)}"
        )


class Path(ABC):
    """A noise-to-data path: it draws training times and says what the model predicts.

    ``default_sampler`` and ``default_steps`` are what sampling uses when the caller names none.
    """

    name: str
    prediction: Literal["velocity", "epsilon", "v"]
    default_sampler: ClassVar[str]
    default_steps: ClassVar[int]

    @abstractmethod
    def sample_training(
        self, data: Tensor, noise: Tensor, generator: torch.Generator | None = None
    ) -> PathSample:
        """Draw one time per row and mix ``data`` [N, ...] with ``noise`` [N, ...] there."""

    @abstractmethod
    def mixing(self, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor]:
        """(data weight, noise weight) at t [N], broadcastable against ``like`` [N, ...]:
        x_t = data weight·data + noise weight·noise."""

    def guidance_gain(self, t: Tensor, like: Tensor) -> Tensor:
        """How far the model's prediction moves per unit added to the score ∇ log p_t(x_t), at
        t [N], broadcastable against ``like`` [N, ...]: classifier guidance adds gain·∇ log
        p(c | x_t) to the prediction (:class:`paramgen.guidance.MultiGuidance`). A path without
        a score-to-prediction map refuses."""
        raise ParamgenError(
            f"the {self.name!r} path does not support classifier guidance; use a continuous "
            "(linear, trig, stochastic interpolant) or the ddpm path"
        )
