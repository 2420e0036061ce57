"""One More Step on a generator's latent DDPM path: fit on its own latents and contexts, then a
first step its sampler takes, for whole-row and tokenized generators."""

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.generator import GeneratorConfig, ParamGenerator
from paramgen.generator.one_more_step import fit_latent_one_more_step, latent_items_and_context
from tests.paramgen.generator.test_model import TINY, TINY_TOKENS, synthetic_set

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", params=[TINY, TINY_TOKENS], ids=["whole-row", "tokens"])
def on_sd_schedule(request) -> ParamGenerator:
    config = GeneratorConfig(**request.param, path="ddpm-scaled-linear")
    return ParamGenerator.fit(synthetic_set(), config)


def test_items_and_context_are_what_the_latent_sampler_draws_and_is_told(on_sd_schedule):
    data = synthetic_set()
    items, context = latent_items_and_context(on_sd_schedule, data)
    shape = on_sd_schedule.autoencoder.latent_shape
    per_row = items.shape[0] // len(data.params)
    assert items.shape == (len(data.params) * per_row, shape[-1]) and per_row == (
        1 if len(shape) == 1 else shape[0]
    )
    assert context.shape[0] == items.shape[0]
    torch.testing.assert_close(
        items.view(len(data.params), *shape), on_sd_schedule.encode(data.params)
    )


def test_the_step_learns_the_latent_mean_per_condition_and_the_sampler_takes_it(on_sd_schedule):
    """The data's two halves (angle < 0, > 0) have different mean latents; ψ's estimate at each
    half's contexts follows them, and sampling with it runs and changes the rows."""
    data = synthetic_set()
    step = fit_latent_one_more_step(on_sd_schedule, data, width=32, steps=600, lr=3e-3, seed=0)
    items, context = latent_items_and_context(on_sd_schedule, data)
    negative = (data.conditions["angle"] < 0).repeat_interleave(len(items) // len(data.params))
    with torch.no_grad():
        estimate = step.estimate(torch.randn(items.shape), condition=context)
    for half in (negative, ~negative):
        error = (estimate[half].mean(0) - items[half].mean(0)).norm()
        assert error < 0.5 * (items[negative].mean(0) - items[~negative].mean(0)).norm()
    plain = on_sd_schedule.sample_rows({"angle": 0.5}, 4, seed=3, steps=10)
    stepped = on_sd_schedule.sample_rows({"angle": 0.5}, 4, seed=3, steps=10, first_step=step)
    assert stepped.shape == plain.shape and stepped.isfinite().all()
    assert not torch.equal(stepped, plain)


def test_a_generator_off_the_ddpm_path_is_refused():
    generator = ParamGenerator.fit(synthetic_set(), GeneratorConfig(**TINY))
    with pytest.raises(ParamgenError, match="needs a generator on a DDPM path"):
        fit_latent_one_more_step(generator, synthetic_set(), steps=1)
