"""Condition encoders: example images drawn in the right style; scalar validation and ranges."""

import pytest
import torch

from paramgen.data import Style, apply_style, load_digits16
from paramgen.errors import ParamgenError
from paramgen.generator.condition_checks import (
    RANGE_TOLERANCE,
    ConditionRangeWarning,
    OutOfRange,
    check_finite,
    report_outside_range,
)
from paramgen.generator.conditions import (
    ImageConditionEncoder,
    NoConditionEncoder,
    ScalarConditionEncoder,
)


def test_training_examples_are_training_digits_in_each_rows_style():
    encoder = ImageConditionEncoder({"rotation": ()}, out_dim=8, examples=5)
    encoder.fit({"rotation": torch.tensor([0.0, 90.0, 0.0, 90.0])})
    inputs = encoder.training_inputs(
        {"rotation": torch.tensor([90.0, 0.0])}, torch.Generator().manual_seed(0)
    )
    images = inputs["images"]
    assert images.shape == (2, 5, 1, 16, 16)
    digits = load_digits16("train").images
    upright = digits.flatten(1)
    rotated = apply_style(digits, Style.of(rotation=90.0)).flatten(1)

    def matches(pool: torch.Tensor, examples: torch.Tensor) -> bool:
        distances = torch.cdist(examples.flatten(1), pool)
        return bool((distances.min(dim=1).values < 1e-5).all())

    assert matches(rotated, images[0]) and not matches(upright, images[0])
    assert matches(upright, images[1]) and not matches(rotated, images[1])


def test_image_encoder_needs_fit_before_training_inputs():
    encoder = ImageConditionEncoder({"rotation": ()}, out_dim=8)
    with pytest.raises(ParamgenError, match="fit"):
        encoder.training_inputs({"rotation": torch.tensor([0.0])}, torch.Generator())


def test_scalar_encoder_names_unknown_and_misshaped_conditions():
    encoder = ScalarConditionEncoder({"rotation": ()}, out_dim=8)
    encoder.fit({"rotation": torch.tensor([-90.0, 90.0])})
    assert encoder({"rotation": torch.tensor([0.0, 45.0])}).shape == (2, 8)
    with pytest.raises(ParamgenError, match="angle"):
        encoder({"angle": torch.tensor([0.0])})
    with pytest.raises(ParamgenError, match="shape"):
        encoder({"rotation": torch.zeros(2, 3)})


def test_scalar_encoder_lists_values_outside_the_training_range_per_element():
    encoder = ScalarConditionEncoder({"angle": (), "rgb": (3,)}, out_dim=8)
    encoder.fit(
        {"angle": torch.tensor([-90.0, 90.0]), "rgb": torch.tensor([[0.0, 0.0, 0.0], [1, 1, 1]])}
    )
    inside = {"angle": torch.tensor([-90.0, 0.0, 90.0]), "rgb": torch.full((3, 3), 0.5)}
    assert encoder.outside_range(inside) == []
    asked = {
        "angle": torch.tensor([400.0, 0.0, -200.0]),
        "rgb": torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 1.5], [0.5, 0.5, 0.5]]),
    }
    found = {item.name: item for item in encoder.outside_range(asked)}
    assert sorted(found) == ["angle", "rgb[2]"]
    assert (found["angle"].value, found["angle"].count) == (400.0, 2)  # the farthest of two
    assert (found["angle"].low, found["angle"].high) == (-90.0, 90.0)
    assert found["rgb[2]"].value == 1.5 and found["rgb[2]"].count == 1
    assert str(found["rgb[2]"]) == "condition rgb[2]=1.5 is outside the training range [0, 1]"


def test_range_check_tolerates_rounding_but_not_more():
    encoder = ScalarConditionEncoder({"angle": ()}, out_dim=8)
    encoder.fit({"angle": torch.tensor([-90.0, 90.0])})
    slack = RANGE_TOLERANCE * 180
    assert encoder.outside_range({"angle": torch.tensor([90.0 + slack / 4])}) == []
    assert len(encoder.outside_range({"angle": torch.tensor([90.0 + 1e-2])})) == 1


def test_report_outside_range_warns_or_refuses_and_non_finite_values_fail():
    found = [OutOfRange("rotation", 400.0, -90.0, 90.0)]
    expected = r"condition rotation=400 is outside the training range \[-90, 90\]"
    with pytest.warns(ConditionRangeWarning, match=expected + "; the generator extrapolates"):
        report_outside_range(found, strict=False)
    with pytest.raises(ParamgenError, match=expected):
        report_outside_range(found, strict=True)
    report_outside_range([], strict=True)  # nothing outside: nothing to refuse
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ParamgenError, match="'rotation' contains NaN or Inf"):
            check_finite({"rotation": torch.tensor([0.0, bad])})


def test_no_condition_encoder_gives_one_embedding_and_refuses_conditions():
    encoder = NoConditionEncoder({}, out_dim=8)
    assert encoder.batch({}, 5) == {} and encoder.outside_range({}) == []
    assert encoder({}).shape == (1, 8) and list(encoder.state_dict()) == []
    with pytest.raises(ParamgenError, match=r"unconditional; pass no conditions, got \['angle'\]"):
        encoder.batch({"angle": 3.0}, 5)
    with pytest.raises(ParamgenError, match="without conditions"):
        NoConditionEncoder({"angle": ()})


def test_scalar_encoder_trained_on_one_value_quotes_it_and_stays_finite():
    encoder = ScalarConditionEncoder({"nfe": ()}, out_dim=8)
    encoder.fit({"nfe": torch.tensor([1000.0, 1000.0])})  # 1000 + 1e-6 rounds to 1000 in float32
    assert encoder.outside_range({"nfe": torch.tensor([1000.0])}) == []
    (found,) = encoder.outside_range({"nfe": torch.tensor([1001.0])})
    assert str(found) == "condition nfe=1001 is outside the training range [1000, 1000]"
    assert torch.isfinite(encoder({"nfe": torch.tensor([1000.0, 1001.0])})).all()
