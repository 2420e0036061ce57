"""The real handwritten digits shipped with scikit-learn, upsampled to 16x16, with a fixed split."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from paramgen.errors import ParamgenError

__all__ = ["DigitImages", "load_digits16"]

SIZE = 16
TEST_FRACTION = 0.25
SPLIT_SEED = 0


@dataclass(frozen=True)
class DigitImages:
    """``images`` [N, 1, 16, 16] in [0, 1]; ``labels`` [N] int64 in 0..9."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@cache
def _all_digits() -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    from sklearn.datasets import load_digits  # sklearn takes 1.5 s to import: only when used

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [N, 1, 8, 8]
    images = F.interpolate(images, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    labels = torch.tensor(bunch.target, dtype=torch.int64)
    order = np.random.RandomState(SPLIT_SEED).permutation(len(labels))
    return images.clamp(0, 1), labels, order


def load_digits16(split: Literal["train", "test"]) -> DigitImages:
    """The fixed train (1,348) or test (449) split of sklearn's 1,797 digits."""
    images, labels, order = _all_digits()
    n_test = round(TEST_FRACTION * len(labels))
    if split == "train":
        chosen = order[n_test:]
    elif split == "test":
        chosen = order[:n_test]
    else:
        raise ParamgenError(f"split must be 'train' or 'test', got {split!r}")
    index = torch.from_numpy(np.sort(chosen))
    return DigitImages(images[index], labels[index])
