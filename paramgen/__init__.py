"""paramgen: parameter-space generation — everything is weights."""

__version__ = "0.1.0"

__all__ = ["__version__"]
