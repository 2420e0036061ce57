"""Readers follow a live writer (SWMR); other conflicts get a clear "wait" message."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from paramgen.errors import ParamgenError
from zoo.store import Zoo
from zoo.writer_lock import LOCK_DIR_VARIABLE

WORKER = Path(__file__).with_name("append_worker.py")
ROOT = Path(__file__).parents[2]
sys.path.insert(0, str(WORKER.parent))
from append_worker import expected_row  # noqa: E402

DIM = 500


def start_worker(path: Path, rows: int, pause: float) -> subprocess.Popen:
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), str(path), str(rows), str(DIM), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert worker.stdout.readline().strip() == "ready"
    return worker


def test_reader_reads_consistent_rows_while_writer_appends(tmp_path):
    path = tmp_path / "zoo.h5"
    # pause: the writer must outlast the reader's open (its structure probe, ~0.3 s, more on a
    # loaded machine) for the two to overlap
    worker = start_worker(path, rows=150, pause=0.03)
    seen = []
    with Zoo.open(path) as zoo:  # one handle, kept open while the writer goes on
        group = zoo.group("t/toy/x")
        while worker.poll() is None or not seen or seen[-1] < 150:
            rows = group.read()
            seen.append(len(rows))
            for index, params in zip(rows.index, rows.params.numpy(), strict=True):
                assert np.array_equal(params, expected_row(int(index), DIM))
            if len(seen) > 2_000:
                break
            time.sleep(0.005)
    worker.communicate()
    assert worker.returncode == 0
    assert seen == sorted(seen), "a reader must never see rows disappear"
    assert any(0 < n < 150 for n in seen), "the reader should have overlapped the writer"
    assert seen[-1] == 150


def test_second_writer_is_told_to_wait(tmp_path):
    path = tmp_path / "zoo.h5"
    worker = start_worker(path, rows=40, pause=0.05)
    try:
        with pytest.raises(ParamgenError, match=r"open for writing by another process \(pid \d+\)"):
            Zoo.open(path, "a")
    finally:
        worker.kill()
        worker.wait()


def test_writer_waits_for_a_reader_then_gives_a_clear_message(tmp_path, zoo_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from zoo.store import Zoo\n"
            f"z = Zoo.open({str(zoo_path)!r}); print('open', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        with pytest.raises(ParamgenError, match="in use by another process.*wait"):
            Zoo.open(zoo_path, "a", wait=0.5)
        assert time.monotonic() - started >= 0.5
    finally:
        holder.communicate("\n")
    with Zoo.open(zoo_path, "a") as zoo:  # free again once the reader is gone
        assert zoo.writable


@pytest.fixture
def own_lock_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "locks"
    monkeypatch.setenv(LOCK_DIR_VARIABLE, str(folder))
    return folder


@pytest.mark.parametrize("link", ["symlink", "hard link"])
def test_a_second_writer_through_another_name_is_refused(zoo_path, own_lock_dir, link):
    """The lock is the file's, not the path's: a symlink or a hard link to a zoo being written
    gets the same refusal as its own path, and the file is left as it was."""
    other = zoo_path.with_name("other-name.h5")
    (other.symlink_to if link == "symlink" else other.hardlink_to)(zoo_path)
    with Zoo.open(zoo_path, "a") as writer:
        assert writer.writable
        before = zoo_path.read_bytes()
        with pytest.raises(ParamgenError, match="open for writing by another process.*link"):
            Zoo.open(other, "a")
        assert zoo_path.read_bytes() == before
    with Zoo.open(other, "a") as zoo:  # free again, through either name
        assert zoo.writable


def test_a_lock_file_that_is_a_symlink_is_refused_not_followed(zoo_path, own_lock_dir, tmp_path):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    identity = os.stat(zoo_path)
    own_lock_dir.mkdir(exist_ok=True)
    (own_lock_dir / f"{identity.st_dev}-{identity.st_ino}.lock").symlink_to(victim)
    before = zoo_path.read_bytes()
    with pytest.raises(ParamgenError, match="is a symbolic link.*remove the link"):
        Zoo.open(zoo_path, "a")
    assert victim.read_text() == "keep me" and zoo_path.read_bytes() == before


def test_a_lock_directory_that_is_a_symlink_is_refused(zoo_path, own_lock_dir, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    own_lock_dir.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ParamgenError, match="lock directory .* is a symbolic link"):
        Zoo.open(zoo_path, "a")


def test_a_pipe_given_as_the_zoo_is_refused_at_once(tmp_path, own_lock_dir):
    """A FIFO would block the open forever: refused before anything reads it."""
    fifo = tmp_path / "zoo.h5"
    os.mkfifo(fifo)
    started = time.monotonic()
    for open_it in (lambda: Zoo.open(fifo), lambda: Zoo.open(fifo, "a")):
        with pytest.raises(ParamgenError, match="not a regular file"):
            open_it()
    with pytest.raises(ParamgenError, match="not a regular file"):
        Zoo.create(fifo, overwrite=True)
    assert time.monotonic() - started < 5
