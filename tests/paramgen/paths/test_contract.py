"""The path contract, run on every registered path (``path_example``): registering a path is what
gets it tested.

Every path gets the generic checks (its registration, training pairs' shapes and times, x_t as
``mixing`` says, the training marginal for Gaussian data); the checks that only make sense for
one kind of path are parametrised over the registered paths of that kind (ends and targets of
continuous, DDPM and MAC paths; time derivatives where a path has coefficients; the Gaussian
posterior and score of continuous paths). A path of a new kind fails
``test_every_path_is_of_a_kind_this_battery_checks`` until its kind's checks are added here.

Gaussian data N(μ, s²) (independent dims) with noise N(0, 1): x_t = β·data + α·noise is
N(β·μ, V), V = α² + β²·s², and E[noise | x_t] = α·(x − β·μ)/V, E[data | x_t] = μ + β·s²·(x − β·μ)/V.
"""

import pytest
import torch

from paramgen.paths import (
    ContinuousPath,
    DDPMPath,
    MacPath,
    Path,
    expand_like,
    path_example,
    path_names,
)
from paramgen.paths.base import uniform_times
from paramgen.solvers import samplers_for

pytestmark = pytest.mark.usefixtures("one_thread")

MEAN = torch.tensor([1.5, -2.0, 0.0], dtype=torch.float64)
STD = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
SEED = 9


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def example(name: str, shape: tuple[int, ...], seed: int = 0) -> Path:
    return path_example(name, shape, seeded(seed))


def names_of(kind: type) -> list[str]:
    return [name for name in path_names() if isinstance(example(name, (2, 1)), kind)]


NAMES = path_names()
CONTINUOUS = names_of(ContinuousPath)
DDPM = names_of(DDPMPath)
MAC = names_of(MacPath)
EPSILON = [name for name in NAMES if example(name, (2, 1)).prediction == "epsilon"]


def gaussian_pair(shape: tuple[int, ...], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(data, noise), float64: data N(MEAN, STD²) in the last dimension (3), noise N(0, 1)."""
    generator = seeded(seed)
    data = MEAN + STD * torch.randn(shape, generator=generator, dtype=torch.float64)
    return data, torch.randn(shape, generator=generator, dtype=torch.float64)


def path_times(path: Path, pair, data: torch.Tensor, seed: int) -> torch.Tensor:
    """The times [N] a training pair was mixed at. ``PathSample.t`` is the model's time, which is
    the path's time on every path but MAC: its model sees the row's mean data weight
    (paths/mac.py), so its path times are redrawn as its sample_training draws them."""
    if isinstance(path, MacPath):
        return uniform_times(data, seeded(seed))
    return pair.t


def per_element(coefficient: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A coefficient [N] (continuous) or [N, ...] (MAC) broadcast against x [N, ...]."""
    return coefficient if coefficient.ndim == x.ndim else expand_like(coefficient, x)


# --- every path ---------------------------------------------------------------------------------


def test_every_path_is_of_a_kind_this_battery_checks():
    """Ends and targets are checked per kind: a path of a new kind needs its checks added here."""
    for name in NAMES:
        kinds = [kind for kind in (CONTINUOUS, DDPM, MAC) if name in kind]
        assert len(kinds) == 1, f"path {name!r}: add its kind's ends and target checks"


@pytest.mark.parametrize("name", NAMES)
def test_example_is_the_registered_path_with_a_fitting_default_sampler(name):
    path = example(name, (4, 3))
    assert isinstance(path, Path) and path.name == name
    assert path.prediction in ("velocity", "epsilon", "v")
    assert path.default_sampler in samplers_for(path)
    assert isinstance(path.default_steps, int) and path.default_steps >= 1


@pytest.mark.parametrize("name", NAMES)
def test_training_pairs_have_the_batch_shape_and_one_time_in_0_1_per_row(name):
    shape = (6, 2, 3)
    path, (data, noise) = example(name, shape), gaussian_pair(shape, seed=1)
    pair = path.sample_training(data, noise, seeded(SEED))
    assert pair.x_t.shape == pair.target.shape == shape and pair.t.shape == (6,)
    assert pair.x_t.dtype == pair.target.dtype == pair.t.dtype == torch.float64
    assert pair.x_t.isfinite().all() and pair.target.isfinite().all()
    assert 0 <= pair.t.min() and pair.t.max() <= 1
    again = path.sample_training(data, noise, seeded(SEED))
    assert torch.equal(pair.x_t, again.x_t) and torch.equal(pair.t, again.t)
    assert not torch.equal(pair.t, path.sample_training(data, noise, seeded(SEED + 1)).t)


@pytest.mark.parametrize("name", NAMES)
def test_training_pairs_mix_data_and_noise_as_mixing_says(name):
    shape = (64, 3)
    path, (data, noise) = example(name, shape), gaussian_pair(shape, seed=2)
    pair = path.sample_training(data, noise, seeded(SEED))
    data_weight, noise_weight = path.mixing(path_times(path, pair, data, SEED), data)
    assert torch.allclose(pair.x_t, data_weight * data + noise_weight * noise, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_training_marginal_matches_the_closed_form_over_the_time_law(name):
    """x_t's mean and variance over many rows are the closed form averaged over the path's time
    law (uniform on [0, 1), DDPM: uniform over its steps): E[x] = E_t[w_d]·μ and
    E[x²] = E_t[w_d²]·(s² + μ²) + E_t[w_n²], within 5 standard errors."""
    n = 10_000
    path, (data, noise) = example(name, (n, 3)), gaussian_pair((n, 3), seed=3)
    x = path.sample_training(data, noise, seeded(SEED)).x_t
    if isinstance(path, DDPMPath):  # its times are the grid k / T
        grid = torch.arange(path.steps, dtype=torch.float64) / path.steps
    else:  # midpoints of 200 cells of [0, 1)
        grid = (torch.arange(200, dtype=torch.float64) + 0.5) / 200
    moments = torch.zeros(3, 3, dtype=torch.float64)  # E_t[w_d], E_t[w_d²], E_t[w_n²] per dim
    for t in grid:
        data_weight, noise_weight = path.mixing(torch.full((n,), t.item()), data)
        weights = (data_weight, data_weight**2, noise_weight**2)
        moments += torch.stack([w.expand_as(data).mean(0) for w in weights]) / len(grid)
    mean = moments[0] * MEAN
    variance = moments[1] * (STD**2 + MEAN**2) + moments[2] - mean**2
    centred = x - x.mean(0)
    fourth = (centred**4).mean(0)
    assert ((x.mean(0) - mean).abs() <= 5 * (variance / n).sqrt()).all()
    assert ((x.var(0) - variance).abs() <= 5 * ((fourth - variance**2) / n).sqrt()).all()


# --- ends, per kind -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTINUOUS + MAC)
def test_ends_are_pure_noise_at_0_and_pure_data_at_1(name):
    path, like = example(name, (2, 3)), torch.zeros(2, 3, dtype=torch.float64)
    data_weight, noise_weight = path.mixing(torch.tensor([0.0, 1.0], dtype=torch.float64), like)
    ends = torch.tensor([[0.0], [1.0]], dtype=torch.float64).expand_as(like)
    assert torch.allclose(data_weight.expand_as(like), ends, rtol=0, atol=1e-12)
    assert torch.allclose(noise_weight.expand_as(like), 1 - ends, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", DDPM)
def test_ddpm_data_weight_falls_monotonically_and_preserves_variance(name):
    path = example(name, (2, 3))
    t = torch.arange(path.steps, dtype=torch.float64) / path.steps
    data_weight, noise_weight = path.mixing(t, torch.zeros(path.steps, 1, dtype=torch.float64))
    data_weight, noise_weight = data_weight[:, 0], noise_weight[:, 0]
    assert (data_weight.diff() < 0).all() and (0 <= data_weight).all() and (data_weight < 1).all()
    # Stable Diffusion's schedule keeps √ᾱ_T = 0.068 (the flaw One More Step fixes)
    assert data_weight[0] > 0.99 and data_weight[-1] < 0.07
    assert torch.allclose(data_weight**2 + noise_weight**2, torch.ones_like(t), atol=1e-12)


# --- targets, per kind --------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTINUOUS)
def test_continuous_target_is_the_velocity(name):
    path, (data, noise) = example(name, (64, 3)), gaussian_pair((64, 3), seed=4)
    pair = path.sample_training(data, noise, seeded(SEED))
    c = path.coefficients(pair.t, like=data)
    assert torch.allclose(pair.target, c.d_alpha * noise + c.d_beta * data, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", EPSILON)
def test_epsilon_target_is_the_noise(name):
    path, (data, noise) = example(name, (64, 3)), gaussian_pair((64, 3), seed=4)
    assert torch.equal(path.sample_training(data, noise, seeded(SEED)).target, noise)


@pytest.mark.parametrize("name", MAC)
def test_mac_model_sees_the_mean_data_weight_and_the_linear_velocity(name):
    path, (data, noise) = example(name, (64, 3)), gaussian_pair((64, 3), seed=4)
    pair = path.sample_training(data, noise, seeded(SEED))
    data_weight, _ = path.mixing(path_times(path, pair, data, SEED), data)
    assert torch.allclose(pair.t, data_weight.flatten(1).mean(1), rtol=0, atol=1e-12)
    assert torch.allclose(pair.target, data - noise, rtol=0, atol=1e-12)


# --- coefficients -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CONTINUOUS + MAC)
def test_coefficients_are_the_mixing_weights_and_their_autograd_time_derivatives(name):
    """d x_t/dt by autograd of mixing(t)·(data, noise) is α̇·noise + β̇·data, in float64, on
    [0, 0.98]: the derivatives are singular at t = 1 (MAC: τ^(1/q − 1); stochastic interpolants:
    0/0 where √(α² + γ²) = 0)."""
    n = 40
    path, (data, noise) = example(name, (n, 3)), gaussian_pair((n, 3), seed=5)
    t = torch.linspace(0, 0.98, n, dtype=torch.float64, requires_grad=True)
    data_weight, noise_weight = path.mixing(t, data)
    x_t = data_weight * data + noise_weight * noise
    # rows depend on their own t only: the gradient of a column's sum is d x_t[:, j]/dt per row
    d_x_t = torch.stack(
        [torch.autograd.grad(x_t[:, j].sum(), t, retain_graph=True)[0] for j in range(3)], dim=1
    )
    c = path.coefficients(t.detach())
    alpha, beta = per_element(c.alpha, data), per_element(c.beta, data)
    d_alpha, d_beta = per_element(c.d_alpha, data), per_element(c.d_beta, data)
    assert torch.allclose(beta.expand_as(data), data_weight.detach().expand_as(data), atol=1e-14)
    assert torch.allclose(alpha.expand_as(data), noise_weight.detach().expand_as(data), atol=1e-14)
    assert torch.allclose(d_alpha * noise + d_beta * data, d_x_t, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("name", CONTINUOUS)
def test_noise_and_data_are_recovered_from_the_true_velocity(name):
    path, (data, noise) = example(name, (50, 3)), gaussian_pair((50, 3), seed=6)
    t = torch.linspace(0, 0.99, 50, dtype=torch.float64)
    c = path.coefficients(t, like=data)
    x_t, velocity = c.alpha * noise + c.beta * data, c.d_alpha * noise + c.d_beta * data
    noise_hat, data_hat = path.noise_and_data_from_velocity(x_t, velocity, t)
    assert torch.allclose(noise_hat, noise, rtol=0, atol=1e-10)
    assert torch.allclose(data_hat, data, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", CONTINUOUS)
def test_gaussian_posterior_and_score_from_the_exact_velocity(name):
    """With v* = α̇·E[noise | x] + β̇·E[data | x], the path reads both means back off v*, and its
    score is −(x − β·μ)/V (on [0, 0.95]: the score divides by α, which is 0 at t = 1)."""
    n = 200
    path = example(name, (n, 3))
    x = 2 * torch.randn(n, 3, generator=seeded(7), dtype=torch.float64)
    t = torch.linspace(0, 0.95, n, dtype=torch.float64)
    c = path.coefficients(t, like=x)
    variance, residual = c.alpha**2 + c.beta**2 * STD**2, x - c.beta * MEAN
    noise_mean = c.alpha * residual / variance
    data_mean = MEAN + c.beta * STD**2 * residual / variance
    velocity = c.d_alpha * noise_mean + c.d_beta * data_mean
    noise_hat, data_hat = path.noise_and_data_from_velocity(x, velocity, t)
    assert torch.allclose(noise_hat, noise_mean, rtol=0, atol=1e-10)
    assert torch.allclose(data_hat, data_mean, rtol=0, atol=1e-10)
    assert torch.allclose(path.score(x, velocity, t), -residual / variance, rtol=0, atol=1e-9)
