"""The ``paramgen`` command line."""

__all__: list[str] = []
