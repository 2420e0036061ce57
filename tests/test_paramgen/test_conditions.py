"""Condition encoders: example images drawn in the right style; scalar validation."""

import pytest
import torch

from paramgen.conditions import ImageConditionEncoder, ScalarConditionEncoder
from paramgen.data import Style, apply_style, load_digits16
from paramgen.errors import ParamgenError


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
