"""One More Step: the learned first step in front of a frozen DDPM sampler."""

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.paths import make_path
from paramgen.solvers import OneMoreStep, sample, train_one_more_step

pytestmark = pytest.mark.usefixtures("one_thread")


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def frozen_model(x, t, **extras):
    """Any deterministic model: a fixed map of x and t (the sampler's part is not under test)."""
    return 0.3 * x + t[:, None]


def zero_step(shape=(1,)) -> OneMoreStep:
    """A step whose x̂₀ is exactly 0 (its last layer zeroed)."""
    step = OneMoreStep(shape, width=8)
    torch.nn.init.zeros_(step.body[-1].weight)
    torch.nn.init.zeros_(step.body[-1].bias)
    return step


def test_with_zero_terminal_snr_the_first_step_is_sampling_from_pure_noise():
    """ᾱ at the first trailing step is 0: x_T' = z, so the pipeline is the sampler started from
    the fresh draw z, whatever the step's x̂₀."""
    path = make_path("ddpm-scaled-linear-zero-snr-v")
    step = OneMoreStep((2,), width=8)
    noise = torch.randn(16, 2, generator=seeded(0))
    with_step = sample(
        path, frozen_model, noise, sampler="ddim", steps=10, first_step=step, generator=seeded(5)
    )
    fresh = torch.randn(16, 2, generator=seeded(5))
    plain = sample(path, frozen_model, fresh, sampler="ddim", steps=10)
    torch.testing.assert_close(with_step, plain, rtol=0, atol=0)


def test_fresh_noise_is_scaled_by_the_standard_deviation_not_the_variance():
    """q(x_k | x₀) = N(√ᾱ·x₀, (1 − ᾱ)·I): with x̂₀ = 0 and ᾱ = 0.5 the variance must be 0.5 (the
    reference code's (1 − ᾱ)·z would give 0.25)."""
    n = 40_000
    x = zero_step()(torch.randn(n, 1, generator=seeded(1)), 0.5, generator=seeded(2))
    assert x.mean().abs().item() < 5 * (0.5 / n) ** 0.5
    assert x.var().item() == pytest.approx(0.5, abs=5 * 0.5 * (2 / n) ** 0.5)


def test_the_step_starts_the_sampler_at_its_first_timestep():
    """On Stable Diffusion's schedule with 20 leading steps the step is given ᾱ_951, not ᾱ_999."""
    path = make_path("ddpm-scaled-linear")
    seen = []

    def recording_step(noise, alpha_bar, *, generator=None, **extras):
        seen.append(alpha_bar)
        return noise

    sample(
        path, frozen_model, torch.zeros(2, 1), sampler="ddim", steps=20, first_step=recording_step
    )
    assert seen == [path.alphas_cumprod[951].item()]


def test_trained_on_a_mixture_the_step_recovers_each_class_mean():
    """ε is independent of x₀, so ψ(ε, c) → E[x₀ | c]: the class means of a 1-D mixture."""
    means = torch.tensor([-2.0, 0.5, 3.0])
    labels = torch.arange(3).repeat(400)
    data = (means[labels] + 0.3 * torch.randn(len(labels), generator=seeded(3)))[:, None]
    torch.manual_seed(0)
    step = OneMoreStep((1,), classes=3, width=16)
    losses = train_one_more_step(step, data, labels=labels, steps=800, lr=3e-3, seed=4)
    assert sum(losses[-50:]) < 0.1 * sum(losses[:50])  # down to about the spread, 0.3²
    noise = torch.randn(3000, 1, generator=seeded(6))
    for c in range(3):
        estimate = step.estimate(noise, labels=torch.full((3000,), c)).detach()
        assert estimate.mean().item() == pytest.approx(means[c].item(), abs=0.1)


def test_guidance_scale_extrapolates_from_the_null_condition():
    torch.manual_seed(0)
    step = OneMoreStep((3,), condition_dim=2, width=8, guidance_scale=2.5)
    noise, condition = torch.randn(4, 3), torch.randn(4, 2)
    conditional = step.estimate(noise, condition=condition)
    unconditional = step.estimate(noise, condition=torch.zeros(4, 2))
    torch.testing.assert_close(
        step.guided_estimate(noise, condition=condition),
        unconditional + 2.5 * (conditional - unconditional),
    )
    step.guidance_scale = 1.0
    torch.testing.assert_close(step.guided_estimate(noise, condition=condition), conditional)


def test_condition_dropout_teaches_the_null_condition_the_overall_mean():
    means = torch.tensor([-1.0, 2.0])
    labels = torch.arange(2).repeat(300)
    data = means[labels][:, None]
    torch.manual_seed(0)
    step = OneMoreStep((1,), classes=2, width=16)
    train_one_more_step(step, data, labels=labels, steps=800, lr=3e-3, drop_condition=0.3, seed=1)
    null = step.estimate(torch.randn(2000, 1), labels=torch.full((2000,), 2)).detach()
    assert null.mean().item() == pytest.approx(means.mean().item(), abs=0.15)


def test_bad_inputs_are_refused_by_name():
    step = OneMoreStep((1, 4, 4), classes=3, width=8)
    with pytest.raises(ParamgenError, match=r"expects noise \[N, 1, 4, 4\]"):
        step.estimate(torch.randn(2, 16), labels=torch.tensor([0, 1]))
    with pytest.raises(ParamgenError, match="pass labels"):
        step.estimate(torch.randn(2, 1, 4, 4))
    with pytest.raises(ParamgenError, match="ints in"):
        step.estimate(torch.randn(2, 1, 4, 4), labels=torch.tensor([0, 7]))
    with pytest.raises(ParamgenError, match="needs a DDPM path"):
        sample(
            make_path("linear"),
            frozen_model,
            torch.zeros(2, 1),
            sampler="heun",
            steps=2,
            first_step=zero_step(),
        )
    with pytest.raises(ParamgenError, match="NaN"):
        train_one_more_step(zero_step(), torch.full((4, 1), float("nan")), steps=1)
    with pytest.raises(ParamgenError, match="not both"):
        OneMoreStep((1,), classes=2, condition_dim=3)


def test_a_guidance_that_is_not_finite_and_empty_data_are_refused():
    with pytest.raises(ParamgenError, match="guidance_scale must be a finite number"):
        OneMoreStep((1,), classes=2, guidance_scale=float("nan"))
    with pytest.raises(ParamgenError, match="no rows"):
        train_one_more_step(zero_step(), torch.zeros(0, 1), steps=1)
