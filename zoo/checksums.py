"""Per-row checksums of a zoo group: every row's bytes are checked when they are read.

Two uint64 columns beside the rows (format version 2), written with them before the commit:

* ``checksums/params``: the wrapping (mod 2⁶⁴) sum of the row's params read as 64-bit words (a
  trailing 32-bit word when D is odd), plus the row's index times an odd constant, so a row
  written in another row's place fails too. Any single flipped bit, and random bytes or zeros
  over any range (except with probability 2⁻⁶⁴), change it; two flips of the same bit in two
  words that cancel, or two words swapped within the row, do not. It runs at memory speed,
  where a CRC would cost more than the read itself (measured: ``bench/zoo_io.py``).
* ``checksums/labels``: CRC-32 of the row's other bytes (conditions, metrics, run, step, seed,
  split, in the sorted order of their column names), a few bytes a row.

Metadata: a group's and a backbone's attributes carry ``attrs_checksum``, the sha256 of the
others (a flipped digit in a JSON attribute would otherwise still parse), and a group's
``committed`` counter is stored with its bitwise complement (a damaged counter would otherwise
hide or invent rows). Base weights keep their sha256 (``Zoo.backbone_weights``).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping

import numpy as np

from paramgen.errors import ParamgenError

__all__ = [
    "CorruptRowsError",
    "LABEL_COLUMNS",
    "attrs_checksum",
    "counter_value",
    "labels_checksums",
    "params_checksums",
]

_INDEX_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd: index · mix is one-to-one mod 2⁶⁴
LABEL_COLUMNS = ("run", "step", "seed", "split")


class CorruptRowsError(ParamgenError):
    """Rows whose bytes fail their checksum; ``rows`` are their indices in the group."""

    def __init__(self, message: str, group: str, rows: list[int]) -> None:
        super().__init__(message)
        self.group, self.rows = group, rows


def params_checksums(params: np.ndarray, index: np.ndarray) -> np.ndarray:
    """[n] uint64 checksums of float32 rows ``params`` [n, D] stored at rows ``index`` [n]."""
    params = np.ascontiguousarray(params, dtype=np.float32)
    n, dim = params.shape
    words = params.view(np.uint32)
    even = dim - dim % 2
    with np.errstate(over="ignore"):
        total = words[:, :even].view(np.uint64).sum(axis=1) if even else np.zeros(n, np.uint64)
        if dim % 2:
            total = total + words[:, -1].astype(np.uint64)
        return total + np.asarray(index, dtype=np.uint64) * _INDEX_MIX


def labels_checksums(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """[n] uint64 CRC-32s of each row's label bytes; ``columns`` maps "conditions/<name>",
    "metrics/<name>" and ``LABEL_COLUMNS`` to their [n, ...] arrays."""
    arrays = [np.ascontiguousarray(columns[name]) for name in sorted(columns)]
    n = len(arrays[0])
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    rows = np.concatenate([a.reshape(n, -1).view(np.uint8) for a in arrays], axis=1)
    return np.array([zlib.crc32(row) for row in rows], dtype=np.uint64)


def attrs_checksum(attrs: Mapping) -> str:
    """sha256 of the attributes but ``attrs_checksum`` itself, as sorted JSON."""
    values = {
        key: value.tolist() if hasattr(value, "tolist") else value
        for key, value in attrs.items()
        if key != "attrs_checksum"
    }
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def counter_value(stored: np.ndarray, where: str) -> int:
    """The committed-row count of a counter [count] (version 1) or [count, ~count]."""
    if stored.shape == (2,) and int(stored[1]) != ~int(stored[0]):
        raise ParamgenError(
            f"{where}: its committed-row counter is damaged; find the intact rows with "
            "`paramgen zoo check`"
        )
    return int(stored[0])
