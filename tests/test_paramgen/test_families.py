"""Every registered family through the same battery: config round trip, attach → extract →
apply, strict checks of stored tensors, the functional form, and the registry."""

import pytest
import torch

from paramgen.backbones import build_backbone
from paramgen.errors import ParamgenError
from paramgen.families import Family, family_names, get_family, register_family
from paramgen.families.dpi import DpiConfig
from paramgen.families.lora import LoraSpec
from paramgen.families.mac import MacNetConfig
from paramgen.families.subset import SubsetConfig

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


def test_every_built_in_family_is_registered_and_tested():
    assert set(CASES) <= set(family_names())
    assert all(isinstance(get_family(name), Family) for name in CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_config_round_trips_through_json(name):
    family, (_, config, _) = get_family(name), CASES[name]
    assert family.config_from_dict(family.config_to_dict(config)) == config


@pytest.mark.parametrize("name", list(CASES))
def test_attach_extract_apply_round_trip(name):
    family, (make_base, config, run) = get_family(name), CASES[name]
    base = make_base()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    torch.manual_seed(0)
    row = perturbed(family.extract(family.attach(base, config), config))
    model = family.apply(base, config, row)
    assert all(torch.equal(v, row[k]) for k, v in family.extract(model, config).items())
    assert all(torch.equal(v, before[k]) for k, v in base.state_dict().items())  # untouched
    with torch.no_grad():
        assert torch.isfinite(run(model)).all()


@pytest.mark.parametrize("name", list(CASES))
def test_stored_tensors_are_checked_by_name_shape_and_value(name):
    family, (make_base, config, _) = get_family(name), CASES[name]
    base = make_base()
    row = family.extract(family.attach(base, config), config)
    first = next(iter(row))
    with pytest.raises(ParamgenError, match="missing"):
        family.apply(base, config, {k: v for k, v in row.items() if k != first})
    with pytest.raises(ParamgenError):
        family.apply(base, config, {**row, first: torch.zeros(3)})
    with pytest.raises(ParamgenError, match="NaN"):
        family.apply(base, config, {**row, first: torch.full_like(row[first], float("nan"))})


@pytest.mark.parametrize("name", [n for n in CASES if n in ("lora", "subset")])
def test_functional_form_equals_the_working_model(name):
    family, (make_base, config, run) = get_family(name), CASES[name]
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
