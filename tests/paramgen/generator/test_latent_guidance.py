"""Classifier guidance of a generator's latents: an unconditional generator of two clusters of
rows, steered to either cluster by a noise-aware latent classifier; mismatches refused by name."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.generator import GeneratorConfig, ParamGenerator, TrainingSet
from paramgen.generator.latent_guidance import (
    fit_latent_classifier,
    latent_guides,
    latent_space_id,
)
from tests.paramgen.generator.test_model import SCHEMA, TINY, TINY_TOKENS

pytestmark = pytest.mark.usefixtures("one_thread")


def two_clusters(rows: int = 60) -> tuple[TrainingSet, torch.Tensor]:
    """Rows ±direction + noise, labelled by their sign; no conditions (an unconditional zoo)."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(rows) % 2
    direction = torch.randn(SCHEMA.dim, generator=generator)
    params = (2.0 * labels - 1.0)[:, None] * direction + 0.1 * torch.randn(
        rows, SCHEMA.dim, generator=generator
    )
    return TrainingSet(params, {}, SCHEMA, {"family": "test"}), labels


def side(rows: torch.Tensor, data: TrainingSet, labels: torch.Tensor) -> torch.Tensor:
    """+1 where a generated row is nearer the positive cluster's mean, else 0."""
    positive = data.params[labels == 1].mean(dim=0)
    negative = data.params[labels == 0].mean(dim=0)
    return ((rows - positive).norm(dim=1) < (rows - negative).norm(dim=1)).float()


@pytest.fixture(scope="module", params=[TINY, TINY_TOKENS], ids=["whole-row", "tokens"])
def guided_setup(request):
    data, labels = two_clusters()
    config = GeneratorConfig(**{**request.param, "denoiser_steps": 300, "ae_steps": 200})
    generator = ParamGenerator.fit(data, config)
    fit = fit_latent_classifier(
        generator, data.params, labels, class_names=("neg", "pos"), steps=300, width=32
    )
    return generator, fit.classifier, data, labels


def test_guidance_to_one_class_makes_rows_of_that_class(guided_setup):
    generator, classifier, data, labels = guided_setup
    unguided = side(generator.sample_rows({}, 64, seed=1), data, labels).mean().item()
    shares = {}
    for target, weights in ((0, (5.0, 0.0)), (1, (0.0, 5.0))):
        guides = latent_guides(generator, [classifier], [weights])
        rows = generator.sample_rows({}, 64, seed=1, guides=guides)
        shares[target] = side(rows, data, labels).mean().item()
    assert 0.2 < unguided < 0.8
    assert shares[1] > max(unguided, 0.8)
    assert shares[0] < min(unguided, 0.2)


def test_zero_weights_sample_what_the_bare_generator_samples(guided_setup):
    generator, classifier, _, _ = guided_setup
    guides = latent_guides(generator, [classifier], [(0.0, 0.0)])
    torch.testing.assert_close(
        generator.sample_latents({}, 8, seed=3, guides=guides),
        generator.sample_latents({}, 8, seed=3),
        rtol=0,
        atol=0,
    )


def test_a_classifier_that_does_not_fit_the_generator_is_refused(guided_setup):
    generator, classifier, _, _ = guided_setup
    with pytest.raises(ParamgenError, match="one weight per class"):
        latent_guides(generator, [classifier], [(1.0, 1.0, 1.0)])
    with pytest.raises(ParamgenError, match="one weight list per classifier"):
        latent_guides(generator, [classifier], [])
    other_path = type(classifier)("mlp", classifier.input_shape, ("a", "b"), 8, "ddpm")
    with pytest.raises(ParamgenError, match="trained along the 'ddpm' path"):
        latent_guides(generator, [other_path], [(1.0, 1.0)])
    other_shape = type(classifier)("mlp", (3,), ("a", "b"), 8, generator.config.path)
    with pytest.raises(ParamgenError, match="reads inputs of shape"):
        latent_guides(generator, [other_shape], [(1.0, 1.0)])


def test_a_classifier_of_another_generators_latents_is_refused(guided_setup, tmp_path):
    """Same path and latent shape, another fit (seed): the latent spaces differ, so the guide
    would steer at random; refused, also after a save and load of the classifier."""
    generator, classifier, data, _ = guided_setup
    saved = type(classifier).from_pretrained(classifier.save_pretrained(tmp_path / "cls"))
    assert saved.fitted_on == classifier.fitted_on == latent_space_id(generator)
    latent_guides(generator, [saved], [(1.0, 1.0)])  # its own generator: accepted
    other = ParamGenerator.fit(
        data, replace(generator.config, seed=1, ae_steps=2, denoiser_steps=2)
    )
    with pytest.raises(ParamgenError, match="another generator's latents"):
        latent_guides(other, [saved], [(1.0, 1.0)])
