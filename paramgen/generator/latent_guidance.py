"""Noise-aware classifiers over a generator's latents, and the guides that steer its sampling.

A latent classifier is trained on the generator's own standardised latents of labelled rows
(``generator.encode``), noised along the generator's path, so it sees exactly what the sampler
shows it; :func:`latent_guides` checks that a classifier fits a generator before it guides it
(same path, same latent shape, one weight per class).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from paramgen.classifiers import ClassifierFit, NoiseAwareClassifier, train_noise_aware_classifier
from paramgen.errors import ParamgenError
from paramgen.generator.model import ParamGenerator
from paramgen.generator.rows import RowSource
from paramgen.guidance import Guide

__all__ = ["fit_latent_classifier", "latent_guides"]


def fit_latent_classifier(
    generator: ParamGenerator,
    params: torch.Tensor | RowSource,
    labels: torch.Tensor,
    **training,
) -> ClassifierFit:
    """A noise-aware classifier of ``generator``'s latents of ``params`` [N, D] (raw weight rows)
    with integer ``labels`` [N]; ``training``: as :func:`train_noise_aware_classifier`'s
    (``class_names``, ``steps``, ``heldout``, ``seed``, …; the net is an MLP)."""
    if len(params) != len(labels):
        raise ParamgenError(f"got {len(params)} rows but {len(labels)} labels; give one per row")
    latents = generator.encode(params)  # [N, *latent_shape]
    return train_noise_aware_classifier(generator.path, latents, labels, net="mlp", **training)


def latent_guides(
    generator: ParamGenerator,
    classifiers: Sequence[NoiseAwareClassifier],
    weights: Sequence[Sequence[float]],
) -> list[Guide]:
    """One guide per classifier with its class ``weights``, refusing a classifier trained for
    another path or latent shape, and a weight list whose length is not its class count."""
    if len(classifiers) != len(weights):
        raise ParamgenError(
            f"got {len(classifiers)} classifiers but {len(weights)} weight lists; give one "
            "weight list per classifier"
        )
    shape = tuple(generator.autoencoder.latent_shape)
    guides = []
    for classifier, class_weights in zip(classifiers, weights, strict=True):
        if classifier.path != generator.config.path:
            raise ParamgenError(
                f"the classifier was trained along the {classifier.path!r} path, the generator "
                f"samples along {generator.config.path!r}; train the classifier on this generator"
            )
        if classifier.input_shape != shape:
            raise ParamgenError(
                f"the classifier reads latents of shape {list(classifier.input_shape)}, the "
                f"generator makes {list(shape)}; train the classifier on this generator"
            )
        if len(class_weights) != len(classifier.class_names):
            raise ParamgenError(
                f"the classifier has {len(classifier.class_names)} classes "
                f"{list(classifier.class_names)}, got {len(class_weights)} weights "
                f"{list(class_weights)}; give one weight per class"
            )
        guides.append(Guide(classifier, tuple(class_weights)))
    return guides
