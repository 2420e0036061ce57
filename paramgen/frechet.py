"""The Fréchet distance between image sets in the feature space of the built-in digits classifier.

FID without downloaded Inception weights: images [N, 1, 16, 16] in [0, 1] are embedded by the
penultimate layer of ``digits-cnn`` (relu(fc1), 40-d by default) and each set is summarised by the
mean μ and covariance Σ of its features (Heusel et al., 2017):

    FD = ‖μa − μb‖² + Tr(Σa + Σb − 2(ΣaΣb)^½).

FD on a few hundred samples is biased upwards and noisy, so compare sets of equal size drawn from
the same start noises, and report the distance between two real sets (train vs test) as the floor.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from torch import nn

__all__ = ["FrechetScorer", "classifier_features", "feature_tensor", "frechet_distance"]


def feature_tensor(classifier: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """[N, 1, 16, 16] in [0, 1] → [N, hidden]: relu(fc1) of the digits classifier, differentiable
    (what a training loss in feature space back-propagates through)."""
    captured = []
    hook = classifier.fc1.register_forward_hook(lambda m, i, out: captured.append(out.relu()))
    try:
        classifier(images)
    finally:
        hook.remove()
    return captured[0]


def classifier_features(classifier: nn.Module, images: torch.Tensor) -> np.ndarray:
    """:func:`feature_tensor` without gradients, as float64 numpy [N, hidden]."""
    with torch.no_grad():
        return feature_tensor(classifier, images).double().numpy()


def frechet_distance(a: np.ndarray, b: np.ndarray, eps: float = 1e-6) -> float:
    """FD between feature sets a [Na, d] and b [Nb, d]; ε·I keeps the root defined where ReLU
    features are never active (singular covariances), as common FID code does."""
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    ridge = eps * np.eye(a.shape[1])
    cov_a, cov_b = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


class FrechetScorer:
    """FD of image sets [N, 1, 16, 16] in [0, 1] against fixed ``reference`` images, in the
    feature space of ``classifier`` (the reference features are computed once)."""

    def __init__(self, classifier: nn.Module, reference: torch.Tensor):
        self.classifier = classifier.eval()
        self.reference = classifier_features(classifier, reference)

    def __call__(self, images: torch.Tensor) -> float:
        return frechet_distance(classifier_features(self.classifier, images), self.reference)
