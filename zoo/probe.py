"""Walk a zoo file's HDF5 structure in a child process before this one opens it.

HDF5 loops forever (or crashes the process) on some damaged metadata: zeroing two bytes of a
zoo's object headers was enough to make reading its root attributes spin (found by
``tests/zoo/fuzzing.py``), and no Python signal interrupts a C loop. So the first open of a file
in a process walks every object, attribute and chunk index in a child with a deadline
(``PARAMGEN_ZOO_PROBE_SECONDS``, default 60); a child that times out or crashes means the file
is damaged, and the open fails with a one-line error instead of hanging (errors the walk meets
are left to the open, which names them). A file that passed, or that this process itself wrote
and closed, is trusted while its size and modification time stay the same.
``PARAMGEN_ZOO_PROBE=0`` skips the walk (for a trusted pipeline that opens many zoos).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from paramgen.errors import ParamgenError

__all__ = ["probe", "trust"]

_BUSY = 3
_WALK = """
import sys
import h5py

def visit(name, node):
    try:  # an error is the parent's to report; only a hang or a crash is the probe's
        dict(node.attrs.items())
        if isinstance(node, h5py.Dataset):
            node.shape, node.dtype
            if node.chunks is not None:
                for i in range(node.id.get_num_chunks()):
                    node.id.get_chunk_info(i)
    except Exception:
        pass

try:
    file = h5py.File(sys.argv[1], "r")
except OSError as error:
    if "already open for write" not in str(error):
        sys.exit(3 if "unable to lock" in str(error) else 0)  # the parent's open says why
    try:  # a live SWMR writer's file; a killed plain writer's is the parent's to report
        file = h5py.File(sys.argv[1], "r", swmr=True)
    except OSError:
        sys.exit(0)
try:
    dict(file.attrs.items())
    file.visititems(visit)
except Exception:
    pass
"""
_trusted: dict[tuple[int, int], tuple[int, int]] = {}
_refused: dict[tuple[int, int], tuple[tuple[int, int], str]] = {}  # unchanged: refused again


def _identity(path: Path) -> tuple[tuple[int, int], tuple[int, int]]:
    status = os.stat(path)
    return (status.st_dev, status.st_ino), (status.st_size, status.st_mtime_ns)


def trust(path: Path) -> None:
    """Mark ``path`` as sound as it is now (this process just wrote and closed it)."""
    key, version = _identity(path)
    _trusted[key] = version


def probe(path: Path) -> None:
    """Refuse ``path`` if walking its structure hangs or crashes a child process."""
    if os.environ.get("PARAMGEN_ZOO_PROBE") == "0":
        return
    key, version = _identity(path)
    if _trusted.get(key) == version:
        return
    if key in _refused and _refused[key][0] == version:
        raise ParamgenError(_refused[key][1])
    seconds = float(os.environ.get("PARAMGEN_ZOO_PROBE_SECONDS") or 60)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _WALK, str(path)],
            capture_output=True,
            timeout=seconds,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired:
        message = (
            f"zoo {path}: reading its structure did not finish within {seconds:g} s (HDF5 loops "
            "on some damaged files); the file is damaged — restore it from its source"
        )
    else:
        if done.returncode == _BUSY:
            return  # a writer is restructuring it: the open waits for it, then reads
        if done.returncode == 0:
            _trusted[key] = version
            return
        message = (
            f"zoo {path}: reading its structure crashed a process (exit {done.returncode}); the "
            "file is damaged — restore it from its source"
        )
    _refused[key] = (version, message)
    raise ParamgenError(message)
