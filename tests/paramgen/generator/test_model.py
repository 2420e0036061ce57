"""ParamGenerator on tiny synthetic zoos: fit, sample, save → load → identical, clear errors;
unconditional generators and condition values outside the training range."""

import json
import re
import warnings

import pytest
import torch

from paramgen.errors import ParamgenError
from paramgen.generator import GeneratorConfig, ParamGenerator, TrainingSet, config_for_family
from paramgen.generator.autoencoder import ParamAutoencoder
from paramgen.generator.condition_checks import ConditionRangeWarning
from paramgen.generator.normalization import TensorwiseNormalizer
from paramgen.paths import generator_path_names
from paramgen.schema import ParamSchema, ParamSpec
from paramgen.solvers import SAMPLERS, samplers_for

SCHEMA = ParamSchema((ParamSpec("a.weight", (4, 5)), ParamSpec("b.bias", (7,))))
TINY = dict(
    latent_dim=8,
    ae_channels=(4, 8),
    ae_stride=2,
    ae_steps=60,
    width=32,
    depth=2,
    condition_dim=16,
    denoiser_steps=60,
    batch_size=16,
)
TINY_TOKENS = {  # rows of 27 numbers: a.weight in three tokens (the last padded), b.bias in one
    **TINY,
    "architecture": "tokens",
    "token_size": 8,
    "token_width": 16,
    "tokens_per_step": 16,
}


def synthetic_set(rows: int = 40) -> TrainingSet:
    """Rows that depend smoothly on a scalar condition, with tensors of very different scale."""
    generator = torch.Generator().manual_seed(0)
    angle = torch.linspace(-1, 1, rows)
    direction = torch.randn(SCHEMA.dim, generator=generator)
    params = angle[:, None] * direction + 0.01 * torch.randn(rows, SCHEMA.dim, generator=generator)
    params[:, 20:] *= 100.0  # b.bias lives on another scale
    return TrainingSet(
        params=params, conditions={"angle": angle}, schema=SCHEMA, metadata={"family": "test"}
    )


@pytest.fixture(scope="module", params=[TINY, TINY_TOKENS], ids=["whole-row", "tokens"])
def fitted(request) -> ParamGenerator:
    return ParamGenerator.fit(synthetic_set(), GeneratorConfig(**request.param))


def test_normalizer_z_scores_each_tensor_and_inverts():
    data = synthetic_set()
    normalizer = TensorwiseNormalizer(SCHEMA).fit(data.params)
    z = normalizer.normalize(data.params)
    for piece in z.split([20, 7], dim=1):
        assert abs(piece.mean().item()) < 1e-5 and abs(piece.std().item() - 1) < 1e-4
    torch.testing.assert_close(normalizer.denormalize(z), data.params, rtol=1e-5, atol=1e-3)


def test_element_centring_leaves_only_the_differences_between_rows():
    data = synthetic_set()
    shared = 5.0 * torch.randn(SCHEMA.dim, generator=torch.Generator().manual_seed(1))
    rows = data.params + shared  # a base shared by every row, like fine-tunes of one network
    normalizer = TensorwiseNormalizer(SCHEMA, centre="element").fit(rows)
    z = normalizer.normalize(rows)
    torch.testing.assert_close(z.mean(dim=0), torch.zeros(SCHEMA.dim), rtol=0, atol=1e-4)
    for piece in z.split([20, 7], dim=1):
        assert abs(piece.std().item() - 1) < 1e-4
    # the shared base is gone: the z-scores equal those of the rows without it
    without = TensorwiseNormalizer(SCHEMA, centre="element").fit(data.params)
    torch.testing.assert_close(z, without.normalize(data.params), rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(normalizer.denormalize(z), rows, rtol=1e-5, atol=1e-3)
    per_tensor = TensorwiseNormalizer(SCHEMA).fit(rows).normalize(rows)
    assert per_tensor.std(dim=0).mean() < 0.5 * z.std(dim=0).mean()  # the base drowns them
    with pytest.raises(ParamgenError, match="centre must be one of"):
        TensorwiseNormalizer(SCHEMA, centre="row")


def test_element_centred_generator_saves_and_loads(tmp_path):
    generator = ParamGenerator.fit(synthetic_set(), GeneratorConfig(**TINY, centre="element"))
    assert generator.normalizer.mean.shape == (SCHEMA.dim,)
    loaded = ParamGenerator.from_pretrained(generator.save_pretrained(tmp_path / "g"))
    assert torch.equal(
        loaded.sample_rows({"angle": 0.3}, 4, seed=2),
        generator.sample_rows({"angle": 0.3}, 4, seed=2),
    )
    with pytest.raises(ParamgenError, match="centre must be one of"):
        GeneratorConfig(centre="row")


def test_autoencoder_shapes_and_deterministic_eval():
    autoencoder = ParamAutoencoder(27, latent_dim=8, channels=(4, 8), stride=2)
    rows = torch.randn(3, 27)
    assert autoencoder.encode(rows).shape == (3, 8)
    assert autoencoder(rows).shape == (3, 27)
    autoencoder.eval()
    assert torch.equal(autoencoder(rows), autoencoder(rows))
    autoencoder.train()
    assert not torch.equal(autoencoder(rows), autoencoder(rows))  # training noise


def test_linear_autoencoder_fits_low_rank_rows():
    autoencoder = ParamAutoencoder(27, latent_dim=8, channels=())
    assert [type(m).__name__ for m in autoencoder.children()].count("Linear") == 2
    data = synthetic_set()  # rank 1 plus 1% noise
    config = GeneratorConfig(**{**TINY, "ae_channels": (), "ae_steps": 1000, "denoiser_steps": 1})
    generator = ParamGenerator.fit(data, config)
    error = generator.decode(generator.encode(data.params)) - data.params
    spread = data.params - data.params.mean(dim=0)
    for piece, scale in zip(error.split([20, 7], dim=1), spread.split([20, 7], dim=1), strict=True):
        assert piece.pow(2).mean() < 0.01 * scale.pow(2).mean()


def test_sample_returns_named_tensors(fitted):
    sets = fitted.sample({"angle": 0.5}, n=3, seed=1)
    assert len(sets) == 3 and list(sets[0]) == ["a.weight", "b.bias"]
    assert sets[0]["a.weight"].shape == (4, 5) and torch.isfinite(sets[0]["b.bias"]).all()
    rows = fitted.sample_rows({"angle": torch.tensor([-1.0, 1.0])}, n=2, seed=1)
    assert rows.shape == (2, SCHEMA.dim)


def test_sampling_is_reproducible_from_the_seed(fitted):
    first = fitted.sample_rows({"angle": 0.2}, 4, seed=5)
    assert torch.equal(first, fitted.sample_rows({"angle": 0.2}, 4, seed=5))
    assert not torch.equal(first, fitted.sample_rows({"angle": 0.2}, 4, seed=6))


def test_guidance_and_other_samplers_run(fitted):
    for sampler in ("euler", "heun", "euler-maruyama"):
        rows = fitted.sample_rows({"angle": 0.0}, 2, sampler=sampler, steps=8, guidance=2.0)
        assert torch.isfinite(rows).all()


@pytest.mark.parametrize("path", generator_path_names())
def test_every_generator_path_fits_and_samples_with_its_default_sampler(path):
    """A path registered for generators trains one (a few steps) and samples finite rows."""
    config = GeneratorConfig(**{**TINY, "ae_steps": 4, "denoiser_steps": 4}, path=path)
    generator = ParamGenerator.fit(synthetic_set(), config)
    rows = generator.sample_rows({"angle": 0.0}, 2, steps=5)
    assert rows.shape == (2, SCHEMA.dim) and torch.isfinite(rows).all()
    wrong = next(s for s in SAMPLERS if s not in samplers_for(generator.path))
    with pytest.raises(ParamgenError, match=re.escape(f"does not fit the '{path}' path")):
        generator.sample_rows({"angle": 0.0}, 1, sampler=wrong)


def test_conditions_are_validated(fitted):
    with pytest.raises(ParamgenError, match=r"unknown \['angel'\].*missing \['angle'\]"):
        fitted.sample({"angel": 0.0})
    with pytest.raises(ParamgenError, match="shape"):
        fitted.sample({"angle": torch.zeros(2, 3)}, n=2)
    with pytest.raises(ParamgenError, match="n must be"):
        fitted.sample({"angle": 0.0}, n=0)


def test_bad_configs_and_training_sets():
    with pytest.raises(ParamgenError, match="unknown path|valid"):
        GeneratorConfig(path="rectified")
    with pytest.raises(ParamgenError, match="condition must be one of"):
        GeneratorConfig(condition="text")
    bad = synthetic_set()
    bad.params[3, 2] = float("nan")
    with pytest.raises(ParamgenError, match="NaN"):
        ParamGenerator.fit(bad, GeneratorConfig(**TINY))


def test_saved_config_holds_the_generator_config_and_skips_unknown_fields(fitted, tmp_path):
    """Save → load → identical samples, and broken folders: tests/paramgen/test_persistence.py."""
    fitted.save_pretrained(tmp_path / "gen")
    config_path = tmp_path / "gen" / "config.json"
    described = json.loads(config_path.read_text())
    assert described["config"]["path"] == "linear" and described["metadata"] == {"family": "test"}
    described["config"]["from_the_future"] = 1
    config_path.write_text(json.dumps(described))
    with pytest.warns(UserWarning, match=r"generator config: ignoring .*\['from_the_future'\]"):
        loaded = ParamGenerator.from_pretrained(tmp_path / "gen")
    assert loaded.config == fitted.config


def test_example_image_conditioning():
    data = synthetic_set(24)
    data.conditions = {"rotation": data.conditions.pop("angle") * 90}
    generator = ParamGenerator.fit(
        data, GeneratorConfig(**TINY, condition="style-images", examples=4)
    )
    images = torch.rand(4, 1, 16, 16)
    rows = generator.sample_rows({"images": images}, n=3)
    assert rows.shape == (3, SCHEMA.dim) and torch.isfinite(rows).all()
    with pytest.raises(ParamgenError, match="example images"):
        generator.sample({"rotation": 30.0})


def test_family_defaults_then_overrides():
    for family in ("dpi", "mac"):
        config = config_for_family(family, seed=3)
        assert (config.centre, config.ae_channels, config.seed) == ("element", (), 3)
    assert config_for_family("lora") == GeneratorConfig()
    assert config_for_family(None, ae_steps=5) == GeneratorConfig(ae_steps=5)
    assert config_for_family("dpi", centre="tensor").centre == "tensor"


def unconditional_set(rows: int = 12) -> TrainingSet:
    """p-diff style: checkpoints of one model, no conditions; two tensor scales."""
    generator = torch.Generator().manual_seed(3)
    params = torch.randn(SCHEMA.dim, generator=generator) + 0.1 * torch.randn(
        rows, SCHEMA.dim, generator=generator
    )
    params[:, 20:] *= 100.0
    return TrainingSet(params=params, conditions={}, schema=SCHEMA, metadata={"family": "pdiff"})


def test_unconditional_generator_fits_samples_saves_and_loads(tmp_path):
    generator = ParamGenerator.fit(unconditional_set(), GeneratorConfig(**TINY))
    rows = generator.sample_rows({}, 5, seed=1)
    assert rows.shape == (5, SCHEMA.dim) and torch.isfinite(rows).all()
    assert rows.std(dim=0).mean() > 0  # five different sets, not one repeated
    assert not torch.equal(rows, generator.sample_rows({}, 5, seed=2))
    assert torch.isfinite(generator.sample_rows({}, 2, guidance=2.0, sampler="euler")).all()
    sets = generator.sample({}, n=2, seed=1)
    assert len(sets) == 2 and sets[0]["a.weight"].shape == (4, 5)
    with pytest.raises(ParamgenError, match=r"unconditional; pass no conditions, got \['angle'\]"):
        generator.sample({"angle": 0.0})
    folder = generator.save_pretrained(tmp_path / "g")
    assert json.loads((folder / "config.json").read_text())["condition_shapes"] == {}
    loaded = ParamGenerator.from_pretrained(folder)
    assert torch.equal(loaded.sample_rows({}, 5, seed=1), rows)


def test_out_of_range_conditions_warn_or_with_strict_fail(fitted):
    expected = r"condition angle=3 is outside the training range \[-1, 1\]"
    with pytest.warns(ConditionRangeWarning, match=expected) as caught:
        rows = fitted.sample_rows({"angle": 3.0}, 2, steps=4)
    assert torch.isfinite(rows).all() and len(caught) == 1
    assert caught[0].filename == __file__  # points at the caller, not at paramgen
    with pytest.raises(ParamgenError, match=expected):
        fitted.sample({"angle": 3.0}, 2, strict=True, steps=4)
    with pytest.raises(ParamgenError, match=r"angle=-2 \(and 1 more value\) is outside"):
        fitted.sample_latents({"angle": torch.tensor([-2.0, 0.0, -1.5])}, 3, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inside the range (its ends too): no warning
        fitted.sample_rows({"angle": torch.tensor([-1.0, 0.0, 1.0])}, 3, strict=True, steps=4)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ParamgenError, match="NaN or Inf"):
            fitted.sample_rows({"angle": bad}, 1)


def test_one_condition_value_in_a_batch_of_one_serves_every_sample(fitted):
    single = fitted.sample_rows({"angle": torch.tensor([0.3])}, 3, seed=1, steps=4)
    torch.testing.assert_close(single, fitted.sample_rows({"angle": 0.3}, 3, seed=1, steps=4))
    with pytest.raises(ParamgenError, match="got 2 condition values for n=3"):
        fitted.sample_rows({"angle": torch.tensor([0.3, 0.4])}, 3)


def test_training_conditions_must_be_finite():
    data = synthetic_set()
    data.conditions["angle"][5] = float("nan")
    with pytest.raises(ParamgenError, match="'angle' contains NaN or Inf"):
        ParamGenerator.fit(data, GeneratorConfig(**TINY))
