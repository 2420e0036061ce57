"""digits-mlp-wide: a wide MLP classifier on the 256 pixels of 16x16 digits (~4.7M parameters).

Built so that scale is real: rank-16 LoRA on its two wide layers is 102,400 numbers per row, and
its widest layer alone (``fc2``, 4.2M numbers) is a p-diff subset well past 10⁶.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DigitsMLP"]


class DigitsMLP(nn.Module):
    """fc(256→hidden) → ReLU → fc(hidden→hidden) → ReLU → fc(hidden→classes)."""

    def __init__(self, hidden: int = 2048, classes: int = 10) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16 * 16, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 1, 16, 16] images → [N, classes] logits."""
        x = torch.relu(self.fc1(images.flatten(1)))  # [N, hidden]
        return self.fc3(torch.relu(self.fc2(x)))
