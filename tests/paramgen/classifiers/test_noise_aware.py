"""Noise-aware classifiers learn p(c | x_t, t) along a path, calibrate, and refuse bad data."""

from __future__ import annotations

import pytest
import torch

from paramgen.classifiers import calibrate_temperature, train_noise_aware_classifier
from paramgen.errors import ParamgenError
from paramgen.paths import make_path

pytestmark = pytest.mark.usefixtures("one_thread")


def mixture(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ½·N(−2, 0.5²) (label 0) + ½·N(+2, 0.5²) (label 1), as [n, 1]."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(2, (n,), generator=generator)
    rows = (4.0 * labels - 2.0 + 0.5 * torch.randn(n, generator=generator))[:, None]
    return rows, labels


def bayes_probability(path, x, t):
    """p(c = 1 | x_t) of the noised mixture, whose classes are N(±2β, β²·0.25 + α²)."""
    beta, alpha = path.mixing(t, x)
    variance = beta**2 * 0.25 + alpha**2
    return torch.sigmoid(2 * 2.0 * beta * x / variance).flatten()


@pytest.mark.parametrize("name", ["linear", "ddpm"])
def test_the_classifier_learns_the_bayes_posterior_at_every_noise_level(name):
    path = make_path(name)
    rows, labels = mixture(2000, seed=0)
    fit = train_noise_aware_classifier(path, rows, labels, steps=600, width=64, seed=0)
    assert fit.heldout_rows == 400
    assert fit.heldout_nll <= fit.heldout_nll_uncalibrated + 1e-6
    test, _ = mixture(1000, seed=1)
    noise = torch.randn(test.shape, generator=torch.Generator().manual_seed(2))
    drawn = path.sample_training(test, noise, torch.Generator().manual_seed(3))
    with torch.no_grad():
        learned = torch.softmax(fit.classifier(drawn.x_t, drawn.t), dim=1)[:, 1]
    error = (learned - bayes_probability(path, drawn.x_t.double(), drawn.t.double())).abs()
    assert error.mean().item() < 0.05


def test_the_image_classifier_tells_images_apart_when_the_noise_is_low():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(2, (400,), generator=generator)
    images = 0.1 * torch.randn(400, 1, 16, 16, generator=generator)
    images[labels == 0, :, :, :8] += 1.0  # bright left half
    images[labels == 1, :, :, 8:] += 1.0  # bright right half
    path = make_path("linear")
    fit = train_noise_aware_classifier(path, images, labels, net="conv", width=8, steps=200)
    with torch.no_grad():
        late = fit.classifier(images[:100], torch.full((100,), 0.9)).argmax(dim=1)
    assert (late == labels[:100]).float().mean().item() > 0.95
    assert fit.classifier.input_shape == (1, 16, 16) and fit.classifier.path == "linear"


def test_calibration_recovers_the_temperature_of_overconfident_logits():
    generator = torch.Generator().manual_seed(0)
    logits = 2 * torch.randn(20000, 3, generator=generator)
    labels = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=generator).flatten()
    assert calibrate_temperature(3 * logits, labels) == pytest.approx(3.0, rel=0.1)


@pytest.mark.parametrize(
    ("rows", "labels", "match"),
    [
        (torch.full((4, 2), float("nan")), torch.tensor([0, 1, 0, 1]), "NaN"),
        (torch.zeros(4, 2), torch.tensor([0, 1, 0, 5]), r"must lie in \[0, 2\)"),
        (torch.zeros(4, 2), torch.tensor([0, 0, 0, 0]), "have no rows"),
        (torch.zeros(4, 2), torch.tensor([0, 1]), "one label per row"),
    ],
)
def test_bad_training_data_is_refused_by_name(rows, labels, match):
    with pytest.raises(ParamgenError, match=match):
        train_noise_aware_classifier(make_path("linear"), rows, labels, class_names=("a", "b"))
