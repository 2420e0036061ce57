"""PCA of the latent parameter space: training rows vs generated rows, coloured by condition.

The Cond P-Diff Figure 5 view: if generated latents for unseen conditions fill the gaps between
the training clusters, the generator interpolates; if they sit on top of training points, it copies.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

__all__ = ["LatentPCA", "latent_pca", "save_pca"]


@dataclass(frozen=True)
class LatentPCA:
    """2-D coordinates of training and generated latents, in the PCA basis of the training ones."""

    train: np.ndarray
    train_condition: np.ndarray
    generated: np.ndarray
    generated_condition: np.ndarray
    explained_variance: tuple[float, float]


def latent_pca(
    train_latents: np.ndarray,
    train_condition: np.ndarray,
    generated_latents: np.ndarray,
    generated_condition: np.ndarray,
) -> LatentPCA:
    pca = PCA(n_components=2).fit(train_latents)
    ratio = pca.explained_variance_ratio_
    return LatentPCA(
        pca.transform(train_latents),
        np.asarray(train_condition),
        pca.transform(generated_latents),
        np.asarray(generated_condition),
        (float(ratio[0]), float(ratio[1])),
    )


def save_pca(view: LatentPCA, png: Path, csv_path: Path, condition_name: str = "condition") -> None:
    """A scatter plot (PNG) and the coordinates (CSV: kind, condition, pc1, pc2)."""
    figure, axes = plt.subplots(figsize=(6.5, 5))
    limits = np.concatenate([view.train_condition, view.generated_condition])
    shared = dict(cmap="viridis", vmin=limits.min(), vmax=limits.max())
    axes.scatter(
        view.train[:, 0],
        view.train[:, 1],
        c=view.train_condition,
        marker="o",
        s=18,
        alpha=0.5,
        label="zoo (training rows)",
        **shared,
    )
    points = axes.scatter(
        view.generated[:, 0],
        view.generated[:, 1],
        c=view.generated_condition,
        marker="x",
        s=22,
        label="generated",
        **shared,
    )
    figure.colorbar(points, ax=axes, label=condition_name)
    axes.set_xlabel(f"PC1 ({100 * view.explained_variance[0]:.0f}% of training variance)")
    axes.set_ylabel(f"PC2 ({100 * view.explained_variance[1]:.0f}%)")
    axes.set_title("Latent parameter space")
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    figure.savefig(png, dpi=120)
    plt.close(figure)
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["kind", condition_name, "pc1", "pc2"])
        for kind, coords, values in (
            ("train", view.train, view.train_condition),
            ("generated", view.generated, view.generated_condition),
        ):
            writer.writerows(
                [kind, float(v), float(x), float(y)]
                for (x, y), v in zip(coords, values, strict=True)
            )
