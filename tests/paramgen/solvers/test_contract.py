"""The sampler contract, run on every registered sampler and every registered path it fits
(``path_example``): registering either is what gets it tested.

The flows are closed form. For 1-D data N(μ, s²) every path's marginal is Gaussian and the exact
model is known: the velocity v* = α̇·E[noise | x] + β̇·E[data | x] of a continuous path (V = α² +
β²s², E[noise | x] = α(x − βμ)/V, E[data | x] = μ + βs²(x − βμ)/V), the noise
ε* = √(1 − ᾱ)(x − √ᾱμ)/((1 − ᾱ) + ᾱs²) of the DDPM path at ᾱ = ᾱ_k, k = round(t·T) (or its
v* = √ᾱ·ε* − √(1 − ᾱ)·E[data | x]), and the
linear path's velocity at the row's mean data weight for a MAC path (paths/mac.py). In 1-D a MAC
path's weights are trivially the same in every dimension, so ``gamma-euler`` is Euler on the
linear path along the warped times β(t_i) (solvers/mac.py). The exact flow map keeps the
standardised value: noise z ↦ μ + s·z (DDPM: from ᾱ_{T−1}, where its samplers start).

Deterministic samplers must show their registered order (the error ratio between n and 2n steps
is 2^order, ±0.3 in the exponent); stochastic ones must reach the data's mean and variance.
"""

import inspect
import math
from dataclasses import dataclass

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.paths import (
    ContinuousPath,
    DDPMPath,
    LinearPath,
    MacPath,
    Path,
    expand_like,
    path_example,
    path_names,
)
from paramgen.solvers import SAMPLERS, sample, samplers_for

pytestmark = pytest.mark.usefixtures("one_thread")

MU, S = 1.5, 0.7  # s = 0.5 would make σ(t) linear on linear+brownian, where Euler is exact


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def example(name: str, shape: tuple[int, ...]) -> Path:
    return path_example(name, shape, seeded(0))


FITS = [(sampler, name) for name in path_names() for sampler in samplers_for(example(name, (2, 1)))]
DETERMINISTIC = [(sampler, name) for sampler, name in FITS if not SAMPLERS[sampler].stochastic]
STOCHASTIC = [(sampler, name) for sampler, name in FITS if SAMPLERS[sampler].stochastic]


def ids(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"{sampler}-{name}" for sampler, name in pairs]


def velocity_model(path: ContinuousPath):
    """v* of ``path`` for data N(MU, S²), evaluated 1e-9 short of t = 1, where α·α̇ is 0·∞ on
    paths whose α̇ diverges there (the Brownian γ) although the velocity stays finite."""

    def model(x, t):
        c = path.coefficients(t.clamp(max=1 - 1e-9), like=x)
        variance, residual = c.alpha**2 + c.beta**2 * S**2, x - c.beta * MU
        return c.d_alpha * c.alpha * residual / variance + c.d_beta * (
            MU + c.beta * S**2 * residual / variance
        )

    return model


def ddpm_model(path: DDPMPath):
    """The exact ε or v: from E[noise | x] and E[data | x], as the path's target of the two."""

    def model(x, t):
        k = torch.round(t.double() * path.steps).long()
        bar = expand_like(path.alphas_cumprod[k], x).to(x)
        variance, residual = (1 - bar) + bar * S**2, x - bar.sqrt() * MU
        noise = (1 - bar).sqrt() * residual / variance
        return path.target(MU + bar.sqrt() * S**2 * residual / variance, noise, bar)

    return model


@dataclass(frozen=True)
class Flow:
    """A path's exact model for data N(MU, S²), where its samplers start (``start_bar``: the data
    weight² there) and the step counts n, 2n where its samplers are in the asymptotic regime."""

    model: object
    start_bar: float
    steps: tuple[int, int]

    def start(self, z: torch.Tensor, seed: int) -> torch.Tensor:
        """Draws of the path's marginal where sampling starts, built from the noise z."""
        data = MU + S * torch.randn(z.shape, generator=seeded(seed), dtype=z.dtype)
        return math.sqrt(self.start_bar) * data + math.sqrt(1 - self.start_bar) * z

    def exact(self, start: torch.Tensor) -> torch.Tensor:
        """The exact flow map: the standardised value is kept from the start to the data."""
        bar = self.start_bar
        return MU + S * (start - math.sqrt(bar) * MU) / math.sqrt(bar * S**2 + 1 - bar)


def closed_form(path: Path) -> Flow:
    if isinstance(path, ContinuousPath):
        return Flow(velocity_model(path), 0.0, (256, 512))
    if isinstance(path, DDPMPath):
        return Flow(ddpm_model(path), path.alphas_cumprod[-1].item(), (50, 100))
    if isinstance(path, MacPath):
        return Flow(velocity_model(LinearPath()), 0.0, (64, 128))
    raise AssertionError(f"no closed-form flow for {type(path).__name__}: add one here")


def noise(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 1, generator=seeded(seed), dtype=torch.float64)


# --- convergence --------------------------------------------------------------------------------


def smooth_in_time(path: Path) -> Path:
    """``path``, or for a MAC path the same weights with q = 1. A sampler's order is its order on
    paths smooth in t; with q > 1 and w != 0 β(t) has an infinite slope at t = 1 (τ^(1/q)), and on
    gamma-euler's uniform grid the error then shrinks more slowly (q = 7: 0.48, 0.43, 0.33 at 64,
    128, 256 steps; see solvers/mac.py)."""
    return MacPath(path.weights, exponent=1.0) if isinstance(path, MacPath) else path


@pytest.mark.parametrize("sampler,name", DETERMINISTIC, ids=ids(DETERMINISTIC))
def test_deterministic_sampler_shows_its_registered_order(sampler, name):
    n = 64
    path = smooth_in_time(example(name, (n, 1)))
    flow, z = closed_form(path), noise(n)
    start = flow.start(z, seed=2)

    def error(steps: int) -> float:
        out = sample(path, flow.model, start, sampler=sampler, steps=steps)
        return (out - flow.exact(start)).abs().max().item()

    coarse, fine = (error(steps) for steps in flow.steps)
    assert fine < coarse
    assert math.log2(coarse / fine) == pytest.approx(SAMPLERS[sampler].order, abs=0.3)


@pytest.mark.parametrize("sampler,name", STOCHASTIC, ids=ids(STOCHASTIC))
def test_stochastic_sampler_reaches_the_data_mean_and_variance(sampler, name):
    """Within 5 standard errors of 10,000 draws, the variance with 2.5% more for the samplers'
    bias at 200 (SDE) and 1000 (DDPM) steps: at most 1.8% on 200,000 draws."""
    n = 10_000
    path = example(name, (n, 1))
    flow = closed_form(path)
    steps = path.steps if isinstance(path, DDPMPath) else 200
    start = flow.start(noise(n), seed=2)
    out = sample(path, flow.model, start, sampler=sampler, steps=steps, generator=seeded(3))
    assert abs(out.mean().item() - MU) <= 5 * S / math.sqrt(n)
    assert abs(out.var().item() - S**2) <= 5 * S**2 * math.sqrt(2 / n) + 0.025 * S**2


# --- plumbing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler,name", FITS, ids=ids(FITS))
def test_extras_reach_every_model_call_and_the_shape_is_kept(sampler, name):
    shape, token, times = (8, 2, 3), object(), []
    path = example(name, shape)

    def model(x, t, *, cond):
        assert cond is token and x.shape == shape
        assert t.shape == (8,) and t.dtype == x.dtype
        times.append(t)
        return torch.zeros_like(x)

    x = torch.randn(shape, generator=seeded(4))
    out = sample(path, model, x, sampler=sampler, steps=5, generator=seeded(5), cond=token)
    assert out.shape == shape and out.dtype == x.dtype and out.isfinite().all()
    assert len(times) >= 5 and all(0 <= t.min() and t.max() <= 1 for t in times)


@pytest.mark.parametrize("sampler,name", FITS, ids=ids(FITS))
def test_sample_runs_without_autograd(sampler, name):
    weight = torch.ones((), requires_grad=True)
    path = example(name, (4, 3))
    out = sample(
        path, lambda x, t: weight * x, torch.ones(4, 3), sampler=sampler, steps=2, generator=None
    )
    assert not out.requires_grad


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_sampler_refuses_the_paths_it_does_not_fit(sampler):
    for name in path_names():
        path = example(name, (4, 3))
        fitting = samplers_for(path)
        if sampler in fitting:
            continue
        message = f"sampler '{sampler}' does not fit the '{name}' path.*{', '.join(fitting)}"
        with pytest.raises(ParamgenError, match=message.replace("+", r"\+")):
            sample(path, lambda x, t: x, torch.zeros(4, 3), sampler=sampler, steps=2)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_run_takes_its_options_by_keyword_only(sampler):
    run = SAMPLERS[sampler].run
    parameters = inspect.signature(run).parameters
    for option in ("steps", "diffusion", "generator"):
        assert parameters[option].kind is inspect.Parameter.KEYWORD_ONLY, option
    name = next(name for sampler_, name in FITS if sampler_ == sampler)
    with pytest.raises(TypeError):
        run(example(name, (4, 3)), lambda x, t: x, torch.zeros(4, 3), 2)


@pytest.mark.parametrize("sampler", list(SAMPLERS))
@pytest.mark.parametrize(
    "options,message",
    [
        ({"steps": 0}, "steps must be an integer >= 1, got 0"),
        ({"steps": -3}, "steps must be an integer >= 1, got -3"),
        ({"steps": 2.5}, "steps must be an integer >= 1, got 2.5"),
        ({"steps": True}, "steps must be an integer >= 1, got True"),
        ({"steps": 2, "diffusion": -1.0}, "diffusion must be >= 0, got -1.0"),
    ],
)
@pytest.mark.parametrize("direct", [False, True], ids=["sample", "run"])
def test_bad_steps_and_diffusion_are_one_line_errors(sampler, options, message, direct):
    """Through ``sample`` and calling the registered loop itself."""
    name = next(name for sampler_, name in FITS if sampler_ == sampler)
    path, x = example(name, (4, 3)), torch.zeros(4, 3)
    with pytest.raises(ParamgenError, match=message):
        if direct:
            SAMPLERS[sampler].run(path, lambda x, t: x, x, **options)
        else:
            sample(path, lambda x, t: x, x, sampler=sampler, **options)


def test_an_unknown_sampler_lists_the_registered_ones():
    with pytest.raises(
        ParamgenError, match=f"unknown sampler 'rk4'; expected one of {', '.join(SAMPLERS)}"
    ):
        sample(example("linear", (4, 3)), lambda x, t: x, torch.zeros(4, 3), sampler="rk4", steps=2)
