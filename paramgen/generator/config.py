"""What a generator is: its config (saved with it) and the training set it is fitted on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import torch

from paramgen.errors import ParamgenError
from paramgen.families import family_names, get_family
from paramgen.generator.conditions import CONDITION_ENCODERS
from paramgen.generator.normalization import CENTRES, Centre
from paramgen.generator.rows import RowSource
from paramgen.paths import generator_path_names
from paramgen.schema import ParamSchema

__all__ = ["TOKENS_FROM_DIM", "Architecture", "GeneratorConfig", "TrainingSet", "config_for_family"]

Architecture = Literal["auto", "whole-row", "tokens"]

TOKENS_FROM_DIM = 65_536
"""Rows of at least this many numbers get the tokenized generator under ``architecture="auto"``
(``bench/generator_scaling.py`` measures where the whole-row autoencoder's step outgrows it)."""


def _knob(default, help: str, **kwargs):
    """A config field with its help text (the CLI's option help reads it)."""
    return field(default=default, metadata={"help": help}, **kwargs)


_AT_LEAST_ONE = (
    "latent_dim", "ae_stride", "ae_steps", "token_size", "token_width", "tokens_per_step",
    "width", "depth", "condition_dim", "examples", "denoiser_steps", "batch_size",
)  # fmt: skip
_NOISES, _RATES = ("input_noise", "latent_noise"), ("ae_lr", "denoiser_lr")


@dataclass(frozen=True)
class GeneratorConfig:
    """What a generator is (saved with it). Sampling knobs go to ``sample``."""

    architecture: Architecture = _knob(
        "auto",
        "Whole-row autoencoder (small rows), tokens (large rows: cost per step flat in D), or "
        f"auto: tokens from D = {TOKENS_FROM_DIM:,}. The saved config records the choice.",
    )
    centre: Centre = _knob(
        "tensor", "Normalisation centre: per-tensor mean, or the mean row (rows sharing a base)."
    )
    latent_dim: int = _knob(64, "Latent size of the parameter autoencoder.")
    ae_channels: tuple[int, ...] = _knob(
        (32, 64, 64), "Channels of the autoencoder's conv stages; none (empty): a linear one."
    )
    ae_stride: int = _knob(4, "Stride of each autoencoder conv stage.")
    input_noise: float = _knob(0.001, "Noise added to the autoencoder's input rows in training.")
    latent_noise: float = _knob(0.1, "Noise added to the latents in autoencoder training.")
    ae_steps: int = _knob(1500, "Autoencoder training steps.")
    ae_lr: float = _knob(1e-3, "Autoencoder learning rate.")
    token_size: int = _knob(
        2048, "Numbers per token (tokens architecture); tokens never mix tensors."
    )
    token_width: int = _knob(512, "Hidden width of the token autoencoder (tokens architecture).")
    tokens_per_step: int = _knob(512, "Random tokens per training step (tokens architecture).")
    row_code_dim: int = _knob(
        16,
        "Numbers per row that tie a tokenized row's tokens together when the rows have no "
        "condition: sampled first, then every token given them (tokens architecture; 0: none).",
    )
    path: str = _knob("linear", "Noise-to-data path the latent model trains on.")
    width: int = _knob(256, "Width of the latent denoiser.")
    depth: int = _knob(4, "Residual blocks of the latent denoiser.")
    condition: str = _knob("scalar", "Condition encoder (groups without conditions use none).")
    condition_dim: int = _knob(128, "Size of the condition embedding.")
    examples: int = _knob(16, "Example images per condition (style-images encoder).")
    condition_dropout: float = _knob(0.1, "Share of training rows with the condition dropped.")
    denoiser_steps: int = _knob(3000, "Latent denoiser training steps.")
    denoiser_lr: float = _knob(1e-3, "Latent denoiser learning rate.")
    batch_size: int = _knob(64, "Rows per training step.")
    seed: int = _knob(0, "Seed of the initial weights and every training draw.")

    def __post_init__(self) -> None:
        if self.path not in generator_path_names():
            raise ParamgenError(
                f"unknown path {self.path!r}; expected one of {', '.join(generator_path_names())}"
            )
        if self.centre not in CENTRES:
            raise ParamgenError(f"centre must be one of {list(CENTRES)}, got {self.centre!r}")
        if self.condition not in CONDITION_ENCODERS:
            raise ParamgenError(
                f"condition must be one of {list(CONDITION_ENCODERS)}, got {self.condition!r}"
            )
        if self.architecture not in ("auto", "whole-row", "tokens"):
            raise ParamgenError(
                f"architecture must be one of auto, whole-row, tokens, got {self.architecture!r}"
            )
        for name in _AT_LEAST_ONE:
            if getattr(self, name) < 1:
                raise ParamgenError(f"{name} must be >= 1, got {getattr(self, name)}")
        if any(channels < 1 for channels in self.ae_channels):
            raise ParamgenError(f"ae_channels must all be >= 1, got {list(self.ae_channels)}")
        if self.row_code_dim < 0:
            raise ParamgenError(f"row_code_dim must be >= 0, got {self.row_code_dim}")
        for name, positive in (*((n, False) for n in _NOISES), *((n, True) for n in _RATES)):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (positive and value == 0):
                bound = "> 0" if positive else ">= 0"
                raise ParamgenError(f"{name} must be a finite number {bound}, got {value}")
        if not 0 <= self.condition_dropout < 1:
            raise ParamgenError(
                f"condition_dropout must be in [0, 1), got {self.condition_dropout}"
            )

    def for_dim(self, dim: int) -> GeneratorConfig:
        """This config with ``architecture="auto"`` resolved for rows of ``dim`` numbers."""
        if self.architecture != "auto":
            return self
        return replace(self, architecture="tokens" if dim >= TOKENS_FROM_DIM else "whole-row")


def config_for_family(family: str | None, **overrides) -> GeneratorConfig:
    """``GeneratorConfig`` with the registered ``family``'s ``generator_defaults`` (none for an
    unregistered or missing family), then ``overrides``."""
    defaults = get_family(family).generator_defaults if family in family_names() else {}
    return GeneratorConfig(**{**defaults, **overrides})


@dataclass
class TrainingSet:
    """Rows [N, D] (raw weights), their conditions {name: [N, *shape]}, and what they are.

    ``params`` is a tensor, or a row source read a minibatch at a time
    (:class:`paramgen.generator.rows.RowSource`) for training sets larger than memory.
    """

    params: torch.Tensor | RowSource
    conditions: dict[str, torch.Tensor]
    schema: ParamSchema
    metadata: dict = field(default_factory=dict)  # family, family_config, backbone, group, …
