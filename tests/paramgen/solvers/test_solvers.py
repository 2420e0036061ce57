"""Linear, trig and DDPM specifics against closed forms: what the path and sampler batteries
(tests/paramgen/paths, tests/paramgen/solvers) do not check for every path: t = 1 included in the
noise/data solve, the Gaussian velocity as a regression, DDPM's schedule and timesteps, Dirac
targets, seeding, the strided ancestral chain and the registries' contents.

For data N(m, s²) (independent dims) every path's marginal is Gaussian and the exact fields are
known, so the samplers can be checked against the exact answer instead of a trained model:

* continuous: x_t ~ N(β·m, σ²), σ² = α² + β²s²; the 1-D flow is the affine map x_t = β·m + σ·z,
  hence v = β̇·m + (α·α̇ + β·β̇·s²)/σ² · (x − β·m) and the ODE sends noise z to m + s·z exactly;
* DDPM: x_k ~ N(√ᾱ·m, ᾱs² + 1 − ᾱ) and ε̂ = E[ε | x_k] = √(1 − ᾱ)·(x − √ᾱ·m)/(ᾱs² + 1 − ᾱ).
"""

import math

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.paths import (
    ContinuousPath,
    DDPMPath,
    LinearPath,
    TrigPath,
    expand_like,
    generator_path_names,
    make_path,
)
from paramgen.solvers import SAMPLERS, ddpm_timesteps, sample, samplers_for

CONTINUOUS = [LinearPath(), TrigPath()]
MEAN = torch.tensor([1.5, -2.0, 0.0])
STD = torch.tensor([0.5, 2.0, 1.0])
N = 20_000


pytestmark = pytest.mark.usefixtures("one_thread")


def by_name(paths):
    return pytest.mark.parametrize("path", paths, ids=[p.name for p in paths])


def gaussian_velocity(path: ContinuousPath, mean=MEAN, std=STD):
    def model(x, t, **extras):
        c = path.coefficients(t, like=x)
        var = c.alpha**2 + c.beta**2 * std**2
        gain = (c.alpha * c.d_alpha + c.beta * c.d_beta * std**2) / var
        return c.d_beta * mean + gain * (x - c.beta * mean)

    return model


def gaussian_epsilon(path: DDPMPath, mean=MEAN, std=STD):
    def model(x, t, **extras):
        k = torch.round(t * path.steps).long()
        bar = expand_like(path.alphas_cumprod[k], x).to(x)
        return (1 - bar).sqrt() * (x - bar.sqrt() * mean) / (bar * std**2 + 1 - bar)

    return model


def noise(seed: int = 0, n: int = N, dims: int = 3) -> torch.Tensor:
    return torch.randn(n, dims, generator=torch.Generator().manual_seed(seed))


# --- coefficients -------------------------------------------------------------------------------


def test_coefficients_expand_against_x():
    x = torch.zeros(5, 3, 4)
    c = LinearPath().coefficients(torch.rand(5), like=x)
    assert c.alpha.shape == c.d_beta.shape == (5, 1, 1)


@by_name(CONTINUOUS)
def test_noise_and_data_recovered_from_true_velocity(path):
    g = torch.Generator().manual_seed(1)
    eps, data = (torch.randn(7, 2, 5, generator=g, dtype=torch.float64) for _ in range(2))
    t = torch.cat([torch.tensor([0.0, 1.0]), torch.rand(5, generator=g)]).double()
    c = path.coefficients(t, like=data)
    x_t, v = c.alpha * eps + c.beta * data, c.d_alpha * eps + c.d_beta * data
    eps_hat, data_hat = path.noise_and_data_from_velocity(x_t, v, t)
    assert torch.allclose(eps_hat, eps, atol=1e-10)
    assert torch.allclose(data_hat, data, atol=1e-10)


def test_gaussian_velocity_is_the_regression_of_the_target():
    """The flow-matching target regressed on x_t at fixed t is the closed-form field."""
    path, t = LinearPath(), 0.3
    g = torch.Generator().manual_seed(4)
    eps, data = (
        torch.randn(200_000, 3, generator=g),
        MEAN + STD * torch.randn(200_000, 3, generator=g),
    )
    x_t, target = (1 - t) * eps + t * data, data - eps
    x_c, y_c = x_t - x_t.mean(0), target - target.mean(0)
    slope = (x_c * y_c).mean(0) / (x_c**2).mean(0)
    intercept = target.mean(0) - slope * x_t.mean(0)
    model, times = gaussian_velocity(path), torch.full((1,), t)
    at0, at1 = model(torch.zeros(1, 3), times)[0], model(torch.ones(1, 3), times)[0]
    assert torch.allclose(at0, intercept, atol=0.02)
    assert torch.allclose(at1 - at0, slope, atol=0.02)
    # the brief's form: v = (E[x1 | x_t] − x_t)/(1 − t), E[x1 | x_t] = m + t·s²(x_t − t·m)/D
    x = torch.randn(10, 3, generator=g)
    posterior = MEAN + t * STD**2 * (x - t * MEAN) / ((1 - t) ** 2 + t**2 * STD**2)
    assert torch.allclose(model(x, torch.full((10,), t)), (posterior - x) / (1 - t), atol=1e-5)


# --- training pairs -----------------------------------------------------------------------------


def test_ddpm_training_pair_predicts_noise_at_integer_steps():
    path = DDPMPath()
    data, eps = noise(6, n=20_000) + 3, noise(7, n=20_000)
    pair = path.sample_training(data, eps, torch.Generator().manual_seed(0))
    k = pair.t * path.steps
    assert torch.allclose(k, k.round(), atol=1e-3)
    assert k.round().unique().tolist() == list(range(1000))  # every step, both ends included
    bar = path.alphas_cumprod[k.round().long()][:, None].float()
    assert torch.allclose(pair.x_t, bar.sqrt() * data + (1 - bar).sqrt() * eps, atol=1e-5)
    assert torch.equal(pair.target, eps)


def test_ddpm_schedule():
    path = DDPMPath()
    assert path.betas[0].item() == pytest.approx(1e-4) and path.betas[-1].item() == pytest.approx(
        2e-2, rel=1e-12
    )
    for k in (0, 10, 500, 999):
        direct = math.prod(1 - path.betas[j].item() for j in range(k + 1))
        assert path.alphas_cumprod[k].item() == pytest.approx(direct, rel=1e-10)
    assert (path.alphas_cumprod.diff() < 0).all()
    assert path.alphas_cumprod[-1].item() == pytest.approx(4.036e-5, rel=1e-3)


def test_ddpm_timesteps_are_linspace_with_both_ends():
    path = DDPMPath()
    fifty = ddpm_timesteps(path, 50)
    assert len(fifty) == 50 and fifty[0] == 999 and fifty[-1] == 0
    assert all(a > b for a, b in zip(fifty, fifty[1:], strict=False))
    assert ddpm_timesteps(path, 1000) == list(range(999, -1, -1))
    assert ddpm_timesteps(path, 1) == [999]


# --- continuous samplers ------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 3, 10, 50])
def test_euler_lands_on_a_dirac(steps):
    c = torch.tensor([0.7, -1.2, 3.0])

    def dirac(x, t):
        return (c - x) / (1 - t).clamp_min(1e-6)[:, None]

    out = sample(LinearPath(), dirac, noise(n=256), sampler="euler", steps=steps)
    assert torch.allclose(out, c.expand_as(out), atol=1e-5)


def test_euler_maruyama_is_seeded_and_reduces_to_euler_without_diffusion():
    path, model, z = TrigPath(), gaussian_velocity(TrigPath()), noise(12, n=100)

    def run(seed, diffusion):
        gen = torch.Generator().manual_seed(seed)
        return sample(
            path, model, z, sampler="euler-maruyama", steps=20, diffusion=diffusion, generator=gen
        )

    assert torch.equal(run(0, 1.0), run(0, 1.0)) and not torch.equal(run(0, 1.0), run(1, 1.0))
    assert torch.allclose(run(0, 0.0), sample(path, model, z, sampler="euler", steps=20))


# --- DDPM samplers ------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler,steps", [("ddim", 50), ("ddpm", 1000), ("ddpm", 37)])
def test_ddpm_samplers_land_on_a_dirac(sampler, steps):
    path, c = DDPMPath(), torch.tensor([0.7, -1.2, 3.0])
    model = gaussian_epsilon(path, mean=c, std=torch.zeros(3))
    out = sample(
        path,
        model,
        noise(n=256),
        sampler=sampler,
        steps=steps,
        generator=torch.Generator().manual_seed(13),
    )
    assert torch.allclose(out, c.expand_as(out), atol=1e-3)


def test_strided_ancestral_ddpm_reaches_the_gaussian():
    """β̃ is the smaller of the two textbook variances: strided chains come out a little narrow
    (std × ≈0.94–0.97 at 100 steps for this target, even with the exact ε). The sampler battery
    checks the full 1000-step chain."""
    steps, std_tolerance = 100, 0.1
    path = DDPMPath()
    out = sample(
        path,
        gaussian_epsilon(path),
        noise(15),
        sampler="ddpm",
        steps=steps,
        generator=torch.Generator().manual_seed(16),
    )
    assert torch.allclose(out.mean(0), MEAN, atol=0.05)
    assert torch.allclose(out.std(0), STD, atol=std_tolerance)


# --- plumbing and errors ------------------------------------------------------------------------


def test_registries_are_consistent():
    assert all(make_path(name).name == name for name in generator_path_names())
    assert samplers_for(LinearPath()) == ["euler", "heun", "euler-maruyama"]
    assert samplers_for(DDPMPath()) == ["ddpm", "ddim"]
    assert set(SAMPLERS) == {"euler", "heun", "euler-maruyama", "ddpm", "ddim", "gamma-euler"}


def test_unknown_path_lists_the_valid_names():
    with pytest.raises(ParamgenError, match="unknown path 'rectified'.*linear, trig, ddpm"):
        make_path("rectified")


def test_ddpm_samplers_refuse_more_steps_than_the_path_has():
    """The sampler battery (tests/paramgen/solvers) checks the errors every sampler shares."""
    with pytest.raises(ParamgenError, match="steps must be <= 1000"):
        sample(DDPMPath(), lambda x, t: x, noise(n=4), sampler="ddim", steps=1001)
