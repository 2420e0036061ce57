"""Every registered family through the same contract: config round trip, attach → extract →
apply → save → load → apply with identical outputs, strict checks of stored tensors, the
functional form, and the registry. Cases are parametrised over the registry: a family registered
without a case here fails."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from paramgen.backbones import build_backbone
from paramgen.errors import ParamgenError
from paramgen.families import Family, family_names, get_family, register_family
from paramgen.families.dpi import DpiConfig
from paramgen.families.lora import LoraSpec
from paramgen.families.mac import MacNetConfig
from paramgen.families.subset import SubsetConfig
from paramgen.schema import ParamSchema

pytestmark = pytest.mark.usefixtures("one_thread")

IMAGES = torch.rand(3, 1, 16, 16)
# family → (base, config, how to run the working model on IMAGES)
CASES = {
    "lora": (lambda: build_backbone("digits-cnn"), LoraSpec(("conv1", "fc1")), lambda m: m(IMAGES)),
    "subset": (
        lambda: build_backbone("digits-cnn"),
        SubsetConfig(("fc2.*", "conv1.bias")),
        lambda m: m(IMAGES),
    ),
    "dpi": (
        lambda: build_backbone("digits-unet-small"),
        DpiConfig(table_size=8),
        lambda m: m(IMAGES * 2 - 1, 0.5),
    ),
    "mac": (
        lambda: build_backbone("digits-unet-small"),
        MacNetConfig(hidden=4, depth=1),
        lambda m: m(torch.randn(2, 1, 16, 16, generator=torch.Generator().manual_seed(0)), 2),
    ),
}


def perturbed(tensors: dict) -> dict:
    generator = torch.Generator().manual_seed(1)
    return {k: v + 0.1 * torch.randn(v.shape, generator=generator) for k, v in tensors.items()}


FAMILIES = family_names()


def case(name: str) -> tuple:
    """``name``'s (base, config, run), failing for a registered family without one."""
    if name not in CASES:
        pytest.fail(f"family {name!r} is registered but has no case in CASES")
    return CASES[name]


def test_every_registered_family_has_a_case():
    assert sorted(CASES) == FAMILIES
    assert all(isinstance(get_family(name), Family) for name in FAMILIES)


@pytest.mark.parametrize("name", FAMILIES)
def test_config_round_trips_through_json(name):
    family, (_, config, _) = get_family(name), case(name)
    assert family.config_from_dict(json.loads(json.dumps(family.config_to_dict(config)))) == config


@pytest.mark.parametrize("name", FAMILIES)
def test_a_row_saved_and_loaded_gives_the_same_model(name, tmp_path):
    """attach → extract → apply → save (a safetensors file, as ``paramgen generate`` writes a row,
    through the flat row of a zoo; the config as the group's JSON) → load → apply."""
    family, (make_base, config, run) = get_family(name), case(name)
    base = make_base()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    torch.manual_seed(0)
    row = perturbed(family.extract(family.attach(base, config), config))
    model = family.apply(base, config, row)
    assert all(torch.equal(v, row[k]) for k, v in family.extract(model, config).items())
    schema = ParamSchema.from_state_dict(row)
    stored = {k: v.contiguous() for k, v in schema.unflatten(schema.flatten(row)).items()}
    save_file(stored, tmp_path / "row.safetensors")
    stored_config = json.loads(json.dumps(family.config_to_dict(config)))
    loaded = family.apply(
        base, family.config_from_dict(stored_config), load_file(tmp_path / "row.safetensors")
    )
    assert all(torch.equal(v, before[k]) for k, v in base.state_dict().items())  # untouched
    with torch.no_grad():
        expected = run(model)
        assert torch.isfinite(expected).all() and torch.equal(run(loaded), expected)


@pytest.mark.parametrize("name", FAMILIES)
def test_stored_tensors_are_checked_by_name_shape_and_value(name):
    family, (make_base, config, _) = get_family(name), case(name)
    base = make_base()
    row = family.extract(family.attach(base, config), config)
    first = next(iter(row))
    with pytest.raises(ParamgenError, match="missing"):
        family.apply(base, config, {k: v for k, v in row.items() if k != first})
    with pytest.raises(ParamgenError):
        family.apply(base, config, {**row, first: torch.zeros(3)})
    with pytest.raises(ParamgenError, match="NaN"):
        family.apply(base, config, {**row, first: torch.full_like(row[first], float("nan"))})


# The families whose class overrides Family.functional (the others are trained one at a time).
FUNCTIONAL = [n for n in FAMILIES if type(get_family(n)).functional is not Family.functional]


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_form_equals_the_working_model(name):
    family, (make_base, config, run) = get_family(name), case(name)
    base = make_base()
    row = perturbed(family.extract(family.attach(base, config), config))
    with torch.no_grad():
        expected = run(family.apply(base, config, row))
        got = family.functional(base, config)(row, IMAGES)
    assert (got - expected).abs().max() <= 1e-5


def test_subset_patterns_that_match_nothing_are_refused():
    with pytest.raises(ParamgenError, match="match no floating-point parameter"):
        get_family("subset").attach(build_backbone("digits-cnn"), SubsetConfig(("head.*",)))


def test_unknown_families_and_double_registration_are_refused():
    with pytest.raises(ParamgenError, match="unknown family 'nope'"):
        get_family("nope")
    with pytest.raises(ParamgenError, match="already registered"):
        register_family(get_family("lora"))
