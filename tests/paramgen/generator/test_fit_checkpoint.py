"""A killed generator fit resumes from its checkpoint and ends with the same weights."""

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.generator import GeneratorConfig, ParamGenerator
from tests.paramgen.generator.test_model import TINY, TINY_TOKENS, synthetic_set

CONFIG = GeneratorConfig(**{**TINY, "ae_steps": 30, "denoiser_steps": 30})
TOKENS = GeneratorConfig(**{**TINY_TOKENS, "ae_steps": 30, "denoiser_steps": 30})


class Killed(Exception):
    pass


def kill_at(stage: str, step: int):
    def on_progress(at_stage: str, at_step: int, total: int, loss: float) -> None:
        if (at_stage, at_step) == (stage, step):
            raise Killed

    return on_progress


def same_weights(a: ParamGenerator, b: ParamGenerator) -> bool:
    return all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


@pytest.fixture(scope="module", params=[CONFIG, TOKENS], ids=["whole-row", "tokens"])
def uninterrupted(request):
    return ParamGenerator.fit(synthetic_set(), request.param)


@pytest.mark.parametrize("stage, step", [("autoencoder", 17), ("denoiser", 23)])
def test_resumed_fit_matches_an_uninterrupted_one(tmp_path, uninterrupted, stage, step):
    checkpoint = tmp_path / "fit.safetensors"
    config = uninterrupted.config
    with pytest.raises(Killed):
        ParamGenerator.fit(synthetic_set(), config, kill_at(stage, step), checkpoint, 10)
    assert checkpoint.exists()
    resumed_steps = []
    resumed = ParamGenerator.fit(
        synthetic_set(),
        config,
        lambda at_stage, at_step, total, loss: resumed_steps.append((at_stage, at_step)),
        checkpoint,
        10,
    )
    assert resumed_steps[0] == (stage, 11 if stage == "autoencoder" else 21)  # from step 10/20
    assert same_weights(resumed, uninterrupted)


def test_checkpoint_of_another_fit_is_refused(tmp_path):
    checkpoint = tmp_path / "fit.safetensors"
    with pytest.raises(Killed):
        ParamGenerator.fit(synthetic_set(), CONFIG, kill_at("autoencoder", 12), checkpoint, 10)
    other = GeneratorConfig(**{**TINY, "ae_steps": 30, "denoiser_steps": 30, "seed": 1})
    with pytest.raises(ParamgenError, match="another config or other training rows"):
        ParamGenerator.fit(synthetic_set(), other, checkpoint=checkpoint)
    with pytest.raises(ParamgenError, match="another config or other training rows"):
        ParamGenerator.fit(synthetic_set(30), CONFIG, checkpoint=checkpoint)


def test_unreadable_checkpoint_is_a_clear_error(tmp_path):
    checkpoint = tmp_path / "fit.safetensors"
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(ParamgenError, match="not a readable training checkpoint"):
        ParamGenerator.fit(synthetic_set(), CONFIG, checkpoint=checkpoint)
