"""Reopen a zoo whose writer was killed: clear HDF5's "open for writing" superblock flags.

A zoo is written in SWMR mode so that readers can follow a live writer. HDF5 marks the superblock
(format version 2/3) as "open for write" while it is, and refuses every later writer if the process
dies before closing — the C tool ``h5clear -s`` exists for that, but is not shipped with h5py. We
only call this while holding the zoo's writer lock (see ``writer_lock``), i.e. when no writer can
be alive; the rows themselves are protected by the committed-row counter, not by this flag.

Superblock v2/v3 layout (HDF5 file format spec, section II.A): signature (8 bytes), version (1),
size of offsets (1), size of lengths (1), file consistency flags (1), four addresses, then a
Jenkins lookup3 checksum of everything before it.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_flags_set", "clear_write_flags"]

_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_FLAGS_OFFSET = 11
_MASK = 0xFFFFFFFF


def _superblock_length(header: bytes) -> int | None:
    """Bytes covered by the checksum, or None for a superblock version without flags to clear."""
    if header[:8] != _SIGNATURE or header[8] not in (2, 3):
        return None
    size_of_offsets = header[9]
    return 12 + 4 * size_of_offsets


def write_flags_set(path: Path) -> bool:
    """True when the superblock still says a writer has the file open."""
    with open(path, "rb") as handle:
        header = handle.read(48)
    return _superblock_length(header) is not None and header[_FLAGS_OFFSET] != 0


def clear_write_flags(path: Path) -> None:
    """Zero the consistency flags and rewrite the superblock checksum (what ``h5clear -s`` does)."""
    with open(path, "r+b") as handle:
        header = bytearray(handle.read(48))
        length = _superblock_length(bytes(header))
        if length is None:
            return
        header[_FLAGS_OFFSET] = 0
        checksum = _lookup3(bytes(header[:length]))
        handle.seek(0)
        handle.write(bytes(header[:length]) + checksum.to_bytes(4, "little"))


def _rotate(value: int, shift: int) -> int:
    return ((value << shift) | (value >> (32 - shift))) & _MASK


def _lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``, as HDF5's ``H5_checksum_lookup3``."""
    a = b = c = (0xDEADBEEF + len(data) + initval) & _MASK
    words = [
        int.from_bytes(data[i : i + 4].ljust(4, b"\0"), "little") for i in range(0, len(data), 4)
    ]
    position = 0
    while len(data) - 4 * position > 12:
        a = (a + words[position]) & _MASK
        b = (b + words[position + 1]) & _MASK
        c = (c + words[position + 2]) & _MASK
        a = ((a - c) & _MASK) ^ _rotate(c, 4)
        c = (c + b) & _MASK
        b = ((b - a) & _MASK) ^ _rotate(a, 6)
        a = (a + c) & _MASK
        c = ((c - b) & _MASK) ^ _rotate(b, 8)
        b = (b + a) & _MASK
        a = ((a - c) & _MASK) ^ _rotate(c, 16)
        c = (c + b) & _MASK
        b = ((b - a) & _MASK) ^ _rotate(a, 19)
        a = (a + c) & _MASK
        c = ((c - b) & _MASK) ^ _rotate(b, 4)
        b = (b + a) & _MASK
        position += 3
    if len(data) == 4 * position:
        return c
    tail = words[position:] + [0, 0, 0]
    a = (a + tail[0]) & _MASK
    b = (b + tail[1]) & _MASK
    c = (c + tail[2]) & _MASK
    c = ((c ^ b) - _rotate(b, 14)) & _MASK
    a = ((a ^ c) - _rotate(c, 11)) & _MASK
    b = ((b ^ a) - _rotate(a, 25)) & _MASK
    c = ((c ^ b) - _rotate(b, 16)) & _MASK
    a = ((a ^ c) - _rotate(c, 4)) & _MASK
    b = ((b ^ a) - _rotate(a, 14)) & _MASK
    c = ((c ^ b) - _rotate(b, 24)) & _MASK
    return c
