"""The one exception type for mistakes a user can make and fix.

Every message names the thing that is wrong and what to do about it; the CLI prints it as one
line without a traceback. It subclasses ValueError so plain Python callers can catch it as such.
"""

from collections.abc import Iterable

__all__ = ["ParamgenError", "check_names"]


class ParamgenError(ValueError):
    """Bad input or a bad file: the message says what is wrong and how to fix it."""


def check_names(given: Iterable[str], expected: Iterable[str], context: str) -> None:
    """Raise naming the unknown and the missing names when ``given`` is not ``expected``.

    ``context`` starts the message, e.g. ``"group 'x' has conditions"``; the expected names follow.
    """
    given, expected = set(given), set(expected)
    unknown, missing = sorted(given - expected), sorted(expected - given)
    if unknown or missing:
        parts = [f"unknown {unknown}"] * bool(unknown) + [f"missing {missing}"] * bool(missing)
        raise ParamgenError(f"{context} {sorted(expected)}; {'; '.join(parts)}")
