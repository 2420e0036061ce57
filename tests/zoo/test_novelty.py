"""Nearest training row, error-set IoU and max IoU."""

import pytest
import torch

from paramgen.errors import ParamgenError
from zoo.novelty import error_set_iou, max_iou, nearest_distance

pytestmark = pytest.mark.usefixtures("one_thread")


def _rows(n: int, d: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _sets(*members: set[int], examples: int = 6) -> torch.Tensor:
    """Bool [len(members), examples]: True at each model's wrong examples."""
    wrong = torch.zeros(len(members), examples, dtype=torch.bool)
    for model, examples_wrong in enumerate(members):
        wrong[model, list(examples_wrong)] = True
    return wrong


@pytest.mark.parametrize("chunk_elements", [2**24, 32 * 3, 1])
def test_each_training_row_is_its_own_nearest_at_distance_zero(chunk_elements):
    train = _rows(10)
    nearest = nearest_distance(train, train, chunk_elements=chunk_elements)
    assert nearest.distance.shape == (10,) and nearest.distance.dtype == torch.float64
    assert torch.equal(nearest.index, torch.arange(10))
    assert nearest.distance.eq(0).all()


@pytest.mark.parametrize("chunk_elements", [2**24, 32 * 4])
def test_nearest_matches_the_brute_force_minimum(chunk_elements):
    rows, train = _rows(9, seed=1), _rows(13, seed=2)
    full = torch.cdist(rows.double(), train.double(), compute_mode="donot_use_mm_for_euclid_dist")
    nearest = nearest_distance(rows, train, chunk_elements=chunk_elements)
    assert torch.equal(nearest.index, full.argmin(dim=1))
    torch.testing.assert_close(nearest.distance, full.min(dim=1).values, rtol=1e-6, atol=0)


def test_normalize_measures_distance_in_the_normalised_space():
    rows, train = _rows(5, seed=1), _rows(7, seed=2)
    mean, scale = train.mean(dim=0), torch.linspace(0.1, 10.0, 32)

    def normalize(x: torch.Tensor) -> torch.Tensor:
        return (x - mean) / scale

    given = nearest_distance(rows, train, normalize=normalize)
    direct = nearest_distance(normalize(rows), normalize(train))
    assert torch.equal(given.index, direct.index)
    torch.testing.assert_close(given.distance, direct.distance, rtol=1e-6, atol=0)


def test_normalize_may_change_the_width():
    rows, train = _rows(5, seed=1), _rows(7, seed=2)
    nearest = nearest_distance(rows, train, normalize=lambda x: x[:, :3])
    expected = torch.cdist(rows[:, :3].double(), train[:, :3].double()).min(dim=1).values
    torch.testing.assert_close(nearest.distance, expected, rtol=1e-6, atol=0)


def test_nearest_refuses_rows_of_another_width():
    with pytest.raises(ParamgenError, match="rows has 31 columns but train_rows has 32"):
        nearest_distance(_rows(2, d=31), _rows(3))


def test_iou_of_identical_sets_is_one_and_of_disjoint_sets_zero():
    a = _sets({0, 1}, {2, 3, 4})
    b = _sets({0, 1}, {5})
    assert error_set_iou(a, b).tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_iou_hand_computed_and_empty_sets():
    a = _sets({0, 1, 2}, set())
    b = _sets({1, 2, 3, 4}, set(), {2})
    # {0,1,2} vs {1,2,3,4}: 2 shared of 5; two empty sets: 1 by definition; empty vs not: 0.
    assert error_set_iou(a, b).tolist() == [[0.4, 0.0, 1 / 3], [0.0, 1.0, 0.0]]
    assert torch.equal(error_set_iou(b, a), error_set_iou(a, b).T)


def test_max_iou_takes_the_most_similar_training_checkpoint():
    train = _sets({0, 1}, {2, 3}, {4})
    generated = _sets({0, 1}, {2, 3, 4}, {5}, set())
    assert max_iou(generated, train).tolist() == [1.0, 2 / 3, 0.0, 0.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: error_set_iou(_sets({0}).float(), _sets({1})), "wrong_a must be a bool"),
        (lambda: error_set_iou(_sets({0}), torch.ones(6, dtype=torch.bool)), "wrong_b must be"),
        (lambda: error_set_iou(_sets({0}), _sets({1}, examples=5)), "covers 6 test examples"),
        (lambda: max_iou(_sets({0}), _sets()), "wrong_train has no training checkpoints"),
    ],
)
def test_bad_error_sets_name_the_argument(call, message):
    with pytest.raises(ParamgenError, match=message):
        call()
