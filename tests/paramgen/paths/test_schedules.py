"""The DDPM path's named schedules, the zero-terminal-SNR rescale, v-prediction and the timestep
spacings, against diffusers' own numbers.

Reference values: diffusers 0.42.1, ``DDPMScheduler(num_train_timesteps=1000, ...)
.alphas_cumprod[k]`` (float32) with ``beta_schedule="scaled_linear", beta_start=0.00085,
beta_end=0.012`` (Stable Diffusion's), ``"squaredcos_cap_v2"`` and the default ``"linear"``, and
``rescale_betas_zero_snr=True`` on the scaled-linear one; timesteps from
``DDIMScheduler(..., timestep_spacing=s, steps_offset=o).set_timesteps(20)``, o = 1 for "leading"
(Stable Diffusion's config), else 0. Printed by the diffusers package on 2026-11-30.
"""

import math

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.paths import DDPMPath, make_path
from paramgen.paths.schedules import beta_schedule, rescale_zero_terminal_snr
from paramgen.solvers import ddpm_timesteps, sample

STEPS_AT = [0, 250, 500, 750, 999]
DIFFUSERS_ALPHAS_CUMPROD = {
    "scaled-linear": [0.99914998, 0.67379230, 0.27633247, 0.05616980, 0.00466010],
    "cosine": [0.99995869, 0.84588802, 0.49228504, 0.14317866, 2.4287350e-09],
    "linear": [0.99989998, 0.52142298, 0.07779665, 0.00330016, 4.0358304e-05],
}
DIFFUSERS_ZERO_SNR = [0.99914998, 0.65245676, 0.24101864, 0.03279908, 0.0]
DIFFUSERS_TIMESTEPS_20 = {
    "leading": list(range(951, 0, -50)),
    "trailing": list(range(999, 0, -50)),
    "linspace": [999, 946, 894, 841, 789, 736, 684, 631, 578, 526, 473, 421, 368, 315, 263, 210]
    + [158, 105, 53, 0],
}


@pytest.mark.parametrize("schedule", list(DIFFUSERS_ALPHAS_CUMPROD))
def test_schedules_match_diffusers_alphas_cumprod(schedule):
    path = DDPMPath(schedule=schedule)
    ours = path.alphas_cumprod[STEPS_AT]
    reference = torch.tensor(DIFFUSERS_ALPHAS_CUMPROD[schedule], dtype=torch.float64)
    torch.testing.assert_close(ours, reference, rtol=2e-6, atol=1e-12)


def test_stable_diffusion_schedule_keeps_data_in_its_last_step():
    """The flaw One More Step is about: √ᾱ_T = 0.068, and 20 leading steps start at √ᾱ = 0.090."""
    path = make_path("ddpm-scaled-linear")
    assert path.alphas_cumprod[-1].sqrt().item() == pytest.approx(0.06826, abs=1e-5)
    first = ddpm_timesteps(path, 20)[0]
    assert first == 951 and path.alphas_cumprod[first].sqrt().item() == pytest.approx(0.0903, 1e-3)


def test_zero_terminal_snr_ends_at_zero_and_keeps_the_first_step():
    betas = beta_schedule("scaled-linear", 1000)
    rescaled = torch.cumprod(1 - rescale_zero_terminal_snr(betas), 0)
    assert rescaled[-1].item() == 0.0
    assert rescaled[0].item() == pytest.approx(torch.cumprod(1 - betas, 0)[0].item(), abs=1e-15)
    assert (rescaled.diff() < 0).all()
    reference = torch.tensor(DIFFUSERS_ZERO_SNR, dtype=torch.float64)
    torch.testing.assert_close(rescaled[STEPS_AT], reference, rtol=2e-6, atol=1e-12)


@pytest.mark.parametrize("spacing", list(DIFFUSERS_TIMESTEPS_20))
def test_spacings_match_diffusers_timesteps_for_20_steps(spacing):
    path = DDPMPath(schedule="scaled-linear", spacing=spacing)
    assert ddpm_timesteps(path, 20) == DIFFUSERS_TIMESTEPS_20[spacing]


@pytest.mark.parametrize("spacing", ["linspace", "leading", "trailing"])
@pytest.mark.parametrize("steps", [1, 3, 7, 50, 999, 1000])
def test_every_spacing_gives_distinct_descending_steps_on_the_grid(spacing, steps):
    ks = ddpm_timesteps(DDPMPath(spacing=spacing), steps)
    assert len(ks) == steps and all(a > b for a, b in zip(ks, ks[1:], strict=False))
    assert 0 <= ks[-1] and ks[0] <= 999


def test_respaced_path_keeps_the_schedule_and_changes_the_spacing():
    path = make_path("ddpm-scaled-linear")
    trailing = path.respaced("trailing")
    assert torch.equal(trailing.alphas_cumprod, path.alphas_cumprod)
    assert (path.spacing, trailing.spacing) == ("leading", "trailing")
    assert ddpm_timesteps(trailing, 20)[0] == 999


def test_v_target_and_estimates_invert_each_other():
    path = DDPMPath(schedule="scaled-linear", zero_terminal_snr=True, prediction="v")
    generator = torch.Generator().manual_seed(0)
    data, noise = (torch.randn(5, 3, generator=generator, dtype=torch.float64) for _ in range(2))
    for k in (0, 500, 999):
        bar = path.alphas_cumprod[k].item()
        x = math.sqrt(bar) * data + math.sqrt(1 - bar) * noise
        v = path.target(data, noise, bar)
        torch.testing.assert_close(v, math.sqrt(bar) * noise - math.sqrt(1 - bar) * data)
        x0, eps = path.estimates(v, x, bar)
        torch.testing.assert_close(x0, data)
        torch.testing.assert_close(eps, noise)


def test_v_model_samples_from_a_zero_snr_path_where_epsilon_is_refused():
    """At ᾱ_T = 0 the exact v of data N(μ, s²) still gives the data: DDIM with trailing steps
    reaches μ + s·z from pure noise z."""
    mu, s = 1.5, 0.7
    path = make_path("ddpm-scaled-linear-zero-snr-v")

    def exact_v(x, t):
        k = torch.round(t * path.steps).long()
        bar = path.alphas_cumprod[k][:, None].to(x)
        variance = bar * s**2 + 1 - bar
        x0 = mu + bar.sqrt() * s**2 * (x - bar.sqrt() * mu) / variance
        eps = (1 - bar).sqrt() * (x - bar.sqrt() * mu) / variance
        return path.target(x0, eps, bar)

    z = torch.randn(2000, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    out = sample(path, exact_v, z, sampler="ddim", steps=200)
    assert abs(out.mean().item() - mu) < 0.05 and abs(out.std().item() - s) < 0.05
    with pytest.raises(ParamgenError, match="prediction='v'"):
        DDPMPath(zero_terminal_snr=True)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"schedule": "quadratic"}, "unknown beta schedule 'quadratic'"),
        ({"schedule": "cosine", "beta_end": 0.02}, "has no beta_start / beta_end"),
        ({"beta_start": 0.1, "beta_end": 0.01}, "beta_start <= beta_end"),
        ({"spacing": "even"}, "unknown timestep spacing 'even'"),
        ({"prediction": "x0"}, "unknown DDPM prediction 'x0'"),
    ],
)
def test_bad_path_options_are_refused_by_name(options, message):
    with pytest.raises(ParamgenError, match=message):
        DDPMPath(**options)
