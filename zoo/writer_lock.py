"""One writer per zoo: an advisory lock on a sidecar ``<zoo>.lock`` file.

The operating system drops the lock when the holder dies, so holding it also proves that any
"open for writing" mark left in the zoo belongs to a writer that is gone (see ``crash_recovery``).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from paramgen.errors import ParamgenError

__all__ = ["WriterLock"]


class WriterLock:
    """Exclusive, non-blocking lock for writing ``zoo_path``; released on ``release`` or death."""

    def __init__(self, zoo_path: Path) -> None:
        self.path = zoo_path.with_name(zoo_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ParamgenError(
                f"zoo {self.path.with_suffix('')} is open for writing by another process "
                f"(pid {holder}); wait for it to finish, then retry"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
