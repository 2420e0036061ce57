"""Paths and samplers against closed forms: coefficients, training pairs, Dirac and Gaussian flows.

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
ALL_PATHS = [LinearPath(), TrigPath(), DDPMPath()]
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


@by_name(CONTINUOUS)
def test_coefficients_hit_noise_at_0_and_data_at_1(path):
    c = path.coefficients(torch.tensor([0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(c.alpha, torch.tensor([1.0, 0.0], dtype=torch.float64), atol=1e-12)
    assert torch.allclose(c.beta, torch.tensor([0.0, 1.0], dtype=torch.float64), atol=1e-12)


@by_name(CONTINUOUS)
def test_coefficient_derivatives_match_autograd(path):
    t = torch.linspace(0, 1, 21, dtype=torch.float64, requires_grad=True)
    c = path.coefficients(t)
    (d_alpha,) = torch.autograd.grad(path.alpha_t(t).sum(), t)
    (d_beta,) = torch.autograd.grad(path.beta_t(t).sum(), t)
    assert torch.allclose(c.d_alpha, d_alpha, atol=1e-12)
    assert torch.allclose(c.d_beta, d_beta, atol=1e-12)


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


@by_name(CONTINUOUS)
def test_score_is_the_gaussian_score(path):
    t = torch.rand(N, generator=torch.Generator().manual_seed(2)) * 0.98
    x = noise(3) * 2
    c = path.coefficients(t, like=x)
    exact = -(x - c.beta * MEAN) / (c.alpha**2 + c.beta**2 * STD**2)
    assert torch.allclose(path.score(x, gaussian_velocity(path)(x, t), t), exact, atol=1e-4)


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


@by_name(ALL_PATHS)
def test_sample_training_shapes_and_reproducibility(path):
    g = torch.Generator().manual_seed(5)
    data, eps = torch.randn(6, 3, 4, generator=g), torch.randn(6, 3, 4, generator=g)
    first = path.sample_training(data, eps, torch.Generator().manual_seed(9))
    again = path.sample_training(data, eps, torch.Generator().manual_seed(9))
    other = path.sample_training(data, eps, torch.Generator().manual_seed(10))
    assert first.x_t.shape == first.target.shape == data.shape and first.t.shape == (6,)
    assert 0 <= first.t.min() and first.t.max() < 1
    assert torch.equal(first.x_t, again.x_t) and torch.equal(first.t, again.t)
    assert not torch.equal(first.t, other.t)


@by_name(CONTINUOUS)
def test_continuous_training_pair_follows_the_formulas(path):
    data, eps = noise(6, n=64) + 3, noise(7, n=64)
    pair = path.sample_training(data, eps)
    a, b = path.alpha_t(pair.t)[:, None], path.beta_t(pair.t)[:, None]
    da, db = path.d_alpha_t(pair.t)[:, None], path.d_beta_t(pair.t)[:, None]
    assert torch.allclose(pair.x_t, a * eps + b * data, atol=1e-6)
    assert torch.allclose(pair.target, da * eps + db * data, atol=1e-6)


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


@by_name(CONTINUOUS)
def test_heun_transports_noise_to_the_gaussian_exactly(path):
    z = noise(8)
    out = sample(path, gaussian_velocity(path), z, sampler="heun", steps=64)
    assert (out - (MEAN + STD * z)).abs().max() < 3e-3
    assert torch.allclose(out.mean(0), MEAN, atol=0.05)
    assert torch.allclose(out.std(0), STD, atol=0.05)


@by_name(CONTINUOUS)
def test_euler_is_first_order_and_heun_second_order(path):
    z = noise(9, n=2000)
    exact = MEAN + STD * z

    def error(sampler, steps):
        out = sample(path, gaussian_velocity(path), z, sampler=sampler, steps=steps)
        return (out - exact).abs().max().item()

    assert error("heun", 8) < error("euler", 8) / 4
    assert 1.8 < error("euler", 32) / error("euler", 64) < 2.2
    assert 3.5 < error("heun", 32) / error("heun", 64) < 4.5


@by_name(CONTINUOUS)
def test_euler_maruyama_reaches_the_gaussian(path):
    out = sample(
        path,
        gaussian_velocity(path),
        noise(10),
        sampler="euler-maruyama",
        steps=200,
        diffusion=1.0,
        generator=torch.Generator().manual_seed(11),
    )
    assert torch.allclose(out.mean(0), MEAN, atol=0.1)
    assert torch.allclose(out.std(0), STD, atol=0.1)


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


def test_ddim_converges_to_the_probability_flow_map_at_first_order():
    path, z = DDPMPath(), noise(14, n=2000)
    bar = path.alphas_cumprod[-1].item()
    exact = MEAN + STD * (z - math.sqrt(bar) * MEAN) / (bar * STD**2 + 1 - bar).sqrt()

    def error(steps):
        out = sample(path, gaussian_epsilon(path), z, sampler="ddim", steps=steps)
        return (out - exact).abs().max().item()

    assert error(100) < 0.15
    assert 1.8 < error(50) / error(100) < 2.2


@pytest.mark.parametrize("steps,std_tolerance", [(1000, 0.05), (100, 0.1)])
def test_ancestral_ddpm_reaches_the_gaussian(steps, std_tolerance):
    """β̃ is the smaller of the two textbook variances: strided chains come out a little narrow
    (std × ≈0.94–0.97 at 100 steps for this target, even with the exact ε)."""
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


@pytest.mark.parametrize(
    "path,sampler",
    [(p, s) for p in ALL_PATHS for s in samplers_for(p)],
    ids=[f"{p.name}-{s}" for p in ALL_PATHS for s in samplers_for(p)],
)
def test_extras_reach_every_model_call(path, sampler):
    token, calls = object(), []

    def model(x, t, *, cond):
        assert cond is token and t.shape == (x.shape[0],) and t.dtype == x.dtype
        calls.append(float(t[0]))
        return torch.zeros_like(x)

    out = sample(path, model, noise(n=8), sampler=sampler, steps=5, cond=token)
    assert out.shape == (8, 3) and len(calls) == (10 if sampler == "heun" else 5)
    assert all(0 <= t <= 1 for t in calls)


def test_registries_are_consistent():
    assert all(make_path(name).name == name for name in generator_path_names())
    assert samplers_for(LinearPath()) == ["euler", "heun", "euler-maruyama"]
    assert samplers_for(DDPMPath()) == ["ddpm", "ddim"]
    assert set(SAMPLERS) == {"euler", "heun", "euler-maruyama", "ddpm", "ddim", "gamma-euler"}


def test_unknown_path_lists_the_valid_names():
    with pytest.raises(ParamgenError, match="unknown path 'rectified'.*linear, trig, ddpm"):
        make_path("rectified")


@pytest.mark.parametrize(
    "path,kwargs,message",
    [
        (LinearPath(), {"sampler": "rk4", "steps": 5}, "unknown sampler 'rk4'.*euler, heun"),
        (LinearPath(), {"sampler": "ddim", "steps": 5}, "'ddim' does not fit.*euler, heun"),
        (DDPMPath(), {"sampler": "heun", "steps": 5}, "'heun' does not fit.*ddpm, ddim"),
        (LinearPath(), {"sampler": "euler", "steps": 0}, "steps must be an integer >= 1, got 0"),
        (DDPMPath(), {"sampler": "ddim", "steps": 1001}, "steps must be <= 1000"),
        (TrigPath(), {"sampler": "euler", "steps": 5, "diffusion": -1}, "diffusion must be"),
    ],
)
def test_bad_sampler_arguments_are_clear_errors(path, kwargs, message):
    with pytest.raises(ParamgenError, match=message):
        sample(path, lambda x, t: x, noise(n=4), **kwargs)
