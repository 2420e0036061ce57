"""The time-conditioned networks behind noise-aware classifiers, one per kind of input.

Both read (x_t [N, ...], t [N]) and return logits [N, classes]; time enters through sinusoidal
features and an MLP (as in the denoisers), so one net classifies at every noise level.

* ``mlp`` (:class:`VectorTimeClassifier`): vectors, e.g. a generator's latent weight rows; the
  input is flattened, so a row's per-token latents [K, L] are one K·L vector.
* ``conv`` (:class:`ImageTimeClassifier`): small images [C, H, W] (16×16 digits, circles):
  two stride-2 convolutions, FiLM by time, global average pooling.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from paramgen.embeddings import sinusoidal_features

__all__ = ["CLASSIFIER_NETS", "VectorTimeClassifier", "ImageTimeClassifier"]

TIME_FEATURES = 32


def _time_mlp(width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(TIME_FEATURES, width), nn.SiLU(), nn.Linear(width, width))


class VectorTimeClassifier(nn.Module):
    """[N, *input_shape] + t [N] → [N, classes]: an MLP on the flattened input plus time."""

    default_width = 256

    def __init__(self, input_shape: tuple[int, ...], classes: int, width: int = 256) -> None:
        super().__init__()
        self.input_dim = math.prod(input_shape)
        self.time = _time_mlp(width)
        self.inp = nn.Linear(self.input_dim, width)
        self.body = nn.Sequential(
            nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, classes)
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, self.input_dim)  # [N, D]; per-token items [N·K, L] → [N, K·L]
        t = t.reshape(len(rows), -1)[:, 0]  # one time per row
        return self.body(self.inp(rows) + self.time(sinusoidal_features(t, TIME_FEATURES)))


class ImageTimeClassifier(nn.Module):
    """[N, C, H, W] + t [N] → [N, classes]: conv(3×3, stride 2) ×2 with time FiLM, pooled."""

    default_width = 32

    def __init__(self, input_shape: tuple[int, ...], classes: int, width: int = 32) -> None:
        super().__init__()
        channels = input_shape[0]
        self.time = _time_mlp(6 * width)  # FiLM scale and shift of both convolutions
        self.conv1 = nn.Conv2d(channels, width, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, stride=2, padding=1)
        self.norm1, self.norm2 = nn.GroupNorm(8, width), nn.GroupNorm(8, 2 * width)
        self.head = nn.Sequential(nn.SiLU(), nn.Linear(2 * width, classes))
        self.width = width

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        film = self.time(sinusoidal_features(t, TIME_FEATURES))  # [N, 6·width]
        scale1, shift1, scale2, shift2 = film.split(
            [self.width, self.width, 2 * self.width, 2 * self.width], dim=1
        )
        h = self.norm1(self.conv1(x)) * (1 + scale1[:, :, None, None]) + shift1[:, :, None, None]
        h = self.norm2(self.conv2(torch.nn.functional.silu(h)))
        h = h * (1 + scale2[:, :, None, None]) + shift2[:, :, None, None]
        return self.head(torch.nn.functional.silu(h).mean(dim=(2, 3)))


CLASSIFIER_NETS: dict[str, type[nn.Module]] = {
    "mlp": VectorTimeClassifier,
    "conv": ImageTimeClassifier,
}
"""Net kinds by name; a user's own kind registers here with the same constructor signature
``(input_shape, classes, width)`` and a ``default_width``."""
