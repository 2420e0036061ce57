import pytest
import torch

from paramgen.data import Style, apply_style, load_digits16
from paramgen.errors import ParamgenError


@pytest.fixture(scope="module")
def digits() -> torch.Tensor:
    return load_digits16("test").images[:32]


def test_split_is_fixed_and_disjoint():
    train, test = load_digits16("train"), load_digits16("test")
    assert (len(train), len(test)) == (1348, 449)
    assert (
        train.images.shape[1:] == (1, 16, 16) and 0 <= train.images.min() <= train.images.max() <= 1
    )
    assert torch.equal(load_digits16("test").images, test.images)


def test_neutral_style_is_identity(digits):
    assert torch.equal(apply_style(digits, Style()), digits)


def test_rotation_by_90_is_anticlockwise_rot90(digits):
    rotated = apply_style(digits, Style(rotation=90))
    assert torch.allclose(rotated, torch.rot90(digits, 1, dims=(2, 3)), atol=1e-5)


def test_rotation_is_continuous(digits):
    small = apply_style(digits, Style(rotation=1.0))
    large = apply_style(digits, Style(rotation=20.0))
    assert (small - digits).abs().mean() < (large - digits).abs().mean()


def test_stroke_thickens_and_thins_monotonically(digits):
    ink = [apply_style(digits, Style(stroke=s)).mean().item() for s in (-1, -0.5, 0, 0.5, 1)]
    assert ink == sorted(ink) and ink[0] < ink[2] < ink[4]


def test_contrast_minus_one_inverts(digits):
    assert torch.allclose(apply_style(digits, Style(contrast=-1)), 1 - digits, atol=1e-6)
    assert torch.allclose(apply_style(digits, Style(contrast=0)), torch.full_like(digits, 0.5))


def test_shear_moves_ink_sideways(digits):
    sheared = apply_style(digits, Style(shear=0.4))
    assert not torch.allclose(sheared, digits)
    assert sheared.shape == digits.shape


def test_styles_combine(digits):
    both = apply_style(digits, Style(rotation=90, contrast=-1))
    assert torch.allclose(both, 1 - torch.rot90(digits, 1, dims=(2, 3)), atol=1e-5)


def test_bad_style_values_are_clear_errors():
    with pytest.raises(ParamgenError, match="stroke must be in"):
        Style(stroke=2)
    with pytest.raises(ParamgenError, match="unknown style parameters"):
        Style.of(colour=1)
