"""Objects named by import strings, ``package.module:object`` (uvicorn's and Hydra's convention).

This is how a user names their own task or family on the command line, and how a zoo group records
the task it was built for, so that ``paramgen eval`` can find it again.
"""

from __future__ import annotations

import importlib
from typing import Any

from paramgen.errors import ParamgenError

__all__ = ["import_string_of", "load_object"]


def load_object(target: str) -> Any:
    """The object ``target`` names: ``"package.module:name"`` (``name`` may be dotted)."""
    module_name, sep, attribute = target.partition(":")
    if not sep or not module_name or not attribute:
        raise ParamgenError(
            f"{target!r} is not an import string; write it as package.module:object, "
            "e.g. my_project.tasks:MY_TASK"
        )
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise ParamgenError(
            f"cannot import module {module_name!r} for {target!r} ({error}); is it on PYTHONPATH "
            "(run from the folder that holds it, or pip install it)?"
        ) from error
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ParamgenError(f"module {module_name!r} has no {attribute!r} (for {target!r})")
        found = getattr(found, part)
    return found


def import_string_of(obj: Any) -> str:
    """``package.module:QualName`` of a class or function (the inverse of ``load_object``)."""
    return f"{obj.__module__}:{obj.__qualname__}"
