"""TokenAutoencoder: one small autoencoder shared by every token of a row (RPG-style scale).

A row of D numbers is cut into tokens of ``size`` numbers (:mod:`paramgen.generator.tokens`);
every token is encoded to a ``latent_dim`` latent by the same two-layer MLP and decoded back by
another, both told the token's position: fixed sinusoidal features of (tensor, index) plus a
learned vector per token, so the shared weights can still decode position-specific content. A
training step reconstructs ``tokens_per_step`` random tokens of a few random rows, so its time and
memory depend on the token size, not on D; the padding of a tensor's last token is masked out of
the loss. As the whole-row autoencoder, it adds noise to input and latent while training (p-diff).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from paramgen.generator.tokens import TokenLayout
from paramgen.schema import ParamSchema

__all__ = ["TokenAutoencoder", "TokenPositions", "rows_per_step"]

_POSITION_FEATURES = 64
_ENCODE_TOKENS = 1 << 14  # tokens encoded or decoded at once: bounds memory at any D


def rows_per_step(layout: TokenLayout, tokens: int, batch_size: int) -> int:
    """Rows a training step draws its ``tokens`` from: enough that a short row still gives
    ``tokens`` of them, at least 4 for variety, at most ``batch_size`` (each read costs D)."""
    return max(1, min(batch_size, max(4, math.ceil(tokens / layout.count))))


class TokenPositions(nn.Module):
    """[*ids.shape] token ids → [*ids.shape, width]: projected (tensor, index) features plus a
    learned vector per token."""

    def __init__(self, layout: TokenLayout, width: int) -> None:
        super().__init__()
        self.layout = layout
        self.project = nn.Linear(_POSITION_FEATURES, width)
        self.learned = nn.Embedding(layout.count, width)
        nn.init.normal_(self.learned.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        features = self.layout.positions(ids, _POSITION_FEATURES).to(self.learned.weight.device)
        return self.project(features) + self.learned(ids.to(self.learned.weight.device))


class TokenAutoencoder(nn.Module):
    """encode: rows [N, D] → latents [N, tokens, latent_dim]; decode: the inverse."""

    def __init__(
        self,
        schema: ParamSchema,
        token_size: int,
        latent_dim: int,
        width: int,
        input_noise: float,
        latent_noise: float,
    ) -> None:
        super().__init__()
        self.layout = TokenLayout(schema, token_size)
        self.input_noise, self.latent_noise = input_noise, latent_noise
        self.positions = TokenPositions(self.layout, width)
        self.encode_in = nn.Linear(token_size, width)
        self.encode_out = nn.Sequential(nn.SiLU(), nn.Linear(width, width), nn.SiLU())
        self.to_latent = nn.Linear(width, latent_dim)
        self.decode_in = nn.Linear(latent_dim, width)
        self.decode_out = nn.Sequential(
            nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, token_size)
        )

    @property
    def latent_shape(self) -> tuple[int, int]:
        return self.layout.count, self.to_latent.out_features

    def encode_tokens(self, values: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Tokens [..., size] at ``ids`` [...] → latents [..., latent_dim]."""
        return self.to_latent(self.encode_out(self.encode_in(values) + self.positions(ids)))

    def decode_tokens(self, latents: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Latents [..., latent_dim] at ``ids`` [...] → tokens [..., size]."""
        return self.decode_out(self.decode_in(latents) + self.positions(ids))

    def _in_chunks(self, n: int, work: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        # One row's tokens at a time, in slices of _ENCODE_TOKENS: memory stays bounded at any D.
        ids = torch.arange(self.layout.count)
        return torch.cat([work(part) for part in ids.split(max(1, _ENCODE_TOKENS // n))], dim=1)

    def encode(self, rows: torch.Tensor) -> torch.Tensor:
        def part(ids: torch.Tensor) -> torch.Tensor:
            batch = self.layout.cut(rows, ids.expand(len(rows), -1))
            return self.encode_tokens(batch.values, batch.ids)

        return self._in_chunks(len(rows), part)

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        def part(ids: torch.Tensor) -> torch.Tensor:
            return self.decode_tokens(latents[:, ids], ids.expand(len(latents), -1))

        return self.layout.assemble(self._in_chunks(len(latents), part))

    def forward(self, batch, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reconstructed tokens of ``batch`` (a TokenBatch), with the training-time noise."""
        values = batch.values
        if self.training and self.input_noise:
            values = values + self.input_noise * torch.randn(values.shape, generator=generator)
        latents = self.encode_tokens(values, batch.ids)
        if self.training and self.latent_noise:
            latents = latents + self.latent_noise * torch.randn(latents.shape, generator=generator)
        return self.decode_tokens(latents, batch.ids)

    def rows_per_step(self, config) -> int:
        """Rows one training step reads (``config``: the GeneratorConfig)."""
        return rows_per_step(self.layout, config.tokens_per_step, config.batch_size)

    def _ids(self, rows: int, config, generator: torch.Generator) -> torch.Tensor:
        # Distinct tokens within a row (a short row gives all of its tokens, once each).
        per_row = min(self.layout.count, math.ceil(config.tokens_per_step / rows))
        order = torch.rand(rows, self.layout.count, generator=generator).argsort(dim=1)
        return order[:, :per_row]

    def training_loss(self, rows, config, generator: torch.Generator) -> torch.Tensor:
        """Masked reconstruction error of ``config.tokens_per_step`` random tokens of a few
        random ``rows`` (normalised rows [N, D], indexable by a LongTensor)."""
        index = torch.randint(len(rows), (self.rows_per_step(config),), generator=generator)
        ids = self._ids(len(index), config, generator)
        batch = self.layout.cut(rows[index], ids)
        error = (self(batch, generator) - batch.values).square()
        return (error * batch.mask).sum() / batch.mask.sum()

    def training_items(
        self, latents: torch.Tensor, index: torch.Tensor, config, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Latents [rows·k, latent_dim] of k random tokens of each row of ``index``, and their
        ids [rows, k]."""
        ids = self._ids(len(index), config, generator)
        return latents[index[:, None], ids].flatten(0, 1), ids
