"""Multi-guidance on a 1-D two-Gaussian mixture, where every quantity has a closed form.

Data: ½·N(−2, 0.5²) (class 0) + ½·N(+2, 0.5²) (class 1). At path time t, x_t = β·x₁ + α·ε, so
class c is N(β·μ_c, β²s² + α²): the exact unconditional prediction (ε or velocity), the exact
class-conditional one and the exact Bayes classifier p(c | x_t, t) follow, the classifier in torch
ops so that autograd gives its gradient.
"""

from __future__ import annotations

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.guidance import Guide, MultiGuidance
from paramgen.paths import ContinuousPath, make_path
from paramgen.paths.continuous import GUIDANCE_BETA_FLOOR
from paramgen.solvers import sample

MEANS, SPREAD = (-2.0, 2.0), 0.5
PATHS = ("ddpm", "ddpm-scaled-linear-zero-snr-v", "linear", "trig", "linear+brownian")


def _moments(path, x, t, c):
    """Mean and variance of class c at t, and the path's (data, noise) weights."""
    beta, alpha = path.mixing(t, x)
    return beta * MEANS[c], beta**2 * SPREAD**2 + alpha**2, beta, alpha


def bayes_logits(path):
    """logits [N, 2] of p(c | x_t, t), equal priors."""

    def classifier(x, t):
        columns = []
        for c in (0, 1):
            mean, variance, _, _ = _moments(path, x, t, c)
            columns.append(-0.5 * (x - mean) ** 2 / variance - 0.5 * torch.log(variance))
        return torch.cat(columns, dim=1)

    return classifier


def class_prediction(path, x, t, c):
    """The exact prediction (ε or velocity) of the model of class c alone."""
    mean, variance, beta, alpha = _moments(path, x, t, c)
    noise = alpha * (x - mean) / variance  # E[ε | x_t, c]
    data = MEANS[c] + beta * SPREAD**2 * (x - mean) / variance  # E[x₁ | x_t, c]
    if not isinstance(path, ContinuousPath):
        return path.target(data, noise, beta**2)
    coefficients = path.coefficients(t, like=x)
    return coefficients.d_alpha * noise + coefficients.d_beta * data


def unconditional(path):
    """The exact prediction of the mixture: the class predictions weighted by p(c | x_t)."""

    def model(x, t):
        posterior = torch.softmax(bayes_logits(path)(x, t), dim=1)
        return sum(posterior[:, c : c + 1] * class_prediction(path, x, t, c) for c in (0, 1))

    return model


def _times(path, n):
    """Model times where the data weight is above the guidance floor."""
    if isinstance(path, ContinuousPath):
        return torch.linspace(0.2, 0.95, n, dtype=torch.float64)
    last = min(900, int((path.alphas_cumprod.sqrt() >= GUIDANCE_BETA_FLOOR).sum()) - 1)
    return torch.linspace(50, last, n, dtype=torch.float64).round() / path.steps


@pytest.mark.parametrize("name", PATHS)
@pytest.mark.parametrize("c", [0, 1])
def test_one_class_guidance_of_the_mixture_is_the_class_model(name, c):
    """Sign and scale: the mixture guided by the exact classifier towards class c, weight 1, is
    the exact model of class c (∇log p(x|c) = ∇log p(x) + ∇log p(c|x), through the path's gain)."""
    path = make_path(name)
    x = torch.linspace(-3, 3, 41, dtype=torch.float64)[:, None]
    t = _times(path, 41)
    weights = (1.0, 0.0) if c == 0 else (0.0, 1.0)
    guided = MultiGuidance(unconditional(path), path, [Guide(bayes_logits(path), weights)])
    torch.testing.assert_close(guided(x, t), class_prediction(path, x, t, c), rtol=1e-6, atol=1e-8)


def test_the_gain_is_capped_near_the_noise_end_of_a_velocity_path():
    path = make_path("linear")
    t = torch.tensor([0.0, 0.05, 0.1, 0.5], dtype=torch.float64)
    gain = path.guidance_gain(t, t[:, None]).flatten()
    torch.testing.assert_close(gain, torch.tensor([10.0, 9.5, 9.0, 1.0], dtype=torch.float64))


@pytest.mark.parametrize(("name", "sampler"), [("ddpm", "ddpm"), ("linear", "heun")])
def test_zero_weights_are_the_unguided_sampler(name, sampler):
    path = make_path(name)
    noise = torch.randn(64, 1, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    runs = []
    for model in (
        unconditional(path),
        MultiGuidance(unconditional(path), path, [Guide(bayes_logits(path), (0.0, 0.0))]),
    ):
        rng = torch.Generator().manual_seed(1)
        runs.append(sample(path, model, noise, sampler=sampler, steps=20, generator=rng))
    assert torch.equal(runs[0], runs[1])


def _bayes_probability_at_data(x):
    """p(c = 1 | x₁) of the clean mixture."""
    return torch.sigmoid(2 * MEANS[1] * x / SPREAD**2)


def _gap_share(x):
    """Share of samples in the gap between the modes, |x| < 0.5 (3 sd from either mode)."""
    return (x.abs() < 0.5).double().mean().item()


def _noise():
    return torch.randn(500, 1, generator=torch.Generator().manual_seed(2), dtype=torch.float64)


@pytest.mark.parametrize(("name", "sampler"), [("ddpm", "ddpm"), ("linear", "heun")])
def test_the_unguided_mixture_leaves_the_gap_empty(name, sampler):
    path = make_path(name)
    rng = torch.Generator().manual_seed(3)
    x = sample(path, unconditional(path), _noise(), sampler=sampler, steps=50, generator=rng)
    assert _gap_share(x) < 0.01
    assert (x > 0).double().mean().item() == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize(
    ("name", "sampler", "steps"), [("ddpm", "ddpm", 1000), ("linear", "heun", 200)]
)
@pytest.mark.parametrize("weights", [(30.0, 30.0), (15.0, 35.0)])
def test_multi_guidance_concentrates_where_the_classifier_says_w1_over_w0_plus_w1(
    name, sampler, steps, weights
):
    """Guided over both classes, samples land in the gap the unguided model leaves empty, where
    p(c=1 | x) = w₁/(w₀ + w₁). Weights this large make the guided ODE stiff: with 50 Heun steps
    (15, 35) overshoots to p = 0.85, so the step counts here are where it has settled."""
    path = make_path(name)
    model = MultiGuidance(unconditional(path), path, [Guide(bayes_logits(path), weights)])
    rng = torch.Generator().manual_seed(3)
    x = sample(path, model, _noise(), sampler=sampler, steps=steps, generator=rng)
    assert _gap_share(x) > 0.8
    probability = _bayes_probability_at_data(x).median().item()
    assert probability == pytest.approx(weights[1] / sum(weights), abs=0.05)


def test_weights_must_match_the_classes_and_be_non_negative():
    path = make_path("linear")
    x, t = torch.zeros(3, 1, dtype=torch.float64), torch.full((3,), 0.5, dtype=torch.float64)
    with pytest.raises(ParamgenError, match="one weight per class"):
        MultiGuidance(unconditional(path), path, [Guide(bayes_logits(path), (1.0, 1.0, 1.0))])(x, t)
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ParamgenError, match="finite number >= 0"):
            Guide(bayes_logits(path), (bad, 1.0))


def test_a_path_without_a_score_map_refuses_guidance():
    path = make_path("mac", weights=0.3 * torch.ones(2, 2, 3, 1))
    with pytest.raises(ParamgenError, match="does not support classifier guidance"):
        MultiGuidance(lambda x, t: x, path, [Guide(lambda x, t: torch.zeros(len(x), 2), (1, 1))])


def test_several_classifiers_add_their_terms():
    """Two attributes at once (the paper's two-classifier experiment): the guided prediction
    moves by the sum of what each guide alone moves it by."""
    path = make_path("linear")
    x = torch.linspace(-3, 3, 9, dtype=torch.float64)[:, None]
    t = torch.full((9,), 0.6, dtype=torch.float64)
    bare = unconditional(path)
    first = Guide(bayes_logits(path), (2.0, 5.0))
    second = Guide(lambda x, t: torch.cat([x, -x, x**2], dim=1), (1.0, 0.0, 3.0))
    shift = {
        name: MultiGuidance(bare, path, guides)(x, t) - bare(x, t)
        for name, guides in (("first", [first]), ("second", [second]), ("both", [first, second]))
    }
    torch.testing.assert_close(shift["both"], shift["first"] + shift["second"])
