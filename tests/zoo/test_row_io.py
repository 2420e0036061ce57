"""Row reads: the fast paths return exactly what HDF5's own slice returns."""

import h5py
import numpy as np
import pytest

import zoo.row_io
from zoo.row_io import read_rows

DIM = 65_536  # 256 KiB a row: 40 rows pass the 8 MB span the file path starts at
ROWS = 40


@pytest.fixture
def file_reads(monkeypatch) -> list[bool]:
    """Records each read from the file's bytes: True when it returned rows, False on a fallback."""
    reads: list[bool] = []
    read_from_file = zoo.row_io._read_span_from_file

    def spy(dataset, lo, hi):
        out = read_from_file(dataset, lo, hi)
        reads.append(out is not None)
        return out

    monkeypatch.setattr(zoo.row_io, "_read_span_from_file", spy)
    return reads


def _write(path, rows_per_chunk: int, **options) -> np.ndarray:
    data = np.random.default_rng(rows_per_chunk).standard_normal((ROWS, DIM), dtype=np.float32)
    with h5py.File(path, "w", libver="latest") as file:
        dataset = file.create_dataset(
            "params",
            shape=(0, DIM),
            maxshape=(None, DIM),
            chunks=(rows_per_chunk, DIM),
            dtype="f4",
            **options,
        )
        for start in range(0, ROWS, 7):  # appended in blocks that split chunks, as a zoo is
            dataset.resize(min(start + 7, ROWS), axis=0)
            dataset[start : start + 7] = data[start : start + 7]
    return data


@pytest.mark.parametrize("rows_per_chunk", [1, 3])
@pytest.mark.parametrize(("lo", "hi"), [(0, ROWS), (1, ROWS - 2), (5, 38)])
def test_large_spans_are_read_from_the_file_exactly(tmp_path, file_reads, rows_per_chunk, lo, hi):
    data = _write(tmp_path / "rows.h5", rows_per_chunk)
    with h5py.File(tmp_path / "rows.h5", "r") as file:
        rows = read_rows(file["params"], np.arange(lo, hi))
    assert file_reads == [True]
    np.testing.assert_array_equal(rows, data[lo:hi])


def test_dense_picks_within_a_large_span_are_exact(tmp_path, file_reads):
    data = _write(tmp_path / "rows.h5", 3)
    picks = np.array([30, 2, 2, 17, 39, 0] * 5)
    with h5py.File(tmp_path / "rows.h5", "r") as file:
        rows = read_rows(file["params"], picks)
    assert file_reads == [True]
    np.testing.assert_array_equal(rows, data[picks])


def test_a_writer_and_a_filtered_dataset_read_through_hdf5(tmp_path, file_reads):
    data = _write(tmp_path / "rows.h5", 3)
    with h5py.File(tmp_path / "rows.h5", "a") as file:  # its chunk cache may hold unwritten bytes
        np.testing.assert_array_equal(read_rows(file["params"], np.arange(ROWS)), data)
    filtered = _write(tmp_path / "filtered.h5", 3, fletcher32=True)
    with h5py.File(tmp_path / "filtered.h5", "r") as file:
        np.testing.assert_array_equal(read_rows(file["params"], np.arange(ROWS)), filtered)
    assert file_reads == []


def test_a_span_with_an_unwritten_chunk_is_left_to_hdf5(tmp_path, file_reads):
    data = _write(tmp_path / "rows.h5", 3)
    with h5py.File(tmp_path / "rows.h5", "a") as file:
        file["params"].resize(ROWS + 6, axis=0)  # two chunks never written: HDF5 fills zeros
    with h5py.File(tmp_path / "rows.h5", "r") as file:
        rows = read_rows(file["params"], np.arange(ROWS + 6))
    assert file_reads == [False]
    np.testing.assert_array_equal(rows[:ROWS], data)
    assert not rows[ROWS:].any()


def test_small_or_narrow_spans_take_hdf5s_slice(tmp_path, file_reads):
    data = _write(tmp_path / "rows.h5", 1)
    with h5py.File(tmp_path / "rows.h5", "r") as file:
        np.testing.assert_array_equal(read_rows(file["params"], np.arange(4, 10)), data[4:10])
    assert file_reads == []
