"""The generator's two shapes: one latent per row, or one latent per token of the row.

``whole-row`` (p-diff): the 1D-conv (or linear) autoencoder maps a whole row to one latent, and
the denoiser is told the condition embedding. Best on small rows, but its layers grow with D.
``tokens`` (RPG): a token autoencoder shared by every token and a per-token denoiser told a
prototype of (condition, position); a training step touches a fixed number of tokens, so its
cost does not grow with D. Without a condition, its prototypes are also told a row code
(:mod:`paramgen.generator.row_codes`), sampled first, that ties a row's tokens together. Both
give the generator the same calls (``latent_shape``, ``rows_per_step``, ``training_loss``,
``training_items``, ``encode``, ``decode``).
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
    """How to build an architecture's autoencoder, and the context its denoiser is told (a
    module and its width, given the config, that autoencoder and the row code's size).
    ``row_codes``: whether rows without conditions get a row code (``config.row_code_dim``
    numbers) — an architecture whose items are parts of a row needs one to tie them together."""

    autoencoder: Callable[[GeneratorConfig, ParamSchema], nn.Module]
    context: Callable[[GeneratorConfig, nn.Module, int], tuple[nn.Module, int]]
    row_codes: bool = False


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
        _whole_row_autoencoder, lambda config, _, __: (RowContext(), config.condition_dim)
    ),
    "tokens": Architecture(
        _token_autoencoder,
        lambda config, autoencoder, code_dim: (
            TokenPrototypes(autoencoder.layout, config.condition_dim + code_dim, config.width),
            config.width,
        ),
        row_codes=True,
    ),
}
