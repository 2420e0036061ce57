"""Training runs of any family on any task: kept steps, starts, and batched = sequential."""

import pytest
import torch

from paramgen.data.digits import DigitImages
from paramgen.errors import ParamgenError
from paramgen.families import get_family
from paramgen.families.lora import LoraSpec, attach_lora, lora_tensors
from paramgen.families.subset import SubsetConfig
from paramgen.runs import RunStart, TrainSettings, train_runs
from paramgen.tasks.digits import StyledDigitsClassification
from paramgen.training import train_classifier

pytestmark = pytest.mark.usefixtures("one_thread")
SPEC = LoraSpec(targets=("conv1", "conv2", "fc1"))
TASK = StyledDigitsClassification("rotation")


@pytest.fixture(scope="module")
def backbone():
    return TASK.build_backbone(seed=0, pretrained=False)


def test_kept_steps_end_at_the_last_step():
    assert TrainSettings(steps=10, lr=1e-2, keep_last=3, keep_every=2).kept_steps == [6, 8, 10]
    with pytest.raises(ParamgenError, match="keep_last"):
        TrainSettings(steps=4, lr=1e-2, keep_last=3, keep_every=2)


def test_batched_runs_follow_sequential_runs_and_a_plain_training_loop(backbone):
    settings = TrainSettings(steps=5, lr=1e-2, batch_size=32, keep_last=2)
    runs = [RunStart((0.0,), 11), RunStart((180.0,), 12)]
    lora = get_family("lora")
    together = train_runs(lora, SPEC, backbone, TASK, runs, settings, batched=True)
    apart = train_runs(lora, SPEC, backbone, TASK, runs, settings, batched=False)
    for run, batched_rows, sequential_rows in zip(runs, together, apart, strict=True):
        assert len(batched_rows) == len(sequential_rows) == 2
        for a, b in zip(batched_rows, sequential_rows, strict=True):
            assert all((a[k] - b[k]).abs().max() <= 1e-4 for k in a)
        torch.manual_seed(run.seed)
        model = attach_lora(backbone, SPEC)
        data = TASK.training_data(run.values[0])
        train_classifier(
            model,
            DigitImages(data.inputs, data.labels),
            steps=5,
            lr=1e-2,
            batch_size=32,
            seed=run.seed,
        )
        assert all(
            (sequential_rows[-1][k] - v).abs().max() <= 1e-6 for k, v in lora_tensors(model).items()
        )
        assert batched_rows[-1]["fc1.lora_B.weight"].abs().max() > 0  # it did train


def test_a_run_starts_from_its_start_row(backbone):
    subset = get_family("subset")
    config = SubsetConfig(("fc2.*",))
    start = {k: torch.zeros_like(v) for k, v in subset.extract(backbone, config).items()}
    settings = TrainSettings(steps=1, lr=1e-9)
    (rows,) = train_runs(subset, config, backbone, TASK, [RunStart((0.0,), 0, start)], settings)
    assert all(v.abs().max() <= 1e-6 for v in rows[0].values())
