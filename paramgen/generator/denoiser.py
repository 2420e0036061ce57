"""The latent denoiser: a residual MLP on the (small) latent, told the time and the condition.

Latents are a few dozen numbers, so an MLP is the natural choice (a 1D-conv U-Net pays off on long
signals). Time and condition embeddings are summed and scale/shift every block (FiLM). It predicts
whatever the path trains it on — velocity or noise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.embeddings import sinusoidal_features

__all__ = ["LatentDenoiser"]


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, embed_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.film = nn.Linear(embed_dim, 2 * width)
        self.linear1 = nn.Linear(width, width)
        self.linear2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(embedding).chunk(2, dim=1)
        x = self.norm(h) * (1 + scale) + shift
        return h + self.linear2(F.silu(self.linear1(F.silu(x))))


class LatentDenoiser(nn.Module):
    """forward(z [N, L], t [N], condition [N, E]) → prediction [N, L]."""

    def __init__(
        self, latent_dim: int, condition_dim: int, width: int = 256, depth: int = 4
    ) -> None:
        super().__init__()
        self.time_dim = 64
        self.time_mlp = nn.Sequential(
            nn.Linear(self.time_dim, width), nn.SiLU(), nn.Linear(width, width)
        )
        self.condition_proj = nn.Linear(condition_dim, width)
        self.inp = nn.Linear(latent_dim, width)
        self.blocks = nn.ModuleList(_ResidualBlock(width, width) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, latent_dim))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, z: torch.Tensor, t: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        embedding = self.time_mlp(sinusoidal_features(t, self.time_dim)) + self.condition_proj(
            condition
        )
        h = self.inp(z)
        for block in self.blocks:
            h = block(h, embedding)
        return self.out(h)
