"""Per-token prototypes: what the latent denoiser of a tokenized generator is conditioned on.

RPG (METHODS.md §1.4) runs a sequence model over the token positions and feeds its outputs, one
"prototype" per token, to a small per-token denoiser. Here the sequence model is a transformer
over the row's *tensors* (one position per tensor, told the condition), so it carries the
condition and the dependence between layers at a cost that grows with the number of tensors, not
with D; a token's prototype is then an MLP of its tensor's state and the token's own position.
A recurrence over every token (RPG's Mamba, which needs a GPU) would cost a training step time in
proportion to D; this keeps it flat. A whole-row generator has a single latent per row, and its
"prototype" is the condition embedding itself (:class:`RowContext`).
"""

from __future__ import annotations

import torch
from torch import nn

from paramgen.generator.token_autoencoder import TokenPositions
from paramgen.generator.tokens import TokenLayout

__all__ = ["RowContext", "TokenPrototypes"]


class RowContext(nn.Module):
    """Whole-row generator: the denoiser's context is the condition embedding [n, E] itself."""

    def forward(self, embedding: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor:
        return embedding


class TokenPrototypes(nn.Module):
    """forward(embedding [n, E], ids [n, k] or None for every token) → prototypes [n·k, width].
    ``embedding``: the condition embedding, with the row code appended where there is one."""

    def __init__(self, layout: TokenLayout, condition_dim: int, width: int, depth: int = 2) -> None:
        super().__init__()
        self.layout = layout
        self.condition = nn.Linear(condition_dim, width)
        self.tensors = nn.Embedding(layout.tensors, width)
        layer = nn.TransformerEncoderLayer(
            width, nhead=4, dim_feedforward=2 * width, dropout=0.0, batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.sequence = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.positions = TokenPositions(layout, width)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, embedding: torch.Tensor, ids: torch.Tensor | None) -> torch.Tensor:
        if ids is None:
            ids = torch.arange(self.layout.count).expand(len(embedding), -1)
        # One position per tensor, each told the condition: [n, tensors, width].
        states = self.sequence(self.tensors.weight[None] + self.condition(embedding)[:, None])
        tensor_of = self.layout.tensor[ids].to(states.device)  # [n, k]
        mine = states.gather(1, tensor_of[..., None].expand(-1, -1, states.shape[-1]))
        return self.head(mine + self.positions(ids)).flatten(0, 1)
