"""digits-cnn: a small CNN classifier for 16x16 digits (~25.7k parameters)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DigitsCNN"]


class DigitsCNN(nn.Module):
    """conv(1→16) → pool → conv(16→32) → pool → fc(512→hidden) → fc(hidden→10).

    Plain zero-padded 3x3 convolutions only: peft's Conv2d LoRA drops dilation and padding modes.
    """

    def __init__(self, hidden: int = 40, classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 1, 16, 16] images → [N, classes] logits."""
        x = self.pool(torch.relu(self.conv1(images)))  # [N, 16, 8, 8]
        x = self.pool(torch.relu(self.conv2(x)))  # [N, 32, 4, 4]
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))
