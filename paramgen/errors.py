"""The one exception type for mistakes a user can make and fix.

Every message names the thing that is wrong and what to do about it; the CLI prints it as one
line without a traceback. It subclasses ValueError so plain Python callers can catch it as such.
"""

__all__ = ["ParamgenError"]


class ParamgenError(ValueError):
    """Bad input or a bad file: the message says what is wrong and how to fix it."""
