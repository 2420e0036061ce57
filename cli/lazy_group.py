"""Sub-commands imported only when they run, so ``paramgen --help`` does not import torch.

Each command module imports what its command needs (torch, peft, scikit-learn, …), and some build
their options from config dataclasses at import time — seconds of start-up. A lazy group lists its
commands by name and one-line help without importing them, and imports a command's module only
when the command line names it (to run it or to show its own ``--help``).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click
import typer
from typer.core import TyperGroup

__all__ = ["LazyCommand", "lazy_group"]


@dataclass(frozen=True)
class LazyCommand:
    """A command ``name`` defined by ``target`` (``module:attribute``: a command function or a
    ``typer.Typer``); ``summary`` is the first paragraph of its help, listed by the parent's
    ``--help`` (a test checks it against the command's own)."""

    name: str
    target: str
    summary: str

    def load(self) -> click.Command:
        """The click command, importing its module."""
        module, _, attribute = self.target.partition(":")
        defined = getattr(importlib.import_module(module), attribute)
        if isinstance(defined, typer.Typer):
            command: click.Command = typer.main.get_group(defined)
        else:
            single = typer.Typer(add_completion=False)
            single.command(self.name)(defined)
            command = typer.main.get_command(single)
        command.name = self.name
        return command

    def placeholder(self) -> click.Command:
        """A stand-in that only names the command and its summary, for the parent's listing."""
        return click.Command(self.name, help=self.summary)


class _LazyGroup(TyperGroup):
    """A Typer group whose commands ``lazy`` stand as placeholders until first resolved."""

    lazy: Mapping[str, LazyCommand] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        # Placeholders in ``commands`` keep the listing's order and the "did you mean" hints.
        for name, command in self.lazy.items():
            self.commands[name] = command.placeholder()
        self._pending = set(self.lazy)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Import the command the command line names, then resolve as usual."""
        if args and args[0] in self._pending:
            self.commands[args[0]] = self.lazy[args[0]].load()
            self._pending.discard(args[0])
        return super().resolve_command(ctx, args)


def lazy_group(*commands: LazyCommand) -> type[TyperGroup]:
    """A ``cls`` for ``typer.Typer(cls=…)`` that adds ``commands``, each imported on first use,
    after the commands registered on the Typer itself."""
    return type("LazyGroup", (_LazyGroup,), {"lazy": {c.name: c for c in commands}})
