"""ParamAutoencoder: a 1D-conv autoencoder over flattened, normalised parameter vectors (p-diff).

The vector [N, D] is zero-padded to a multiple of stride^L and read as a 1-channel signal; L
non-overlapping convolutions (kernel = stride, as p-diff v1's kernel-5/stride-5 layers) shrink it
and a linear layer maps it to the latent; transposed convolutions invert the path. Non-overlapping
kernels keep a training step ~10× cheaper on CPU than stride-2 / kernel-7 layers.

With no channels (``channels=()``) it is a linear autoencoder, D → latent → D, whose optimum
spans the rows' leading principal components: exact for a zoo of fewer rows than latent
dimensions, where the convolutions' shared kernels cost fidelity (DPI zoos).

During training, noise is added to
the input (≈0.001) and, above all, to the latent (≈0.1): p-diff found the latent noise is what
makes decoded weights generalise beyond the training checkpoints (it is a noise-augmented
autoencoder, not a VAE: no KL term).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ParamAutoencoder"]


def _down(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(channels_in, channels_out, stride, stride=stride),
        nn.InstanceNorm1d(channels_out, affine=True),
        nn.LeakyReLU(0.2),
    )


def _up(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose1d(channels_in, channels_out, stride, stride=stride),
        nn.InstanceNorm1d(channels_out, affine=True),
        nn.LeakyReLU(0.2),
    )


class ParamAutoencoder(nn.Module):
    """encode: [N, D] → [N, latent_dim]; decode: [N, latent_dim] → [N, D]."""

    def __init__(
        self,
        dim: int,
        latent_dim: int = 64,
        channels: tuple[int, ...] = (32, 64, 64),
        input_noise: float = 0.001,
        latent_noise: float = 0.1,
        stride: int = 4,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.input_noise = input_noise
        self.latent_noise = latent_noise
        shrink = stride ** len(channels)
        self.padded = -(-dim // shrink) * shrink
        self.bottleneck = (channels[-1] if channels else 1, self.padded // shrink)
        widths = (1, *channels)
        self.encoder = nn.Sequential(
            *(_down(a, b, stride) for a, b in zip(widths, widths[1:], strict=False))
        )
        self.to_latent = nn.Linear(self.bottleneck[0] * self.bottleneck[1], latent_dim)
        self.from_latent = nn.Linear(latent_dim, self.bottleneck[0] * self.bottleneck[1])
        reversed_widths = widths[::-1]
        self.decoder = nn.Sequential(
            *(
                _up(a, b, stride)
                for a, b in zip(reversed_widths[:-2], reversed_widths[1:-1], strict=False)
            )
        )
        self.head = (
            nn.ConvTranspose1d(reversed_widths[-2], 1, stride, stride=stride)
            if channels
            else nn.Identity()
        )

    @property
    def latent_shape(self) -> tuple[int]:
        return (self.to_latent.out_features,)

    def encode(self, rows: torch.Tensor) -> torch.Tensor:
        signal = F.pad(rows, (0, self.padded - self.dim))[:, None]  # [N, 1, padded]
        return self.to_latent(self.encoder(signal).flatten(1))

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        signal = self.from_latent(latents).view(len(latents), *self.bottleneck)
        return self.head(self.decoder(signal))[:, 0, : self.dim]

    def forward(self, rows: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Reconstruction, with the training-time noise on input and latent when training."""
        if self.training and self.input_noise:
            rows = rows + self.input_noise * torch.randn(rows.shape, generator=generator)
        latents = self.encode(rows)
        if self.training and self.latent_noise:
            latents = latents + self.latent_noise * torch.randn(latents.shape, generator=generator)
        return self.decode(latents)

    def rows_per_step(self, config) -> int:
        """Rows one training step reads (``config``: the GeneratorConfig)."""
        return config.batch_size

    def training_loss(self, rows, config, generator: torch.Generator) -> torch.Tensor:
        """Reconstruction error of ``config.batch_size`` random normalised ``rows`` [N, D]."""
        batch = rows[torch.randint(len(rows), (config.batch_size,), generator=generator)]
        return F.mse_loss(self(batch, generator), batch)

    def training_items(
        self, latents: torch.Tensor, index: torch.Tensor, config, generator: torch.Generator
    ) -> tuple[torch.Tensor, None]:
        """The latents [n, L] of rows ``index``: one item per row, no token ids."""
        return latents[index], None
