"""One writer per zoo *file*: an advisory lock keyed by the file's identity, not its path.

The lock file is named after the zoo's device and inode (``<st_dev>-<st_ino>.lock``) in one lock
directory per machine (``$PARAMGEN_LOCK_DIR``, default ``<tmp>/paramgen-locks``), so a second
writer that reaches the same file through a symlink, a hard link or another spelling of its path
takes the same lock and is refused. The lock file is opened with ``O_NOFOLLOW``: one that is a
symlink is refused, never followed (it would truncate whatever it points to), and so is a lock
directory that is a symlink. The operating system drops the lock when the holder dies, so holding
it also proves that any "open for writing" mark left in the zoo belongs to a writer that is gone
(see ``crash_recovery``). The lock covers one machine: writers on other machines sharing the file
over a network file system are not seen (write a zoo from one machine; issue 17's Ray builds
write through one writer).
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import tempfile
from pathlib import Path

from paramgen.errors import ParamgenError

__all__ = ["LOCK_DIR_VARIABLE", "WriterLock", "lock_directory"]

LOCK_DIR_VARIABLE = "PARAMGEN_LOCK_DIR"


def lock_directory() -> Path:
    """Where writer locks live: ``$PARAMGEN_LOCK_DIR`` or ``<tmp>/paramgen-locks``. Made world
    writable with the sticky bit, like /tmp, so every user's writers see each other's locks."""
    folder = Path(
        os.environ.get(LOCK_DIR_VARIABLE) or Path(tempfile.gettempdir()) / "paramgen-locks"
    )
    try:
        folder.mkdir()
        os.chmod(folder, 0o1777)
    except FileExistsError:
        pass
    except OSError as error:
        raise ParamgenError(
            f"cannot make the zoo lock directory {folder} ({error.strerror}); set "
            f"{LOCK_DIR_VARIABLE} to a writable directory"
        ) from None
    if not stat.S_ISDIR(folder.lstat().st_mode):
        raise ParamgenError(
            f"the zoo lock directory {folder} is a symbolic link or not a directory; remove it or "
            f"set {LOCK_DIR_VARIABLE} to a real directory"
        )
    return folder


class WriterLock:
    """Exclusive, non-blocking lock for writing the zoo file at ``zoo_path`` (which must exist:
    its identity names the lock); released on ``release`` or when the process dies."""

    def __init__(self, zoo_path: Path) -> None:
        self.zoo_path = zoo_path
        self.path: Path | None = None
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise a one-line error saying who holds it or what is wrong."""
        try:
            identity = os.stat(self.zoo_path)
        except OSError as error:
            raise ParamgenError(
                f"zoo file {self.zoo_path}: {error.strerror}; check the path or create the zoo"
            ) from None
        self.path = lock_directory() / f"{identity.st_dev}-{identity.st_ino}.lock"
        fd = self._open(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ParamgenError(
                f"zoo {self.zoo_path} is open for writing by another process (pid {holder}), "
                "possibly through another name (a link to the same file); wait for it to finish, "
                "then retry"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # another user's lock file, opened read-only: the lock holds, the pid is not told
        self._fd = fd

    def _open(self, path: Path) -> int:
        flags = os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            return os.open(path, os.O_RDWR | flags, 0o666)
        except PermissionError:
            return os.open(path, os.O_RDONLY | flags)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise ParamgenError(
                    f"the writer lock {path} of zoo {self.zoo_path} is a symbolic link; paramgen "
                    "does not follow it (it would overwrite its target): remove the link"
                ) from None
            raise ParamgenError(
                f"cannot open the writer lock {path} of zoo {self.zoo_path} ({error.strerror})"
            ) from None

    def release(self) -> None:
        """Drop the lock (the lock file stays: removing it would race a new holder)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
