"""Stochastic interpolants with a γ(t)·z term (paramgen/stochastic_interpolants.py).

The key claim: with Gaussian noise, SI's drift E[α̇·noise + β̇·data + γ̇·z | x_t] is the velocity
of the path (√(α² + γ²), β). It is checked by regressing SI's own target, built with an explicit
z, on x_t for Gaussian data, where that velocity is known in closed form.
"""

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.paths import (
    BrownianGamma,
    LinearPath,
    QuadraticGamma,
    SineSquaredGamma,
    StochasticInterpolant,
    TrigPath,
)

MEAN = torch.tensor([1.5, -2.0, 0.0], dtype=torch.float64)
STD = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
PATHS = [
    StochasticInterpolant(base, gamma)
    for base in (LinearPath(), TrigPath())
    for gamma in (BrownianGamma(1.0), QuadraticGamma(2.0), SineSquaredGamma(0.5))
]


pytestmark = pytest.mark.usefixtures("one_thread")


def gaussian_velocity(path):
    """The exact velocity of ``path`` for data N(MEAN, STD²) (as in test_interpolants_solvers),
    with α_γ·α̇_γ = α·α̇ + ½·d(γ²)/dt, which stays finite at t = 1 where α̇_γ alone is 0/0."""

    def model(x, t):
        c, base = path.coefficients(t, like=x), path.base.coefficients(t, like=x)
        d_gamma_squared = path.gamma.d_gamma_squared_t(t).reshape(-1, 1)
        alpha_d_alpha = base.alpha * base.d_alpha + 0.5 * d_gamma_squared
        var = c.alpha**2 + c.beta**2 * STD**2
        gain = (alpha_d_alpha + c.beta * c.d_beta * STD**2) / var
        return c.d_beta * MEAN + gain * (x - c.beta * MEAN)

    return model


def gamma_and_derivative(path, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """γ(t) and γ̇(t) by autograd of √(γ²), away from the ends."""
    leaf = t.clone().requires_grad_(True)
    gamma = path.gamma.gamma_squared_t(leaf).sqrt()
    (d_gamma,) = torch.autograd.grad(gamma.sum(), leaf)
    return gamma.detach(), d_gamma


@pytest.mark.parametrize("base", [LinearPath(), TrigPath()], ids=["linear", "trig"])
def test_zero_gamma_is_the_base_path(base):
    path, t = StochasticInterpolant(base, BrownianGamma(0.0)), torch.rand(50).double() * 0.99
    c, ref = path.coefficients(t), base.coefficients(t)
    for name in ("alpha", "beta", "d_alpha", "d_beta"):
        assert torch.allclose(getattr(c, name), getattr(ref, name), atol=1e-14), name


@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.name)
def test_si_drift_is_the_velocity_of_the_equivalent_path(path):
    """x_t = α·noise + β·data + γ·z with SI's target α̇·noise + β̇·data + γ̇·z: its regression on
    x_t (linear for Gaussian data) is the closed-form velocity of (√(α² + γ²), β)."""
    g, n, t = torch.Generator().manual_seed(0), 200_000, 0.3
    noise, z = (torch.randn(n, 3, generator=g, dtype=torch.float64) for _ in range(2))
    data = MEAN + STD * torch.randn(n, 3, generator=g, dtype=torch.float64)
    times = torch.full((1,), t, dtype=torch.float64)
    base = path.base.coefficients(times)
    gamma, d_gamma = gamma_and_derivative(path, times)
    x_t = base.alpha * noise + base.beta * data + gamma * z
    target = base.d_alpha * noise + base.d_beta * data + d_gamma * z
    x_c, y_c = x_t - x_t.mean(0), target - target.mean(0)
    slope = (x_c * y_c).mean(0) / (x_c**2).mean(0)
    intercept = target.mean(0) - slope * x_t.mean(0)
    model = gaussian_velocity(path)
    at0 = model(torch.zeros(1, 3, dtype=torch.float64), times)[0]
    at1 = model(torch.ones(1, 3, dtype=torch.float64), times)[0]
    assert torch.allclose(at0, intercept, atol=0.03)
    assert torch.allclose(at1 - at0, slope, atol=0.03)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ParamgenError, match="BrownianGamma scale must be >= 0, got -1"):
        BrownianGamma(-1.0)
    with pytest.raises(ParamgenError, match=r"base must be a continuous path \(linear, trig\)"):
        StochasticInterpolant("linear", BrownianGamma())
    with pytest.raises(ParamgenError, match="gamma must be a GammaSchedule"):
        StochasticInterpolant(LinearPath(), 0.5)
