"""Panels of generated 16×16 digits side by side, as the digit benchmarks save them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

__all__ = ["save_digit_grids"]


def save_digit_grids(
    grids: dict[str, torch.Tensor],
    titles: dict[str, str],
    path: Path,
    panel: tuple[float, float] = (5, 5),
    dpi: int = 110,
) -> None:
    """One panel per name: its 64 images [64, 1, 16, 16] in [0, 1] as an 8 × 8 tile, titled
    ``titles[name]``; ``panel`` is each panel's size in inches."""
    figure, axes = plt.subplots(1, len(grids), figsize=(panel[0] * len(grids), panel[1]))
    for axis, (name, images) in zip(np.atleast_1d(axes), grids.items(), strict=True):
        tiles = images.view(8, 8, 16, 16).permute(0, 2, 1, 3).reshape(128, 128)
        axis.imshow(tiles.numpy(), cmap="gray", vmin=0, vmax=1)
        axis.set_title(titles[name])
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
