"""Noise-aware classifiers over a generator's latents, and the guides that steer its sampling.

A latent classifier is trained on the generator's own standardised latents of labelled rows
(``generator.guided_inputs``: the latents, or a tokenized unconditional generator's row codes),
noised along the generator's path, so it sees exactly what the sampler shows it;
:func:`latent_guides` checks that a classifier fits a generator before it guides it (same path,
same latent space, one weight per class). A latent space is identified by a hash of what maps
rows to latents (normalisation, autoencoder, latent statistics, row-code basis): a classifier of
one generator's latents is meaningless for another's, even when the shapes agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

import torch

from paramgen.classifiers import ClassifierFit, NoiseAwareClassifier, train_noise_aware_classifier
from paramgen.errors import ParamgenError
from paramgen.generator.checkpoint import Fingerprint
from paramgen.generator.model import ParamGenerator
from paramgen.generator.rows import RowSource
from paramgen.guidance import Guide

__all__ = ["fit_latent_classifier", "latent_guides", "latent_space_id"]

_LATENT_SPACE = ("normalizer.", "autoencoder.", "latent_mean", "latent_std", "code_")


def latent_space_id(generator: ParamGenerator) -> str:
    """sha256 of the generator's config and of the tensors that map rows to its latents."""
    digest = Fingerprint(asdict(generator.config))
    for name, tensor in sorted(generator.state_dict().items()):
        if name.startswith(_LATENT_SPACE):
            digest.update(tensor)
    return digest.hexdigest()


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
    inputs = generator.guided_inputs(params)  # [N, *guided_shape]
    fit = train_noise_aware_classifier(generator.path, inputs, labels, net="mlp", **training)
    fit.classifier.fitted_on = latent_space_id(generator)
    return fit


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
    shape = generator.guided_shape
    space = latent_space_id(generator)
    guides = []
    for classifier, class_weights in zip(classifiers, weights, strict=True):
        if classifier.path != generator.config.path:
            raise ParamgenError(
                f"the classifier was trained along the {classifier.path!r} path, the generator "
                f"samples along {generator.config.path!r}; train the classifier on this generator"
            )
        if classifier.input_shape != shape:
            raise ParamgenError(
                f"the classifier reads inputs of shape {list(classifier.input_shape)}, the "
                f"generator is guided through {list(shape)}; train the classifier on this "
                "generator"
            )
        if classifier.fitted_on and classifier.fitted_on != space:
            raise ParamgenError(
                "the classifier was trained on another generator's latents (same shapes, "
                "different latent space); train the classifier on this generator"
            )
        if len(class_weights) != len(classifier.class_names):
            raise ParamgenError(
                f"the classifier has {len(classifier.class_names)} classes "
                f"{list(classifier.class_names)}, got {len(class_weights)} weights "
                f"{list(class_weights)}; give one weight per class"
            )
        guides.append(Guide(classifier, tuple(class_weights)))
    return guides
