"""A writer killed with SIGKILL loses nothing it had committed, and shows nothing half-written."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zoo.store import Zoo

WORKER = Path(__file__).with_name("append_worker.py")
ROOT = Path(__file__).parents[2]
DIM = 2_000
sys.path.insert(0, str(WORKER.parent))
from append_worker import expected_row  # noqa: E402


def start_worker(path: Path, rows: int, pause: float = 0.0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(path), str(rows), str(DIM), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def run_until_killed(path: Path, rows: int, kill_after: int) -> int:
    """Start a writer of ``rows`` rows, SIGKILL it once it reports ``kill_after``; last report."""
    worker = start_worker(path, rows)
    last = 0
    for line in worker.stdout:
        if line.strip() != "ready":
            last = int(line)
        if last >= kill_after:
            worker.send_signal(signal.SIGKILL)
            break
    worker.wait()
    assert worker.returncode == -signal.SIGKILL
    return last


def check_rows(path: Path) -> int:
    """Every visible row equals what was appended, bit for bit; returns the count."""
    with Zoo.open(path) as zoo:
        group = zoo.group("t/toy/x")
        rows = group.read()
    assert rows.step.tolist() == list(range(len(rows)))
    for index, params in zip(rows.index, rows.params.numpy(), strict=True):
        assert np.array_equal(params, expected_row(int(index), DIM))
    return len(rows)


@pytest.mark.parametrize("kill_after", [137, 500])
def test_sigkill_half_way_keeps_every_committed_row(tmp_path, kill_after):
    path = tmp_path / "zoo.h5"
    reported = run_until_killed(path, rows=1_000, kill_after=kill_after)
    visible = check_rows(path)
    assert reported <= visible < 1_000
    # The next writer recovers the file and continues right after the committed rows.
    worker = start_worker(path, rows=10)
    worker.communicate()
    assert worker.returncode == 0
    assert check_rows(path) == visible + 10
