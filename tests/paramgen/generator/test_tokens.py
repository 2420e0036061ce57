"""The tokenized generator's parts: token layout, masked token autoencoder, the auto choice of
architecture, streaming statistics, and rows streamed from a zoo file."""

import json

import pytest
import torch

from paramgen.generator import GeneratorConfig, ParamGenerator, TrainingSet
from paramgen.generator.config import TOKENS_FROM_DIM
from paramgen.generator.normalization import TensorwiseNormalizer
from paramgen.generator.token_autoencoder import TokenAutoencoder
from paramgen.generator.tokens import TokenLayout
from paramgen.schema import ParamSchema, ParamSpec
from tests.paramgen.generator.test_model import SCHEMA, TINY, TINY_TOKENS, synthetic_set
from zoo.store import Zoo
from zoo.training_set import StreamedRows, training_set

LAYOUT_SCHEMA = ParamSchema(
    (ParamSpec("a", (3, 7)), ParamSpec("b", (8,)), ParamSpec("c", (1,)), ParamSpec("d", (17,)))
)


def test_tokens_never_mix_tensors_and_assemble_back_to_the_row():
    layout = TokenLayout(LAYOUT_SCHEMA, 8)
    assert layout.count == 3 + 1 + 1 + 3
    assert layout.length.sum() == LAYOUT_SCHEMA.dim
    ends = torch.tensor(LAYOUT_SCHEMA.offsets[1:] + (LAYOUT_SCHEMA.dim,))
    assert (layout.start + layout.length <= ends[layout.tensor]).all()  # inside its own tensor
    rows = torch.randn(5, LAYOUT_SCHEMA.dim)
    every = torch.arange(layout.count).expand(5, -1)
    batch = layout.cut(rows, every)
    assert batch.values.shape == (5, layout.count, 8)
    assert (batch.values[~batch.mask] == 0).all() and batch.mask.sum() == 5 * LAYOUT_SCHEMA.dim
    assert torch.equal(layout.assemble(batch.values), rows)


def test_token_loss_leaves_the_padding_out():
    """Every token here is one tensor shorter than the token: columns 5.. are padding."""
    schema = ParamSchema((ParamSpec("a", (5,)), ParamSpec("b", (3,))))
    autoencoder = TokenAutoencoder(schema, 8, 4, 16, 0.0, 0.0).eval()
    rows = torch.randn(6, schema.dim)
    config = GeneratorConfig(tokens_per_step=4, batch_size=6)
    loss = autoencoder.training_loss(rows, config, torch.Generator().manual_seed(0))
    with torch.no_grad():
        autoencoder.decode_out[-1].bias[5:] += 1000.0
    again = autoencoder.training_loss(rows, config, torch.Generator().manual_seed(0))
    assert torch.allclose(loss, again)


def test_auto_architecture_is_chosen_by_row_length_and_recorded(tmp_path):
    config = GeneratorConfig()
    assert config.for_dim(TOKENS_FROM_DIM - 1).architecture == "whole-row"
    assert config.for_dim(TOKENS_FROM_DIM).architecture == "tokens"
    assert GeneratorConfig(architecture="whole-row").for_dim(10**9).architecture == "whole-row"
    generator = ParamGenerator.fit(synthetic_set(), GeneratorConfig(**TINY))
    generator.save_pretrained(tmp_path / "gen")
    saved = json.loads((tmp_path / "gen" / "config.json").read_text())
    assert saved["config"]["architecture"] == "whole-row"


def test_a_config_saved_before_the_choice_loads_as_whole_row(tmp_path):
    generator = ParamGenerator.fit(synthetic_set(), GeneratorConfig(**TINY))
    generator.save_pretrained(tmp_path / "gen")
    path = tmp_path / "gen" / "config.json"
    saved = json.loads(path.read_text())
    for key in ("architecture", "token_size", "token_width", "tokens_per_step"):
        del saved["config"][key]
    path.write_text(json.dumps(saved))
    loaded = ParamGenerator.from_pretrained(tmp_path / "gen")
    assert loaded.config.architecture == "whole-row"
    assert torch.equal(
        loaded.sample_rows({"angle": 0.1}, 2), generator.sample_rows({"angle": 0.1}, 2)
    )


def test_tokenized_generator_encodes_and_decodes_rows_token_by_token():
    generator = ParamGenerator.fit(synthetic_set(), GeneratorConfig(**TINY_TOKENS))
    rows = synthetic_set().params[:5]
    latents = generator.encode(rows)
    assert latents.shape == (5, 4, TINY["latent_dim"])  # 4 tokens a row
    assert generator.decode(latents).shape == rows.shape
    sampled = generator.sample_latents({"angle": 0.0}, 3)
    assert sampled.shape == (3, 4, TINY["latent_dim"])


@pytest.mark.parametrize("centre", ["tensor", "element"])
def test_statistics_from_chunks_match_statistics_of_all_rows(centre):
    rows = synthetic_set().params.double()
    whole = TensorwiseNormalizer(SCHEMA, centre).fit(rows)
    chunked = TensorwiseNormalizer(SCHEMA, centre).fit(iter(rows.split(7)))
    assert torch.allclose(whole.mean, chunked.mean, rtol=1e-6, atol=1e-9)
    assert torch.allclose(whole.std, chunked.std, rtol=1e-6)
    pieces = rows.split([20, 7], dim=1)
    expected = torch.stack([piece.std() for piece in pieces]).float()  # tensor centring
    if centre == "tensor":
        assert torch.allclose(whole.std, expected, rtol=1e-5)


def _zoo_with(tmp_path, data: TrainingSet):
    zoo = Zoo.create(tmp_path / "zoo.h5")
    group = zoo.create_group(
        family="subset", backbone="b", task="t", schema=data.schema, conditions={"angle": ()}
    )
    group.append(data.params, conditions=data.conditions)
    return zoo, group


def test_rows_streamed_from_the_zoo_fit_the_same_generator_as_rows_in_memory(tmp_path):
    zoo, group = _zoo_with(tmp_path, synthetic_set())
    with zoo:
        streamed = training_set(group, None, in_memory_bytes=0)
        assert isinstance(streamed.params, StreamedRows)
        assert torch.equal(
            streamed.params[torch.tensor([3, 1, 3])], synthetic_set().params[[3, 1, 3]]
        )
        in_memory = training_set(group, None)
        assert isinstance(in_memory.params, torch.Tensor)
        for config in (TINY, TINY_TOKENS):
            a = ParamGenerator.fit(streamed, GeneratorConfig(**config))
            b = ParamGenerator.fit(in_memory, GeneratorConfig(**config))
            assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())


def test_a_step_draws_distinct_tokens_of_each_row_and_all_of_a_short_row():
    autoencoder = TokenAutoencoder(LAYOUT_SCHEMA, 8, 4, 16, 0.0, 0.0)  # 8 tokens a row
    latents = torch.arange(10 * 8 * 4, dtype=torch.float32).view(10, 8, 4)
    index = torch.tensor([0, 3, 3])
    rng = torch.Generator().manual_seed(0)
    for tokens, per_row in ((12, 4), (100, 8)):
        items, ids = autoencoder.training_items(
            latents, index, GeneratorConfig(tokens_per_step=tokens), rng
        )
        assert ids.shape == (3, per_row) and items.shape == (3 * per_row, 4)
        assert all(len(set(row.tolist())) == per_row for row in ids)
        assert torch.equal(items.view(3, per_row, 4), latents[index[:, None], ids])
