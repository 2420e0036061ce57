"""Row codes: a tokenized generator without conditions samples rows whose tokens belong together
(without them, each token came from another training row: bench/token_dependence.py)."""

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.generator import GeneratorConfig, ParamGenerator, TrainingSet
from paramgen.generator.row_codes import principal_basis
from paramgen.schema import ParamSchema, ParamSpec
from tests.paramgen.generator.test_fit_checkpoint import Killed, kill_at, same_weights
from tests.paramgen.generator.test_model import TINY, TINY_TOKENS, synthetic_set

pytestmark = pytest.mark.usefixtures("one_thread")


def principal_codes(latents: torch.Tensor, dim: int, generator: torch.Generator) -> torch.Tensor:
    """The codes of ``latents`` in their own principal basis."""
    return principal_basis(latents, dim, generator).codes(latents)


LINE_SCHEMA = ParamSchema((ParamSpec("w", (32, 32)),))  # 8 tokens of 128
TOKEN_SIZE = 128


def line_rows(rows: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rows a·v + a little noise, one a ~ U[−1, 1] per row along one direction v: rows, a, v."""
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(LINE_SCHEMA.dim, generator=generator)
    a = torch.rand(rows, generator=generator) * 2 - 1
    noise = 0.01 * torch.randn(rows, LINE_SCHEMA.dim, generator=generator)
    return a[:, None] * direction + noise, a, direction


def token_coefficients(rows: torch.Tensor, direction: torch.Tensor) -> torch.Tensor:
    """[n, tokens]: each token's coefficient along its part of the direction."""
    parts = direction.view(-1, TOKEN_SIZE)
    tokens = rows.view(len(rows), -1, TOKEN_SIZE)
    return (tokens * parts).sum(-1) / parts.square().sum(-1)


def test_codes_are_the_rows_principal_components_with_unit_spread():
    rows, a, _ = line_rows()
    rows = rows + 0.1 * torch.randn(rows.shape, generator=torch.Generator().manual_seed(1))
    codes = principal_codes(rows[:, None, :], 3, torch.Generator().manual_seed(0))
    assert codes.shape == (len(rows), 3)
    assert torch.allclose(codes.std(dim=0), torch.ones(3), atol=1e-4)
    correlation = torch.corrcoef(torch.stack([codes[:, 0], a]))[0, 1]
    assert correlation.abs() > 0.999  # the first component is the position along the line


def test_components_the_rows_do_not_span_are_zero():
    rows = torch.randn(
        3, 50, generator=torch.Generator().manual_seed(0)
    )  # three rows span two directions around their mean
    codes = principal_codes(rows, 5, torch.Generator().manual_seed(0))
    assert codes[:, 2:].abs().max() == 0 and codes[:, :2].abs().min() > 0


def test_codes_of_many_rows_take_their_basis_from_a_seeded_draw(monkeypatch):
    monkeypatch.setattr("paramgen.generator.row_codes.BASIS_ROWS", 40)
    rows, a, _ = line_rows(rows=200)
    first = principal_codes(rows, 2, torch.Generator().manual_seed(1))
    assert torch.equal(first, principal_codes(rows, 2, torch.Generator().manual_seed(1)))
    assert torch.corrcoef(torch.stack([first[:, 0], a]))[0, 1].abs() > 0.999


def test_a_generated_row_is_one_row_of_the_training_line_not_a_patchwork():
    """Training rows have one coefficient a for all 8 tokens (within-row spread 0). With the
    row code, generated rows do too (up to the model's error), across the whole range of a."""
    rows, _, direction = line_rows()
    config = GeneratorConfig(
        architecture="tokens", token_size=TOKEN_SIZE, token_width=64, tokens_per_step=64,
        latent_dim=8, ae_channels=(), ae_steps=400, denoiser_steps=1500, width=64, depth=2,
        condition_dim=16,
    )  # fmt: skip
    generator = ParamGenerator.fit(TrainingSet(rows, {}, LINE_SCHEMA, {}), config)
    assert generator.row_codes is not None
    coefficients = token_coefficients(generator.sample_rows({}, 64, seed=0), direction)
    within, across = coefficients.std(dim=1).mean(), coefficients.mean(dim=1).std()
    assert across > 0.3  # the rows spread along the line (U[−1, 1]: 0.58) ...
    assert within < 0.25 * across  # ... and each row's tokens agree on where (patchwork: ≈ 1)


def test_only_a_tokenized_generator_without_conditions_has_a_row_code():
    conditional = synthetic_set()
    unconditional = TrainingSet(conditional.params, {}, conditional.schema, {})
    short = {"ae_steps": 1, "denoiser_steps": 1}
    built = {
        "tokens, unconditional": (unconditional, {**TINY_TOKENS, **short}),
        "tokens, conditional": (conditional, {**TINY_TOKENS, **short}),
        "whole-row, unconditional": (unconditional, {**TINY, **short}),
        "tokens, unconditional, off": (unconditional, {**TINY_TOKENS, **short, "row_code_dim": 0}),
    }
    fitted = {
        name: ParamGenerator.fit(data, GeneratorConfig(**config))
        for name, (data, config) in built.items()
    }
    has_code = {name: generator.row_codes is not None for name, generator in fitted.items()}
    for name, generator in fitted.items():  # a latent classifier reads the code, if any
        latent = tuple(generator.autoencoder.latent_shape)
        assert generator.guided_shape == ((16,) if has_code[name] else latent)
    assert has_code == {
        "tokens, unconditional": True,
        "tokens, conditional": False,
        "whole-row, unconditional": False,
        "tokens, unconditional, off": False,
    }


def test_a_saved_generator_with_row_codes_samples_the_same_after_loading(tmp_path):
    data = synthetic_set()
    unconditional = TrainingSet(data.params, {}, data.schema, {})
    generator = ParamGenerator.fit(unconditional, GeneratorConfig(**TINY_TOKENS))
    generator.save_pretrained(tmp_path / "g")
    loaded = ParamGenerator.from_pretrained(tmp_path / "g")
    assert loaded.row_codes is not None and generator.code_directions.abs().sum() > 0
    assert torch.equal(loaded.guided_inputs(data.params), generator.guided_inputs(data.params))
    assert torch.equal(loaded.sample_rows({}, 3, steps=4), generator.sample_rows({}, 3, steps=4))


def test_a_negative_row_code_size_is_refused_by_name():
    with pytest.raises(ParamgenError, match="row_code_dim must be >= 0, got -1"):
        GeneratorConfig(row_code_dim=-1)


def test_a_resumed_unconditional_tokens_fit_finds_the_same_code_basis(tmp_path, monkeypatch):
    """With more rows than BASIS_ROWS the basis comes from a random draw of rows: a fit resumed
    in its denoiser stage must draw the same ones and end with the same weights."""
    monkeypatch.setattr("paramgen.generator.row_codes.BASIS_ROWS", 8)
    data = synthetic_set()
    unconditional = TrainingSet(data.params, {}, data.schema, {})
    config = GeneratorConfig(**{**TINY_TOKENS, "ae_steps": 30, "denoiser_steps": 30})
    uninterrupted = ParamGenerator.fit(unconditional, config)
    checkpoint = tmp_path / "fit.safetensors"
    with pytest.raises(Killed):
        ParamGenerator.fit(unconditional, config, kill_at("denoiser", 23), checkpoint, 10)
    resumed = ParamGenerator.fit(unconditional, config, checkpoint=checkpoint, checkpoint_every=10)
    assert len(data.params) > 8 and same_weights(resumed, uninterrupted)
