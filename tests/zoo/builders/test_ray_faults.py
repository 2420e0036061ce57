"""Zoo builds on Ray when processes die: a killed worker's run is retried, a run whose retries
are spent is reported while every other run is stored, a killed driver's build resumes — and in
every case the zoo ends with each row exactly once, the rows of the in-process build."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from cli.app import app
from paramgen.backbones import build_backbone
from paramgen.errors import ParamgenError
from zoo.builders import LoraZooConfig, build_lora_zoo
from zoo.builders.ray_runs import RayRuns
from zoo.shards import merge_shards
from zoo.store import Zoo

pytestmark = [pytest.mark.usefixtures("one_thread"), pytest.mark.xdist_group("ray")]

# Four units: the anchor 0, then ±30 together, then -20 and +20 side by side.
OPTIONS = dict(values=(-30.0, -20.0, 0.0, 20.0, 30.0), steps=40, keep_last=2, batch_size=16)
CONFIG = LoraZooConfig(**OPTIONS)
TASK_TITLES = (b"ray::_train_unit", b"ray::_train_into_shard")  # a worker running a unit


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> Path:
    """A zoo holding only an untrained digits-cnn base (no test pretrains one)."""
    path = tmp_path_factory.mktemp("bases") / "zoo.h5"
    with Zoo.create(path) as zoo:
        weights = build_backbone("digits-cnn", 0).state_dict()
        zoo.store_backbone("digits-cnn", weights, {"name": "digits-cnn"})
    return path


@pytest.fixture(scope="module")
def reference(bases, tmp_path_factory) -> Path:
    """The in-process build of CONFIG."""
    return build_lora_zoo(shutil.copy(bases, tmp_path_factory.mktemp("ref") / "zoo.h5"), CONFIG)


def assert_rows_of_the_reference(path: Path, reference: Path) -> None:
    """Each (run, step) exactly once, and bit for bit the in-process build's row."""
    with Zoo.open(path) as ours, Zoo.open(reference) as theirs:
        got, want = ours.group(CONFIG.group).read(), theirs.group(CONFIG.group).read()
    keys = list(zip(got.run.tolist(), got.step.tolist(), strict=True))
    assert len(set(keys)) == len(keys) == len(want)
    got_order, want_order = (np.lexsort((rows.step, rows.run)) for rows in (got, want))
    assert torch.equal(got.params[got_order], want.params[want_order])
    assert torch.equal(got.metrics["accuracy"][got_order], want.metrics["accuracy"][want_order])


class WorkerKiller(threading.Thread):
    """SIGKILLs the worker processes running a unit, ``times`` of them, once ``armed`` is set."""

    def __init__(self, times: int) -> None:
        super().__init__(daemon=True)
        self.times, self.killed, self.armed, self.done = times, [], threading.Event(), False

    def run(self) -> None:
        self.armed.wait()
        while not self.done and len(self.killed) < self.times:
            for pid in _processes_titled(TASK_TITLES):
                if len(self.killed) < self.times:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)
            time.sleep(0.01)


def _processes_titled(titles: tuple[bytes, ...]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(titles):
                found.append(int(entry.name))
        except OSError:  # the process ended while we looked
            continue
    return found


SHARDED = pytest.mark.parametrize("sharded", [False, True], ids=["driver-writes", "shards"])


def _merged(path: Path, shards: Path | None) -> Path:
    """The zoo at ``path`` with the build's shards (if any) merged into it."""
    if shards is not None:
        merge_shards(path, shards)
    return path


@SHARDED
def test_a_killed_worker_is_retried_and_every_row_is_written_once(
    bases, reference, tmp_path, ray_cluster, sharded
):
    path = shutil.copy(bases, tmp_path / "zoo.h5")
    shards = tmp_path / "shards" if sharded else None
    killer = WorkerKiller(times=1)
    killer.start()
    killer.armed.set()
    # Retries to spare: once (1 in 6 full runs) a retried worker died twice more at start-up
    # with a Ray system error no test caused; the one kill made here is still asserted.
    build_lora_zoo(path, CONFIG, execute=RayRuns(workers=2, retries=5, shards=shards))
    killer.done = True
    assert len(killer.killed) == 1
    assert_rows_of_the_reference(_merged(path, shards), reference)


def test_a_run_whose_retries_are_spent_is_reported_and_the_rest_is_stored(
    bases, reference, tmp_path, ray_cluster
):
    path = shutil.copy(bases, tmp_path / "zoo.h5")
    # Every unit after the anchor is killed: killing one alone could hit the worker that had just
    # finished the anchor (its title not yet reset), and then no unit would fail.
    killer = WorkerKiller(times=len(CONFIG.values))
    killer.start()
    stored = []

    def arm_after_the_anchor(run) -> None:
        stored.append(run.value)
        killer.armed.set()  # the anchor is stored: kill whatever unit runs next

    with pytest.raises(
        ParamgenError, match=r"of 4 units failed .* its worker process died \(its only try\)"
    ) as error:
        build_lora_zoo(path, CONFIG, on_run=arm_after_the_anchor, execute=RayRuns(2, retries=0))
    killer.done = True
    assert "run the same command again" in str(error.value) and "\n" not in str(error.value)
    with Zoo.open(path) as zoo:
        rows = zoo.group(CONFIG.group).read()
    assert sorted(set(rows.conditions["rotation"].tolist())) == sorted(stored)
    assert 0.0 in stored and len(stored) < len(CONFIG.values)
    resumed = []
    build_lora_zoo(path, CONFIG, on_run=lambda run: resumed.append(run.scores is None))
    assert resumed.count(True) == len(stored)  # the stored runs are not trained again
    assert_rows_of_the_reference(path, reference)


@SHARDED
def test_a_killed_driver_resumes_with_every_row_once(
    bases, reference, tmp_path, ray_cluster, sharded
):
    """The CLI joins the running Ray (--ray-address), is SIGKILLed after its first stored run,
    and the same build finished (in this process; with shards, by the CLI on Ray again, which
    recalls the stored runs from their shard, then ``zoo merge``) ends with the reference's
    rows."""
    path = shutil.copy(bases, tmp_path / "zoo.h5")
    shards = tmp_path / "shards" if sharded else None
    address = ray_cluster.get_runtime_context().gcs_address
    options = [f"--{k.replace('_', '-')}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
               for k, v in OPTIONS.items()]  # fmt: skip
    options += ["--shards", str(shards)] if sharded else []
    paramgen = Path(sys.executable).with_name("paramgen")
    driver = subprocess.Popen(
        [paramgen, "zoo", "build", "lora", path, *options, "--ray-address", address],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for line in driver.stdout:
            if "(train):" in line or "(heldout):" in line:  # a run is stored
                break
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
    stored_in = next(shards.glob("*.h5")) if sharded else path
    with Zoo.open(stored_in) as zoo:
        assert 0 < len(zoo.group(CONFIG.group)) < len(CONFIG.values) * CONFIG.keep_last
    if not sharded:
        build_lora_zoo(path, CONFIG)
        assert_rows_of_the_reference(path, reference)
        return
    runner = CliRunner()
    resumed = runner.invoke(app, ["zoo", "build", "lora", str(path), *options, "--workers=2"])
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.count("→ shard ") == len(CONFIG.values)
    assert f"join them: paramgen zoo merge {path} {shards}" in resumed.output
    merged = runner.invoke(app, ["zoo", "merge", str(path), str(shards)])
    assert merged.exit_code == 0 and f"merged {len(CONFIG.values)} runs" in merged.output
    assert_rows_of_the_reference(path, reference)


def test_without_ray_a_distributed_build_is_a_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    result = CliRunner().invoke(
        app, ["zoo", "build", "lora", str(tmp_path / "z.h5"), "--workers", "2"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("error: building on Ray needs the ray package: pip install")
    assert list(tmp_path.iterdir()) == []


def test_an_address_where_no_cluster_answers_is_a_one_line_error(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on once this socket is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"127.0.0.1:{port}"
    result = CliRunner().invoke(
        app, ["zoo", "build", "lora", str(tmp_path / "z.h5"), "--ray-address", address]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"error: no Ray cluster answers at {address}")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--workers", "-1"), "workers and retries must be >= 0"),
        (("--retries", "-1"), "workers and retries must be >= 0"),
        (("--ray-address", " "), "--ray-address is empty"),
        (("--shards", "shards"), "--shards needs Ray writers: add --workers N"),
    ],
)
def test_bad_scale_out_options_are_one_line_errors(tmp_path, option, message):
    result = CliRunner().invoke(app, ["zoo", "build", "lora", str(tmp_path / "z.h5"), *option])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"error: {message}")
    assert list(tmp_path.iterdir()) == []


def test_shards_given_a_file_is_a_one_line_error(tmp_path):
    (tmp_path / "taken").write_text("not a directory")
    options = ["--workers", "2", "--shards", str(tmp_path / "taken")]
    result = CliRunner().invoke(app, ["zoo", "build", "lora", str(tmp_path / "z.h5"), *options])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith(f"error: --shards {tmp_path / 'taken'} is not a directory")
    assert not (tmp_path / "z.h5").exists()
