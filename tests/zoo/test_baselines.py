"""The baseline row makers: shapes, the definitions they document, and their errors."""

from itertools import pairwise

import pytest
import torch

from paramgen.errors import ParamgenError
from zoo.baselines import (
    SPREAD_FLOOR,
    average_of_random,
    gaussian_fitted,
    noise_added,
    training_spread,
)
from zoo.novelty import nearest_distance

pytestmark = pytest.mark.usefixtures("one_thread")


def _rows(n: int = 8, d: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _seed(seed: int = 1) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize(
    "make",
    [
        lambda rows, g: noise_added(rows, 5, 0.1, g),
        lambda rows, g: average_of_random(rows, 5, g, k=3),
        lambda rows, g: gaussian_fitted(rows, 5, g),
    ],
    ids=["noise_added", "average_of_random", "gaussian_fitted"],
)
def test_makers_return_count_rows_of_the_training_width_and_dtype(make):
    out = make(_rows(), _seed())
    assert out.shape == (5, 64) and out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_noise_at_scale_zero_returns_training_rows_exactly():
    train = _rows()
    out = noise_added(train, 20, 0.0, _seed())
    nearest = nearest_distance(out, train)
    assert torch.equal(out, train[nearest.index])
    assert nearest.distance.eq(0).all()


def test_noise_moves_rows_along_one_ray_as_the_scale_grows():
    # Rows 64-D apart by ~11 units; noise up to 0.3 × spread ≈ 2.4 keeps the source the nearest.
    train = _rows()
    source = nearest_distance(noise_added(train, 20, 0.0, _seed()), train).index
    scales = (0.01, 0.1, 0.3)
    found = [nearest_distance(noise_added(train, 20, s, _seed()), train) for s in scales]
    for nearest in found:
        assert torch.equal(nearest.index, source)
    for (low, near), (high, far) in pairwise(zip(scales, found, strict=True)):
        assert (far.distance > near.distance).all()
        ratio = torch.full((20,), high / low, dtype=torch.float64)
        torch.testing.assert_close(far.distance / near.distance, ratio, rtol=1e-4, atol=0)


def test_noise_std_is_scale_times_the_given_spread():
    train = _rows(n=3, d=4)
    spread = torch.tensor([0.0, 0.5, 1.0, 2.0])
    clean = noise_added(train, 20000, 0.0, _seed(), spread=spread)
    noisy = noise_added(train, 20000, 0.3, _seed(), spread=spread)
    torch.testing.assert_close((noisy - clean).std(dim=0), 0.3 * spread, rtol=0.05, atol=1e-6)


def test_default_spread_is_the_per_element_std_floored_for_constant_elements():
    train = _rows()
    train[:, 0] = 5.0  # an element that never varies across the zoo
    spread = training_spread(train)
    torch.testing.assert_close(spread[1:], train[:, 1:].std(dim=0))
    torch.testing.assert_close(spread[0], SPREAD_FLOOR * train.square().mean().sqrt())


def test_average_of_one_returns_training_rows_exactly():
    train = _rows()
    out = average_of_random(train, 20, _seed(), k=1)
    assert torch.equal(out, train[nearest_distance(out, train).index])


@pytest.mark.parametrize("k", [8, 100])
def test_average_of_all_rows_is_the_mean_row(k):
    train = _rows(n=8)
    out = average_of_random(train, 4, _seed(), k=k)
    torch.testing.assert_close(out, train.mean(dim=0).expand(4, -1), rtol=1e-5, atol=1e-6)


def test_average_uses_k_distinct_rows():
    # One-hot training rows: an average of k distinct rows has k entries of exactly 1/k.
    out = average_of_random(torch.eye(10), 50, _seed(), k=4)
    assert torch.equal((out > 0).sum(dim=1), torch.full((50,), 4))
    torch.testing.assert_close(out.sum(dim=1), torch.ones(50))


def test_gaussian_fit_matches_the_rows_mean_and_std():
    train = _rows(n=6, d=5) * torch.tensor([0.1, 1.0, 3.0, 1.0, 0.0]) + 2.0
    out = gaussian_fitted(train, 40000, _seed())
    torch.testing.assert_close(out.mean(dim=0), train.mean(dim=0), rtol=0, atol=0.05)
    torch.testing.assert_close(out.std(dim=0), train.std(dim=0), rtol=0.05, atol=1e-6)
    assert out[:, 4].eq(2.0).all()  # a constant element stays constant


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: noise_added(_rows(n=1), 3, 0.1, _seed()), "train_rows needs at least 2"),
        (lambda: gaussian_fitted(_rows(n=1), 3, _seed()), "train_rows needs at least 2"),
        (lambda: average_of_random(_rows(n=0), 3, _seed()), "train_rows needs at least 1"),
        (lambda: average_of_random(_rows()[0], 3, _seed()), "train_rows must be"),
        (lambda: average_of_random(_rows().long(), 3, _seed()), "train_rows must be"),
        (lambda: average_of_random(_rows(), 0, _seed()), "count must be"),
        (lambda: gaussian_fitted(_rows(), 2.5, _seed()), "count must be"),
        (lambda: average_of_random(_rows(), 3, _seed(), k=0), "k must be"),
        (lambda: noise_added(_rows(), 3, -0.1, _seed()), "scale must be"),
        (lambda: noise_added(_rows(), 3, float("nan"), _seed()), "scale must be"),
        (lambda: noise_added(_rows(), 3, 0.1, _seed(), spread=torch.ones(3)), "spread must be"),
        (lambda: noise_added(_rows(), 3, 0.1, _seed(), spread=-torch.ones(64)), "spread must be"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ParamgenError, match=message):
        call()


def test_non_finite_training_rows_are_refused_with_their_positions():
    train = _rows()
    train[3, 7] = float("inf")
    train[5, 0] = float("nan")
    with pytest.raises(ParamgenError, match=r"train_rows has non-finite values \(rows \[3, 5\]"):
        gaussian_fitted(train, 2, _seed())


def test_one_training_row_is_enough_with_an_explicit_spread():
    train = _rows(n=1)
    out = noise_added(train, 3, 1.0, _seed(), spread=torch.full((64,), 0.01))
    torch.testing.assert_close(out, train.expand(3, -1), rtol=0, atol=0.1)
