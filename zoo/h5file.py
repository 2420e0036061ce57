"""Open zoo files with h5py and turn every low-level failure into a message a user can act on.

Readers open in SWMR-read mode when a writer is appending, so they can follow it. Writers open
plainly for structural changes (new groups, base weights) and switch to SWMR mode to append.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import h5py

from paramgen.errors import ParamgenError
from zoo.crash_recovery import clear_write_flags, write_flags_set
from zoo.probe import probe

__all__ = [
    "damaged_file",
    "FORMAT",
    "FORMAT_VERSION",
    "LIBVER",
    "UNCHECKED_VERSION",
    "open_for_reading",
    "open_for_writing",
]

FORMAT = "paramgen-zoo"
FORMAT_VERSION = 2  # 2: every row carries checksums (zoo.checksums)
UNCHECKED_VERSION = 1  # still read (unchecked); written only after ``paramgen zoo upgrade``
# SWMR needs the 1.10 file format; pinning the upper bound keeps files readable by HDF5 >= 1.10.
LIBVER = ("v110", "v110")
_POLL_SECONDS = 0.1


def _explain(path: Path, error: OSError) -> ParamgenError:
    text = str(error)
    if "truncated file" in text:
        return ParamgenError(
            f"zoo file {path} is truncated (it was cut short, e.g. by an interrupted copy); "
            "restore it from its source"
        )
    if "signature" in text or "not an HDF5" in text:
        return ParamgenError(
            f"{path} is not an HDF5 file, so it is not a paramgen zoo; check the path"
        )
    return ParamgenError(f"cannot open zoo file {path}: {text}")


@contextmanager
def damaged_file(path: Path, what: str) -> Iterator[None]:
    """Turn what h5py raises on a damaged file while reading ``what`` into a one-line error."""
    try:
        yield
    except ParamgenError:
        raise
    except (OSError, RuntimeError, KeyError, ValueError, TypeError, IndexError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ParamgenError(
            f"zoo {path}: cannot read {what} ({reason}); the file is damaged — find what is "
            f"intact with `paramgen zoo check {path}`, or restore it from its source"
        ) from None


def _busy(error: OSError) -> bool:
    return error.errno in (errno.EAGAIN, errno.EWOULDBLOCK) or "unable to lock file" in str(error)


def _retrying(path: Path, opener: Callable[[], h5py.File], wait: float, who: str) -> h5py.File:
    deadline = time.monotonic() + wait
    while True:
        try:
            return opener()
        except OSError as error:
            if not _busy(error):
                raise _explain(path, error) from error
            if time.monotonic() >= deadline:
                raise ParamgenError(
                    f"zoo {path} is in use by another process ({who}); wait for it to "
                    "finish, then retry"
                ) from error
            time.sleep(_POLL_SECONDS)


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise ParamgenError(f"zoo file {path} does not exist; check the path or create the zoo")
    if path.is_dir():
        raise ParamgenError(f"{path} is a directory; give the path of a zoo .h5 file")
    if not path.is_file():  # a FIFO would hang the open, a device would be read as a zoo
        raise ParamgenError(
            f"zoo {path} is not a regular file (a pipe or device?); give the path of a zoo .h5 file"
        )


def check_format(file: h5py.File, path: Path) -> None:
    """Refuse files that are not zoos, or zoos of a format version this code does not read."""
    if file.attrs.get("format") != FORMAT:
        raise ParamgenError(
            f"{path} is an HDF5 file but not a paramgen zoo (no format={FORMAT!r} attribute)"
        )
    version = int(file.attrs.get("version", -1))
    if version not in (UNCHECKED_VERSION, FORMAT_VERSION):
        newer = version > FORMAT_VERSION
        raise ParamgenError(
            f"zoo {path} has format version {version}, this paramgen reads versions "
            f"{UNCHECKED_VERSION} and {FORMAT_VERSION}; "
            + ("upgrade paramgen" if newer else "re-create the zoo with this paramgen")
        )


def _open_reader(path: Path) -> h5py.File:
    try:
        # A plain open checks more (e.g. a truncated file), so prefer it when no writer is active.
        return h5py.File(path, "r")
    except OSError as error:
        if "already open for write" not in str(error):
            raise
        return h5py.File(path, "r", swmr=True)


def _open_zoo(path: Path, opener: Callable[[], h5py.File], wait: float, who: str) -> h5py.File:
    file = _retrying(path, opener, wait, who)
    try:
        with damaged_file(path, "its format attributes"):
            check_format(file, path)
    except ParamgenError:
        file.close()
        raise
    return file


def open_for_reading(path: Path, wait: float) -> h5py.File:
    """Read handle (SWMR if a writer is appending); waits up to ``wait`` s while one is busy."""
    _check_exists(path)
    probe(path)
    return _open_zoo(path, lambda: _open_reader(path), wait, "a writer")


def open_for_writing(path: Path, wait: float) -> h5py.File:
    """Plain read-write handle. The caller must hold the zoo's writer lock."""
    _check_exists(path)
    if write_flags_set(path):
        # Holding the writer lock proves the writer that set these flags is gone (killed, in or
        # out of SWMR mode); cleared first, so that the probe's child can open the file too.
        clear_write_flags(path)
    probe(path)
    return _open_zoo(path, lambda: h5py.File(path, "a", libver=LIBVER), wait, "a reader")
