"""The generator's two shapes: one latent per row, or one latent per token of the row.

``whole-row`` (p-diff): the 1D-conv (or linear) autoencoder maps a whole row to one latent, and
the denoiser is told the condition embedding. Best on small rows, but its layers grow with D.
``tokens`` (RPG): a token autoencoder shared by every token and a per-token denoiser told a
prototype of (condition, position); a training step touches a fixed number of tokens, so its
cost does not grow with D. Both give the generator the same calls (``latent_shape``,
``rows_per_step``, ``training_loss``, ``training_items``, ``encode``, ``decode``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from paramgen.generator.autoencoder import ParamAutoencoder
from paramgen.generator.config import GeneratorConfig
from paramgen.generator.prototypes import RowContext, TokenPrototypes
from paramgen.generator.token_autoencoder import TokenAutoencoder
from paramgen.schema import ParamSchema

__all__ = ["ARCHITECTURES", "Architecture"]


@dataclass(frozen=True)
class Architecture:
    """How to build an architecture's autoencoder, and the context its denoiser is told
    (a module and its width, given the config and that autoencoder). ``unconditional_caveat``:
    why it should not be fitted on rows without conditions ("" where it may)."""

    autoencoder: Callable[[GeneratorConfig, ParamSchema], nn.Module]
    context: Callable[[GeneratorConfig, nn.Module], tuple[nn.Module, int]]
    unconditional_caveat: str = ""


def _whole_row_autoencoder(config: GeneratorConfig, schema: ParamSchema) -> nn.Module:
    return ParamAutoencoder(
        schema.dim,
        config.latent_dim,
        config.ae_channels,
        config.input_noise,
        config.latent_noise,
        config.ae_stride,
    )


def _token_autoencoder(config: GeneratorConfig, schema: ParamSchema) -> nn.Module:
    return TokenAutoencoder(
        schema,
        config.token_size,
        config.latent_dim,
        config.token_width,
        config.input_noise,
        config.latent_noise,
    )


ARCHITECTURES: dict[str, Architecture] = {
    "whole-row": Architecture(
        _whole_row_autoencoder, lambda config, _: (RowContext(), config.condition_dim)
    ),
    "tokens": Architecture(
        _token_autoencoder,
        lambda config, autoencoder: (
            TokenPrototypes(autoencoder.layout, config.condition_dim, config.width),
            config.width,
        ),
        unconditional_caveat=(
            "the tokenized generator samples a row's tokens independently when there is no "
            "condition, so its rows come out as the mean row plus noise (bench/"
            "token_dependence.py); fit the whole-row generator (--architecture whole-row) or "
            "give the rows a condition"
        ),
    ),
}
