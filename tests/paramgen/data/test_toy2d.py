import pytest
import torch

from paramgen.data import TOY_DISTRIBUTIONS, sample_toy
from paramgen.errors import ParamgenError


@pytest.mark.parametrize("name", sorted(TOY_DISTRIBUTIONS))
def test_shapes_and_reproducibility(name):
    points = sample_toy(name, 500, seed=3)
    assert points.shape == (500, 2) and points.dtype == torch.float32
    assert torch.equal(points, sample_toy(name, 500, seed=3))
    assert not torch.equal(points, sample_toy(name, 500, seed=4))


def test_gaussian_moments():
    points = sample_toy("gaussian", 20_000)
    assert points.mean(0).abs().max() < 0.05 and (points.std(0) - 1).abs().max() < 0.05


def test_eight_gaussians_match_torchcfm_scaling():
    points = sample_toy("8gaussians", 20_000)
    radius = points.norm(dim=1)
    assert (radius.mean() - 5).abs() < 0.1
    angles = torch.atan2(points[:, 1], points[:, 0])
    nearest = torch.round(angles / (torch.pi / 4)) * (torch.pi / 4)
    centres = 5 * torch.stack([nearest.cos(), nearest.sin()], dim=1)
    assert ((points - centres).std() - 0.1**0.25).abs() < 0.03


def test_checkerboard_lies_on_black_squares():
    points = sample_toy("checkerboard", 5_000)
    assert points.abs().max() <= 4
    cells = torch.floor(points / 2).long()
    assert ((cells[:, 0] + cells[:, 1]) % 2 == 0).all()


def test_unknown_distribution():
    with pytest.raises(ParamgenError, match="unknown toy distribution"):
        sample_toy("spirals", 10)
