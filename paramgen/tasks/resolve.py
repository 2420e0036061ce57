"""Find a task from what a user wrote (an import string) or what a zoo group recorded (a spec)."""

from __future__ import annotations

from collections.abc import Mapping

from paramgen.errors import ParamgenError
from paramgen.imports import load_object
from paramgen.tasks.protocol import Task

__all__ = ["resolve_task", "task_spec"]


def resolve_task(task: Task | str | Mapping) -> Task:
    """A Task from itself, an import string ``package.module:object`` (an instance, or a class or
    function called without arguments), or a recorded spec ``{"target", "arguments"}``."""
    if isinstance(task, Task):
        return task
    if isinstance(task, Mapping):
        if "target" not in task:
            raise ParamgenError(
                "this group records no task (it was imported, not built); pass --task "
                "package.module:TASK"
            )
        found = _made(load_object(task["target"]), task["target"], task.get("arguments", {}))
    elif isinstance(task, str):
        found = _made(load_object(task), task, {})
    else:
        raise ParamgenError(f"a task must be a Task or an import string, got {type(task).__name__}")
    if not isinstance(found, Task):
        raise ParamgenError(
            f"{task!r} names a {type(found).__name__}, not a paramgen Task; subclass "
            "paramgen.tasks.Task (or ClassificationTask)"
        )
    return found


def _made(found: object, target: str, arguments: Mapping) -> object:
    """``found`` itself if it is a task, else what calling it with ``arguments`` makes."""
    if isinstance(found, Task) or not callable(found):
        return found
    try:
        return found(**arguments)
    except TypeError as error:
        raise ParamgenError(
            f"{target!r} could not be called with {dict(arguments) or 'no arguments'} ({error}); "
            "name a Task instance (module:TASK) or a class whose arguments all have defaults"
        ) from None


def task_spec(task: Task | str) -> dict:
    """What a group records to find ``task`` again: the import string a user gave, else the
    task's own ``spec()``."""
    return {"target": task} if isinstance(task, str) else task.spec()
