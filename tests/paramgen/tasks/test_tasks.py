"""Tasks found again from what users write and groups record; bad names are one clear error."""

import pytest

from paramgen.errors import ParamgenError
from paramgen.tasks import resolve_task, task_spec
from paramgen.tasks.denoising import StyledDigitsDenoising
from paramgen.tasks.digits import DigitsClassification, StyledDigitsClassification
from paramgen.tasks.flow_sampling import DigitsFlowSampling


@pytest.mark.parametrize(
    "task",
    [
        StyledDigitsClassification("shear"),
        StyledDigitsDenoising("stroke"),
        DigitsFlowSampling(samples=32),
        DigitsClassification(),
        DigitsClassification("digits-mlp-wide"),
    ],
)
def test_a_recorded_spec_rebuilds_the_same_task(task):
    assert resolve_task(task_spec(task)) == task


def test_an_import_string_names_an_instance_or_a_class_without_arguments():
    assert resolve_task("paramgen.tasks.digits:DigitsClassification") == DigitsClassification()
    assert task_spec("pkg.module:TASK") == {"target": "pkg.module:TASK"}


@pytest.mark.parametrize(
    "target, message",
    [
        ("no-colon", "not an import string"),
        ("nope.module:TASK", "cannot import module 'nope.module'"),
        ("paramgen.tasks:NOPE", "has no 'NOPE'"),
        ("paramgen.tasks:Labelled", "could not be called with no arguments"),
        ("paramgen.errors:ParamgenError", "not a paramgen Task"),
        ({}, "records no task"),
    ],
)
def test_bad_task_names_say_what_to_fix(target, message):
    with pytest.raises(ParamgenError, match=message):
        resolve_task(target)
