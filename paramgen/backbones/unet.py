"""digits-unet: a small U-Net for 16x16 images — a denoiser or a flow velocity net (~196k params).

16 → 8 → 4 pixels and back, with skip connections. An optional scalar (time or noise level) enters
through sinusoidal features and an MLP that scales and shifts every block's features (FiLM); with
``classes`` > 0 a learnt class embedding joins it (a class-conditional net, ``labels`` [N]); with
``time_embedding=False`` and no classes the net is unconditional (what DPI wraps, or input-level
conditioning with an extra input channel). Plain zero-padded 3x3 convolutions only, so peft's
LoRA applies cleanly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from paramgen.embeddings import sinusoidal_features

__all__ = ["DigitsUNet"]


class _Block(nn.Module):
    """conv → GroupNorm → (FiLM) → SiLU, twice."""

    def __init__(self, channels_in: int, channels_out: int, embed_dim: int | None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, padding=1)
        self.norm1 = nn.GroupNorm(8, channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, channels_out)
        self.film = nn.Linear(embed_dim, 2 * channels_out) if embed_dim else None

    def forward(self, x: torch.Tensor, embedding: torch.Tensor | None) -> torch.Tensor:
        h = self.norm1(self.conv1(x))
        if self.film is not None:
            scale, shift = self.film(embedding)[:, :, None, None].chunk(2, dim=1)
            h = h * (1 + scale) + shift
        h = F.silu(h)
        return F.silu(self.norm2(self.conv2(h)))


class DigitsUNet(nn.Module):
    """[N, in_channels, 16, 16] (+ optional [N] scalar t, [N] class labels) →
    [N, out_channels, 16, 16]."""

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        channels: int = 24,
        time_embedding: bool = True,
        embed_dim: int = 64,
        classes: int = 0,
    ) -> None:
        super().__init__()
        self.time_embedding, self.classes, self.embed_dim = time_embedding, classes, embed_dim
        embed = embed_dim if time_embedding or classes else None
        if time_embedding:
            self.time_mlp = nn.Sequential(
                nn.Linear(embed_dim, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim)
            )
        self.label_embedding = nn.Embedding(classes, embed_dim) if classes else None
        c1, c2 = channels, 2 * channels
        self.down1 = _Block(in_channels, c1, embed)  # 16x16
        self.down2 = _Block(c1, c2, embed)  # 8x8
        self.middle = _Block(c2, c2, embed)  # 4x4
        self.up2 = _Block(c2 + c2, c2, embed)  # 8x8
        self.up1 = _Block(c2 + c1, c1, embed)  # 16x16
        self.out = nn.Conv2d(c1, out_channels, 3, padding=1)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | None = None, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        embedding = None
        if self.time_embedding:
            if t is None:
                raise ValueError("this DigitsUNet is time-conditioned: pass t ([N] or a scalar)")
            t = torch.as_tensor(t, dtype=x.dtype, device=x.device).expand(len(x))
            embedding = self.time_mlp(sinusoidal_features(t, self.embed_dim))
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("this DigitsUNet is class-conditioned: pass labels ([N] ints)")
            label_embedding = self.label_embedding(labels.long())
            embedding = label_embedding if embedding is None else embedding + label_embedding
        h1 = self.down1(x, embedding)  # [N, c1, 16, 16]
        h2 = self.down2(F.avg_pool2d(h1, 2), embedding)  # [N, c2, 8, 8]
        h3 = self.middle(F.avg_pool2d(h2, 2), embedding)  # [N, c2, 4, 4]
        u2 = self.up2(torch.cat([F.interpolate(h3, scale_factor=2.0), h2], dim=1), embedding)
        u1 = self.up1(torch.cat([F.interpolate(u2, scale_factor=2.0), h1], dim=1), embedding)
        return self.out(u1)
