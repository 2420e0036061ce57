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


# lookup3's rounds as (target, source, shift): mix is x -= s; x ^= rot(s, k); s += next(s);
# final is x ^= s; x -= rot(s, k). Indices name the state words a=0, b=1, c=2.
_MIX = ((0, 2, 4), (1, 0, 6), (2, 1, 8), (0, 2, 16), (1, 0, 19), (2, 1, 4))
_FINAL = ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14), (2, 1, 24))
_NEXT = {2: 1, 0: 2, 1: 0}  # the word added to the source after each mix round


def _lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``, as HDF5's ``H5_checksum_lookup3``."""
    state = [(0xDEADBEEF + len(data) + initval) & _MASK] * 3
    padded = data + bytes(-len(data) % 12)
    words = [int.from_bytes(padded[i : i + 4], "little") for i in range(0, len(padded), 4)]
    if not data:
        return state[2]
    blocks = (len(data) - 1) // 12  # the last 1..12 bytes go to the final round
    for block in range(blocks + 1):
        for k in range(3):
            state[k] = (state[k] + words[3 * block + k]) & _MASK
        rounds = _FINAL if block == blocks else _MIX
        for target, source, shift in rounds:
            if rounds is _MIX:
                state[target] = ((state[target] - state[source]) & _MASK) ^ _rotate(
                    state[source], shift
                )
                state[source] = (state[source] + state[_NEXT[source]]) & _MASK
            else:
                state[target] = (
                    (state[target] ^ state[source]) - _rotate(state[source], shift)
                ) & _MASK
    return state[2]
