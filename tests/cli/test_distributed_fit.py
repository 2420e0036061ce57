"""``paramgen train --nproc 2``: a 2-process DDP fit (gloo) saves, resumes after every process is
killed to end with the uninterrupted fit's weights, and samples as well as 1-process fits."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from paramgen.generator import FIT_CHECKPOINT, GeneratorConfig, ParamGenerator
from paramgen.schema import ParamSchema, ParamSpec
from zoo.dataset import ZooDataset
from zoo.store import Zoo
from zoo.training_set import shared_rows, training_set

pytestmark = pytest.mark.usefixtures("one_thread")

GROUP = "synthetic/none/line"
DIM = 300
STEPS = dict(ae_steps=100, denoiser_steps=100, batch_size=16)
PARAMGEN = Path(sys.executable).with_name("paramgen")


def line(dim: int = DIM) -> tuple[np.ndarray, np.ndarray]:
    """A base row and a direction: row(c) = base + c · direction."""
    rng = np.random.default_rng(0)
    return rng.standard_normal(dim, dtype=np.float32), rng.standard_normal(dim, dtype=np.float32)


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> Path:
    """61 rows on the line (a count that does not split evenly over 2 processes)."""
    base, direction = line()
    values = np.linspace(-1, 1, 61, dtype=np.float32)
    noise = 0.01 * np.random.default_rng(1).standard_normal((61, DIM), dtype=np.float32)
    path = tmp_path_factory.mktemp("zoo") / "zoo.h5"
    with Zoo.create(path) as store:
        group = store.create_group(
            family="synthetic", backbone="none", task="line",
            schema=ParamSchema((ParamSpec("w", (DIM,)),)), conditions={"c": ()},
        )  # fmt: skip
        group.append(base + values[:, None] * direction + noise, conditions={"c": values})
    return path


def train(zoo: Path, out: Path, *extra: str) -> subprocess.Popen:
    options = [f"--{key.replace('_', '-')}={value}" for key, value in STEPS.items()]
    return subprocess.Popen(
        [PARAMGEN, "train", zoo, "--group", GROUP, "--out", out, *options, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip


def processes_naming(out: Path) -> list[int]:
    """The processes (but this one) whose command line names ``out``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and str(out).encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # it ended while we looked
            continue
    return [pid for pid in found if pid != os.getpid()]


def test_a_mistake_met_by_every_process_is_one_line(zoo, tmp_path):
    fit = train(zoo, tmp_path / "out", "--nproc", "2", "--group", "no/such/group")
    output = fit.communicate(timeout=300)[0]
    assert fit.returncode == 1, output
    assert output.count("error:") == 1 and "no group 'no/such/group'" in output, output
    assert "Traceback" not in output


def sample_error(folder: Path) -> float:
    """Mean squared distance of generated rows from the line, at four conditions."""
    generator, (base, direction) = ParamGenerator.from_pretrained(folder), line()
    errors = [
        ((generator.sample_rows({"c": c}, 16, seed=1).numpy() - (base + c * direction)) ** 2).mean()
        for c in (-0.75, -0.25, 0.3, 0.8)
    ]
    return float(np.mean(errors))


def test_shares_deal_every_row_to_exactly_one_process(zoo):
    dataset = ZooDataset(zoo, GROUP)
    shares = [shared_rows(dataset, rank, 3, seed=5) for rank in range(3)]
    assert sorted(np.concatenate(shares).tolist()) == list(range(61))
    assert [len(share) for share in shares] == [21, 20, 20]
    with Zoo.open(zoo) as store:
        part = training_set(store.group(GROUP), share=(1, 3, 5))
        whole = store.group(GROUP).read_params()
    torch.testing.assert_close(part.params, whole[np.sort(shares[1])], rtol=0, atol=0)


def test_a_two_process_fit_resumes_after_a_kill_and_samples_like_one_process(zoo, tmp_path):
    whole = train(zoo, tmp_path / "whole", "--nproc", "2")
    assert whole.wait(timeout=300) == 0, whole.stdout.read()
    killed = train(zoo, tmp_path / "killed", "--nproc", "2", "--checkpoint-every", "10")
    checkpoint = tmp_path / "killed" / FIT_CHECKPOINT
    deadline = time.monotonic() + 240
    while not checkpoint.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.kill()  # SIGKILL to the launcher alone: its fit processes must follow it
    killed.wait()
    deadline = time.monotonic() + 30
    while processes_naming(tmp_path / "killed") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not processes_naming(tmp_path / "killed"), "fit processes outlived their launcher"
    assert checkpoint.exists() and not (tmp_path / "killed" / "config.json").exists()
    resumed = train(zoo, tmp_path / "killed", "--nproc", "2", "--checkpoint-every", "10")
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0 and "resuming from" in output, output
    ours, theirs = (
        load_file(tmp_path / name / "model.safetensors") for name in ("killed", "whole")
    )
    assert all(torch.equal(ours[name], theirs[name]) for name in theirs)  # the same weights

    solo = []
    with Zoo.open(zoo) as store:
        data = training_set(store.group(GROUP))
        for seed in range(3):
            fitted = ParamGenerator.fit(data, GeneratorConfig(seed=seed, **STEPS))
            fitted.save_pretrained(tmp_path / f"solo{seed}")
            solo.append(sample_error(tmp_path / f"solo{seed}"))
    spread = max(solo) - min(solo)
    assert sample_error(tmp_path / "whole") <= max(solo) + spread  # within the seeds' spread
