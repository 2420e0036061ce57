"""Read and write whole rows of HDF5 datasets fast, by whole chunks where possible.

Zoo columns are chunked by whole rows and stored unfiltered, so a chunk's bytes *are* its rows.
h5py's fancy indexing costs ~4 ms a row on wide rows (a random 256-row minibatch of 100k-param rows
took 1 s against 28 ms for a contiguous one), and its cached writes copy every chunk once more.
Here: contiguous reads are one slice; dense reads take the span and index in numpy; sparse reads
and whole-chunk writes go through ``read_direct_chunk`` / ``write_direct_chunk`` into place.
A span of 8 MB and a quarter of the dataset or more (a full read, an epoch's shard) is read from
the file's bytes straight into the output at the chunks' addresses, which HDF5 lists in one pass
(``chunk_iter``): HDF5's own slice copies every chunk once more and ran at 0.55× ``numpy.load``,
this at 0.87× (``bench/zoo_io.py``). A span whose chunks are not all there, or a file on another
driver, takes HDF5's slice.
"""

from __future__ import annotations

import os
from math import ceil, prod

import h5py
import numpy as np

__all__ = ["read_rows", "write_rows"]

_SPAN_BYTES = 8 * 1024 * 1024


def _chunked_by_rows(dataset: h5py.Dataset) -> bool:
    return (
        dataset.chunks is not None
        and dataset.chunks[1:] == dataset.shape[1:]
        and dataset.id.get_create_plist().get_nfilters() == 0
    )


def _bytes_of(array: np.ndarray) -> np.ndarray:
    """A writable 1-D uint8 view of a C-contiguous array (what the direct-chunk calls take)."""
    return array.reshape(-1).view(np.uint8)


def _read_by_chunks(dataset: h5py.Dataset, index: np.ndarray) -> np.ndarray:
    """``dataset[index]`` reading each needed chunk once, straight into the output when it can."""
    per_chunk = dataset.chunks[0]
    zeros = (0,) * (len(dataset.shape) - 1)  # a chunk's offset beyond the row axis
    out = np.empty((index.size, *dataset.shape[1:]), dtype=dataset.dtype)
    order = np.argsort(index, kind="stable")
    rows = index[order]
    if per_chunk == 1:
        for k, (position, row) in enumerate(zip(order, rows, strict=True)):
            if k and row == rows[k - 1]:
                out[position] = out[order[k - 1]]
            else:
                dataset.id.read_direct_chunk((int(row), *zeros), out=_bytes_of(out[position]))
        return out
    scratch = np.empty((per_chunk, *dataset.shape[1:]), dtype=dataset.dtype)
    chunk_of_row = rows // per_chunk
    bounds = np.flatnonzero(np.diff(chunk_of_row)) + 1
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, rows.size], strict=True):
        first = int(chunk_of_row[start]) * per_chunk
        dataset.id.read_direct_chunk((first, *zeros), out=_bytes_of(scratch))
        out[order[start:stop]] = scratch[rows[start:stop] - first]
    return out


def _chunk_addresses(dataset: h5py.Dataset) -> dict[int, tuple[int, int]]:
    """{first row of a chunk: (file address, stored bytes)} of every allocated chunk."""
    addresses: dict[int, tuple[int, int]] = {}

    def note(info) -> None:
        addresses[info.chunk_offset[0]] = (info.byte_offset, info.size)

    dataset.id.chunk_iter(note)
    return addresses


def _read_span_from_file(dataset: h5py.Dataset, lo: int, hi: int) -> np.ndarray | None:
    """``dataset[lo:hi]`` read from the file's bytes at the chunks' addresses; None where a chunk
    in the span is missing or not stored plain (HDF5's slice then decides what it reads)."""
    per_chunk = dataset.chunks[0]
    row_bytes = prod(dataset.shape[1:]) * dataset.dtype.itemsize
    addresses = _chunk_addresses(dataset)
    extents: list[list[int]] = []  # [file address, bytes] to read, one after another, in row order
    for first in range(lo // per_chunk * per_chunk, hi, per_chunk):
        address, size = addresses.get(first, (None, 0))
        if address is None or size != per_chunk * row_bytes:
            return None
        start, stop = max(first, lo), min(first + per_chunk, hi)
        address += (start - first) * row_bytes
        if extents and sum(extents[-1]) == address:  # the next chunk follows in the file
            extents[-1][1] += (stop - start) * row_bytes
        else:
            extents.append([address, (stop - start) * row_bytes])
    out = np.empty((hi - lo, *dataset.shape[1:]), dtype=dataset.dtype)
    view, done = memoryview(_bytes_of(out)), 0
    descriptor = dataset.file.id.get_vfd_handle()  # the file HDF5 has open, not a path's file now
    for address, length in extents:
        end = done + length
        while done < end:
            count = os.preadv(descriptor, [view[done:end]], address)
            if not count:
                return None  # the file ends before the chunk: HDF5's slice reports that
            done, address = done + count, address + count
    return out


def _read_span(dataset: h5py.Dataset, lo: int, hi: int) -> np.ndarray:
    """``dataset[lo:hi]``, from the file's bytes when the span is large (see the module doc)."""
    file = dataset.file
    if (
        (hi - lo) * prod(dataset.shape[1:]) * dataset.dtype.itemsize >= _SPAN_BYTES
        and 4 * (hi - lo) >= dataset.shape[0]
        and _chunked_by_rows(dataset)
        and hasattr(dataset.id, "chunk_iter")  # HDF5 ≥ 1.14
        and hasattr(os, "preadv")
        and file.mode == "r"  # a writer's chunk cache may hold bytes not yet in the file
        and file.driver == "sec2"
        and file.userblock_size == 0
    ):
        out = _read_span_from_file(dataset, lo, hi)
        if out is not None:
            return out
    return dataset[lo:hi]


def read_rows(dataset: h5py.Dataset, index: np.ndarray) -> np.ndarray:
    """``dataset[index]`` for any int index array (any order, repeats allowed) along axis 0."""
    if index.size == 0:
        return np.empty((0, *dataset.shape[1:]), dtype=dataset.dtype)
    lo, hi = int(index.min()), int(index.max()) + 1
    if hi - lo == index.size and (np.diff(index) == 1).all():
        return _read_span(dataset, lo, hi)
    row_bytes = prod(dataset.shape[1:]) * dataset.dtype.itemsize
    if (hi - lo) * row_bytes <= max(_SPAN_BYTES, 2 * index.size * row_bytes):
        return _read_span(dataset, lo, hi)[index - lo]
    if _chunked_by_rows(dataset):
        return _read_by_chunks(dataset, index)
    unique, inverse = np.unique(index, return_inverse=True)
    return dataset[unique][inverse]


def write_rows(dataset: h5py.Dataset, start: int, block: np.ndarray) -> None:
    """``dataset[start:start + len(block)] = block``, writing chunks the block fills directly.

    Chunks the block covers only in part go through HDF5's normal (cached) path, so a chunk is
    never written both ways.
    """
    stop = start + len(block)
    if not _chunked_by_rows(dataset):
        dataset[start:stop] = block
        return
    per_chunk = dataset.chunks[0]
    first_full = ceil(start / per_chunk) * per_chunk
    last_full = stop // per_chunk * per_chunk
    if first_full >= last_full:
        dataset[start:stop] = block
        return
    block = np.ascontiguousarray(block, dtype=dataset.dtype)
    zeros = (0,) * (len(dataset.shape) - 1)
    if start < first_full:
        dataset[start:first_full] = block[: first_full - start]
    for chunk_start in range(first_full, last_full, per_chunk):
        offset = chunk_start - start
        dataset.id.write_direct_chunk((chunk_start, *zeros), block[offset : offset + per_chunk])
    if last_full < stop:
        dataset[last_full:stop] = block[last_full - start :]
