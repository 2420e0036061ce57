import math

import pytest
import torch

from paramgen.data.circles import CircleLayout, blobs, border_circles, centroid_x, render_discs
from paramgen.errors import ParamgenError


@pytest.fixture(scope="module")
def circles():
    return border_circles()


def test_every_allowed_position_once_and_none_in_the_middle(circles):
    layout = CircleLayout()
    assert circles.images.shape == (288, 1, 16, 16) and len(circles) == 288
    assert len(torch.unique(circles.centres, dim=0)) == 288
    assert layout.allowed == (1.5, 13.5) and layout.middle == (4.5, 10.5)
    x = circles.centres[:, 0]
    assert ((x < 4.5) | (x >= 10.5)).all() and x.min() >= 1.5 and x.max() < 13.5
    assert torch.equal(circles.labels, (x > 7.5).long()) and circles.labels.sum() == 144


def test_sides_mirror_each_other(circles):
    left, right = circles.images[circles.labels == 0], circles.images[circles.labels == 1]
    flipped = {tuple(image.flip(-1).flatten().tolist()) for image in left}
    assert flipped == {tuple(image.flatten().tolist()) for image in right}


def test_discs_are_antialiased_with_the_disc_area(circles):
    assert circles.images.min() == 0 and circles.images.max() == 1
    assert ((circles.images > 0) & (circles.images < 1)).any()
    area = circles.images.sum(dim=(1, 2, 3))
    assert torch.allclose(area, torch.full_like(area, math.pi * 1.75**2), rtol=0.02)


def test_centroid_recovers_the_centre_and_ignores_faint_background(circles):
    x = circles.centres[:, 0]
    assert (centroid_x(circles.images) - x).abs().max() < 0.02
    hazy = (circles.images + 0.15).clamp(max=1)
    assert (centroid_x(hazy) - x).abs().max() < 0.1
    assert (centroid_x(hazy, floor=0) - x).abs().max() > 2  # the haze pulls to the middle
    assert centroid_x(torch.zeros(1, 1, 16, 16)).isnan().all()


def test_blobs_count_regions_and_area():
    one = render_discs(torch.tensor([[3.0, 8.0]]), 16, 1.75)
    two = render_discs(torch.tensor([[3.0, 8.0], [12.0, 8.0]]), 16, 1.75).amax(0, keepdim=True)
    found = blobs(torch.cat([one, two, torch.zeros(1, 1, 16, 16)]))
    assert found.count.tolist() == [1, 2, 0]
    assert found.area[1] == 2 * found.area[0] and found.area[2] == 0


@pytest.mark.parametrize(
    "options, message",
    [({"radius": 3.0}, "radius"), ({"band": 6}, "no unseen middle"), ({"subdivisions": 0}, ">= 1")],
)
def test_bad_layouts_are_refused(options, message):
    with pytest.raises(ParamgenError, match=message):
        CircleLayout(**options)
