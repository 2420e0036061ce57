"""Typer options derived from a config dataclass's fields, so each default, help text and choice
lives in one place — the dataclass and the registries — and the CLI only reads it.

A field becomes ``--field-name`` with the dataclass's default and its ``metadata["help"]``; tuples
read as comma lists (``--ae-channels 32,64,64``), ``Literal`` fields list their values. A command
receives only the options the user gave (``overrides``), so defaults applied later — a family's
generator defaults, say — still hold where the user was silent.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.markup import escape

from cli.parsing import format_values, parse_ints, parse_names, parse_values

__all__ = ["ConfigOptions", "describe_choices", "with_config_options"]

F = TypeVar("F", bound=Callable)
OVERRIDES = "overrides"  # the parameter a decorated command receives the given options in
_CONTEXT = "typer_context"  # Typer passes its context here: which options were given


def describe_choices(choices: Mapping[str, str]) -> str:
    """``{"euler": "first-order ODE", "heun": ""}`` → ``"One of: euler — first-order ODE; heun."``
    (a registry's names, each with its line of help where it has one)."""
    named = [f"{name} — {text}" if text else name for name, text in choices.items()]
    return f"One of: {'; '.join(named)}."


def _parse_floats(text: str, name: str) -> tuple[float, ...]:
    return parse_values(text, name) if text.strip() else ()


def _reader(name: str, hint: Any) -> tuple[Any, Callable[[Any], Any]]:
    """The Typer type a field of type ``hint`` reads as, and how its text becomes the value."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (bool, int, float, str):
        return hint, lambda value: value
    if origin is Literal:
        return str, lambda value: value
    if origin is tuple and args[1:] == (Ellipsis,) and args[0] in (int, float, str):
        parse = {
            int: partial(parse_ints, name=name),
            float: partial(_parse_floats, name=name),
            str: parse_names,
        }
        return str, parse[args[0]]
    if origin in (typing.Union, types.UnionType) and str in args and type(None) in args:
        return str | None, lambda value: value  # e.g. ``Task | str | None``: given as text
    raise TypeError(f"field {name!r}: no command-line form for {hint!r}; exclude it")


def _given(context: typer.Context, name: str) -> bool:
    """Whether option ``name`` came from the command line, not its default."""
    source = context.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"  # Typer vendors click's enum


def _shown(value: Any) -> Any:
    """A default as the option shows and reads it (tuples as comma lists or ranges)."""
    return format_values(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class _FieldOption:
    """One field as a keyword-only Typer parameter, and how the text it gets becomes the value."""

    parameter: inspect.Parameter
    parse: Callable[[Any], Any]


@dataclass(frozen=True)
class ConfigOptions:
    """The options of ``defaults``' dataclass: every field in ``only`` (None: all) but ``exclude``.

    ``defaults`` is the instance whose values ``--help`` shows; ``choices`` maps a field to its
    registry's ``{name: one line of help}``; ``notes`` adds a sentence to a field's help (e.g.
    which families default otherwise); ``names`` renames an option (``{"value_a": "a"}``);
    ``into`` is the command's parameter that receives the given values.
    """

    defaults: object
    only: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    choices: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    notes: Mapping[str, str] = field(default_factory=dict)
    names: Mapping[str, str] = field(default_factory=dict)
    into: str = OVERRIDES

    @cached_property
    def options(self) -> dict[str, _FieldOption]:
        """One option per chosen field, in the dataclass's order."""
        hints = typing.get_type_hints(type(self.defaults))
        chosen = [
            f
            for f in dataclasses.fields(self.defaults)
            if (self.only is None or f.name in self.only) and f.name not in self.exclude
        ]
        return {f.name: self._option(f, hints[f.name]) for f in chosen}

    def _option(self, config_field: dataclasses.Field, hint: Any) -> _FieldOption:
        name = config_field.name
        if "help" not in config_field.metadata:
            raise TypeError(f"field {name!r} of {type(self.defaults).__name__} has no help text")
        kind, parse = _reader(name, hint)
        choices = self.choices.get(name)
        if choices is None and typing.get_origin(hint) is Literal:
            choices = dict.fromkeys(typing.get_args(hint), "")
        parts = [config_field.metadata["help"], self.notes.get(name, "")]
        parts.append(describe_choices(choices) if choices else "")
        text = escape(" ".join(part for part in parts if part))  # rich markup reads [..]
        declared = (f"--{self.names[name]}",) if name in self.names else ()
        annotation = Annotated[kind, typer.Option(*declared, help=text)]
        default = _shown(getattr(self.defaults, name))
        keyword = inspect.Parameter.KEYWORD_ONLY
        return _FieldOption(
            inspect.Parameter(name, keyword, default=default, annotation=annotation), parse
        )

    def given(self, values: Mapping[str, Any], context: typer.Context) -> dict[str, Any]:
        """The options the user passed on the command line, as field values; the rest are left
        out, so whatever fills them later (a family's defaults, say) is not overridden."""
        return {
            name: option.parse(values[name])
            for name, option in self.options.items()
            if _given(context, name)
        }


def with_config_options(*groups: ConfigOptions) -> Callable[[F], F]:
    """Decorate a command taking one parameter per group's ``into`` (``overrides`` by default):
    its signature gains the groups' options, and it is called with each group's given ones as
    ``into={field: value}``."""

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        receivers = {group.into for group in groups}
        own = [p for name, p in signature.parameters.items() if name not in receivers]
        names = [name for group in groups for name in group.options]
        clashes = sorted(
            {p.name for p in own} & set(names) | {n for n in names if names.count(n) > 1}
        )
        if clashes or not receivers <= set(signature.parameters):
            raise TypeError(f"{command.__name__}: needs {sorted(receivers)}, no options {clashes}")

        @functools.wraps(command)
        def with_options(**values: Any) -> Any:
            context = values.pop(_CONTEXT)
            for group in groups:
                config = {name: values.pop(name) for name in group.options}
                values[group.into] = group.given(config, context)
            return command(**values)

        derived = [option.parameter for group in groups for option in group.options.values()]
        keyword = inspect.Parameter.KEYWORD_ONLY
        context = inspect.Parameter(_CONTEXT, keyword, annotation=typer.Context)
        parameters = [*own, *derived, context]
        with_options.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        return with_options  # type: ignore[return-value]

    return decorate
