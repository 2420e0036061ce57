"""MAC: the per-dimension path, its γ-space sampler and the coefficient nets.

β is re-derived here from the paper's formula (with plain torch.sin) rather than read from
MacPath, so the sampler tests check the path too. For data N(m, s²) per dimension the linear
path's exact velocity is known in closed form (see test_interpolants_solvers.py), so the sampler
can be checked against the exact flow map noise z ↦ m + s·z.
"""

import math

import pytest
import torch
from torch import Tensor

from paramgen.errors import ParamgenError
from paramgen.families.mac import MacCoefficientNet, MacMLP
from paramgen.paths import LinearPath, MacPath, sin_pi
from paramgen.solvers import gamma_euler, sample

MEAN = torch.tensor([1.5, -2.0, 0.0], dtype=torch.float64)
STD = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)


pytestmark = pytest.mark.usefixtures("one_thread")


def randn(*shape, seed=0, scale=1.0) -> Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed)).double()


def paper_beta(weights: Tensor, t: Tensor, q: float = 7.0) -> Tensor:
    """β = f/(f + g), f = t + S_f², g = 1 − t + S_g², basis at τ = 1 − t; weights [N, 2, M, d]."""
    m = torch.arange(1, weights.shape[2] + 1, dtype=t.dtype)
    basis = torch.sin(math.pi * m * (1 - t)[:, None] ** (1 / q))  # [N, M]
    s = (weights * basis[:, None, :, None]).sum(dim=2)
    f, g = t[:, None] + s[:, 0] ** 2, 1 - t[:, None] + s[:, 1] ** 2
    return f / (f + g)


def gaussian_velocity(x: Tensor, t: Tensor) -> Tensor:
    """The exact linear-path velocity for data N(MEAN, STD²)."""
    t = t[:, None]
    var = (1 - t) ** 2 + t**2 * STD**2
    return MEAN + (-(1 - t) + t * STD**2) / var * (x - t * MEAN)


def times(*values, n=1) -> Tensor:
    return torch.tensor(values, dtype=torch.float64).repeat_interleave(n)


# --- the path -----------------------------------------------------------------------------------


def test_sin_pi_is_exact_at_integers_and_has_the_right_gradient():
    integers = torch.arange(-3.0, 8.0, dtype=torch.float64)
    assert torch.equal(sin_pi(integers), torch.zeros_like(integers))
    x = torch.linspace(-2.3, 3.7, 41, dtype=torch.float64, requires_grad=True)
    assert torch.allclose(sin_pi(x), torch.sin(math.pi * x), atol=1e-14)
    (grad,) = torch.autograd.grad(sin_pi(x).sum(), x)
    assert torch.allclose(grad, math.pi * torch.cos(math.pi * x), atol=1e-13)


def test_zero_weights_are_the_linear_path_exactly():
    t = torch.cat([times(0.0, 1.0), torch.rand(30, generator=torch.Generator().manual_seed(1))])
    c = MacPath(torch.zeros(32, 2, 5, 3, dtype=torch.float64)).coefficients(t.double())
    t = t.double()[:, None].expand(32, 3)
    assert torch.allclose(c.alpha, 1 - t, rtol=0, atol=1e-15)
    assert torch.allclose(c.beta, t, rtol=0, atol=1e-15)
    assert torch.equal(c.d_alpha, -torch.ones_like(t)) and torch.equal(c.d_beta, torch.ones_like(t))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("scale", [0.05, 3.0])
def test_ends_are_exact_for_any_weights(dtype, scale):
    path = MacPath(randn(6, 2, 5, 4, seed=2, scale=scale).to(dtype))
    start, end = (
        path.coefficients(times(0.0, n=6).to(dtype)),
        path.coefficients(times(1.0, n=6).to(dtype)),
    )
    ones, zeros = torch.ones(6, 4, dtype=dtype), torch.zeros(6, 4, dtype=dtype)
    assert torch.equal(start.alpha, ones) and torch.equal(start.beta, zeros)
    assert torch.equal(end.alpha, zeros) and torch.equal(end.beta, ones)


def test_formula_shape_and_partition_of_unity():
    """Image-shaped weights [N, 2, M, C, H, W] give coefficients [N, C, H, W]; α + β = 1."""
    weights = randn(3, 2, 5, 2, 4, 4, seed=3, scale=0.05)
    path, t = MacPath(weights), torch.tensor([0.1, 0.5, 0.97], dtype=torch.float64)
    c = path.coefficients(t)
    assert path.data_shape == (3, 2, 4, 4) and path.basis_size == 5
    assert c.alpha.shape == c.beta.shape == c.d_alpha.shape == c.d_beta.shape == (3, 2, 4, 4)
    assert torch.allclose(c.alpha + c.beta, torch.ones_like(c.beta), atol=1e-15)
    flat = weights.flatten(3)  # [N, 2, M, C·H·W]
    assert torch.allclose(c.beta.flatten(1), paper_beta(flat, t), atol=1e-14)
    assert torch.equal(path.beta_t(t), c.beta)
    assert not torch.allclose(c.beta, t[:, None, None, None].expand_as(c.beta), atol=1e-3)


def test_flexibility_sits_at_the_data_end():
    """The basis is steep at τ = 0, i.e. t → 1 (data); near the noise end β̇ stays close to 1."""
    path = MacPath(randn(64, 2, 5, 2, seed=6, scale=0.05))
    near_noise, near_data = (
        (path.coefficients(times(t, n=64)).d_beta - 1).abs().max() for t in (1e-6, 1 - 1e-6)
    )
    assert near_noise < 1e-3 and near_data > 10.0


@pytest.mark.parametrize(
    "weights,exponent,t,message",
    [
        (torch.zeros(4, 2, 5), 7.0, times(0.5, n=4), r"weights must have shape \[N, 2, M, ...\]"),
        (torch.zeros(4, 3, 5, 2), 7.0, times(0.5, n=4), "weights must have shape"),
        (torch.zeros(4, 2, 5, 2), 0.0, times(0.5, n=4), r"exponent \(q\) must be > 0"),
        (torch.zeros(4, 2, 5, 2), 7.0, times(0.5, n=3), r"t must have shape \[N\] = \[4\]"),
        (torch.zeros(4, 2, 5, 2), 7.0, times(1.5, n=4), r"t must lie in \[0, 1\]"),
    ],
)
def test_bad_path_arguments_are_clear_errors(weights, exponent, t, message):
    with pytest.raises(ParamgenError, match=message):
        MacPath(weights.double(), exponent=exponent).coefficients(t)


# --- the γ-space sampler ------------------------------------------------------------------------


@pytest.mark.parametrize("steps", [1, 5, 16])
def test_gamma_euler_with_zero_weights_is_euler(steps):
    z = randn(500, 3, seed=7)
    mac = gamma_euler(
        MacPath(torch.zeros(500, 2, 5, 3, dtype=torch.float64)), gaussian_velocity, z, steps=steps
    )
    euler = sample(LinearPath(), gaussian_velocity, z, sampler="euler", steps=steps)
    assert torch.allclose(mac, euler, rtol=0, atol=1e-13)


def shared_weights(n: int, seed: int) -> Tensor:
    """The same f and g weights in all 3 dimensions (a per-row time warp), [n, 2, 5, 3]."""
    return randn(n, 2, 5, 1, seed=seed, scale=0.05).expand(n, 2, 5, 3)


def test_shared_weights_give_euler_on_each_rows_warped_grid():
    """With one β per row, a γ-space step is an Euler step from time β_i to β_{i+1}."""
    weights, z = shared_weights(300, 8), randn(300, 3, seed=9)
    x, grid = z, torch.linspace(0, 1, 6, dtype=torch.float64)
    for t0, t1 in zip(grid[:-1], grid[1:], strict=True):
        b0, b1 = (paper_beta(weights, t.repeat(300))[:, 0] for t in (t0, t1))
        x = x + (b1 - b0)[:, None] * gaussian_velocity(x, b0)
    out = gamma_euler(MacPath(weights), gaussian_velocity, z, steps=5)
    assert torch.allclose(out, x, rtol=0, atol=1e-12)
    assert (
        out - sample(LinearPath(), gaussian_velocity, z, sampler="euler", steps=5)
    ).abs().max() > 1e-3


def test_gamma_euler_converges_to_the_exact_flow_at_first_order():
    weights, z = shared_weights(1000, 10), randn(1000, 3, seed=11)
    exact = MEAN + STD * z

    def error(steps):
        return (
            (gamma_euler(MacPath(weights), gaussian_velocity, z, steps=steps) - exact).abs().max()
        )

    assert error(256) < 0.05  # plain Euler: 0.042 on this target
    assert 1.9 < error(128) / error(256) < 2.1


def test_each_dimension_follows_its_own_mac_path():
    """Data = noise + d (a deterministic coupling): data − noise = d whatever x and t, so every
    iterate must sit exactly on the MAC path, x_i = noise + β_i⊙d, per row and dimension, and the
    model must see the row's mean β."""
    weights, z, d = (
        randn(50, 2, 5, 3, seed=12, scale=0.05),
        randn(50, 3, seed=13),
        randn(3, seed=14),
    )
    grid, calls = torch.linspace(0, 1, 6, dtype=torch.float64), []

    def coupled(x, t):
        calls.append((x, t))
        return d.expand_as(x)

    out = gamma_euler(MacPath(weights), coupled, z, steps=5)
    assert torch.allclose(out, z + d, atol=1e-14) and len(calls) == 5
    for (x, t), t_i in zip(calls, grid[:-1], strict=True):
        beta = paper_beta(weights, t_i.repeat(50))
        assert torch.allclose(x, z + beta * d, atol=1e-14)
        assert torch.allclose(t, beta.mean(dim=1), atol=1e-15)
    assert calls[2][1].std() > 1e-4  # rows differ: the weights are per trajectory


def test_gamma_euler_passes_extras_and_refuses_bad_input():
    token, path = object(), MacPath(torch.zeros(4, 2, 5, 3))

    def model(x, t, *, cond):
        assert cond is token
        return torch.zeros_like(x)

    assert gamma_euler(path, model, torch.ones(4, 3), steps=2, cond=token).shape == (4, 3)
    with pytest.raises(ParamgenError, match=r"noise must have the MAC path's shape \[4, 3\]"):
        gamma_euler(path, model, torch.ones(5, 3), steps=2, cond=token)
    with pytest.raises(ParamgenError, match="steps must be an integer >= 1, got 0"):
        gamma_euler(path, model, torch.ones(4, 3), steps=0, cond=token)


# --- coefficient nets ---------------------------------------------------------------------------


def test_mac_mlp_weights_have_the_layout_and_stay_within_scale():
    torch.manual_seed(0)
    net, z = MacMLP(dims=3, basis_size=4, scale=0.05), randn(200, 3, seed=15).float()
    weights = net(z)
    assert weights.shape == (200, 2, 4, 3) and 0 < weights.abs().max() <= 0.05
    torch.nn.init.normal_(net.out.weight, std=10.0)
    assert 0.045 < net(z).abs().max() <= 0.05
    path = net.path(z)
    assert path.exponent == 7.0 and path.basis_size == 4 and path.data_shape == (200, 3)


def test_the_sampler_is_differentiable_in_the_weights():
    """Autograd through 5 γ-space steps matches finite differences (float64)."""
    z = randn(4, 3, seed=16)
    weights = randn(4, 2, 5, 3, seed=17, scale=0.05).requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda w: gamma_euler(MacPath(w), gaussian_velocity, z, steps=5), (weights,)
    )
    net = MacMLP(dims=3)
    model = lambda x, t: gaussian_velocity(x.double(), t.double()).float()  # noqa: E731
    gamma_euler(net.path(z.float()), model, z.float(), steps=5).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in net.parameters())


class ConstantImageWeights(MacCoefficientNet):
    """An image-shaped stand-in: the same unscaled weight everywhere, [N, 2, M, C, H, W]."""

    def unscaled(self, x_start):
        return torch.full((x_start.shape[0], 2, self.basis_size, *x_start.shape[1:]), 0.5)


def test_any_coefficient_net_plugs_into_path_and_sampler():
    net, z = ConstantImageWeights(basis_size=3, scale=0.1, exponent=5.0), torch.randn(2, 1, 4, 4)
    assert net(z).shape == (2, 2, 3, 1, 4, 4) and torch.equal(net(z), torch.full_like(net(z), 0.05))
    out = gamma_euler(net.path(z), lambda x, t: torch.ones_like(x), z, steps=3)
    assert torch.allclose(out, z + 1, atol=1e-6)  # data − noise = 1 lands on noise + 1


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"dims": 0}, "dims must be an integer >= 1, got 0"),
        ({"dims": 2, "basis_size": 0}, "basis_size must be an integer >= 1, got 0"),
        ({"dims": 2, "scale": 0.0}, r"scale must be > 0 \(the paper uses 0.05\)"),
        ({"dims": 2, "exponent": -1.0}, r"exponent \(q\) must be > 0"),
        ({"dims": 2, "hidden": 0}, "hidden must be an integer >= 1"),
    ],
)
def test_bad_coefficient_net_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ParamgenError, match=message):
        MacMLP(**kwargs)


def test_mac_mlp_refuses_the_wrong_input_shape():
    with pytest.raises(ParamgenError, match=r"x_start must have shape \[N, 2\]"):
        MacMLP(dims=2)(torch.zeros(4, 3))
