"""``paramgen zoo store-backbone``: a backbone's base weights into the zoo, with their sha256."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from cli.errors import user_errors
from cli.parsing import parse_spec
from cli.zoo_files import CreateOption, ZooPath, open_for_writing
from zoo.backbone_io import read_state_dict, store_backbone_weights

__all__ = ["store_backbone"]

_console = Console(emoji=False, highlight=False)


@user_errors
def store_backbone(
    path: ZooPath,
    name: Annotated[str, typer.Argument(help="Backbone name, as in import-peft --backbone NAME.")],
    weights: Annotated[
        Path,
        typer.Argument(
            help="A plain state-dict .safetensors file, as "
            "safetensors.torch.save_file(model.state_dict(), path) writes it."
        ),
    ],
    spec: Annotated[
        list[str] | None,
        typer.Option(help="KEY=VALUE to record with the weights (repeat), e.g. arch=mlp-2x64."),
    ] = None,
    create: CreateOption = False,
) -> None:
    """Store a backbone's base weights under /backbones/NAME with their sha256 (idempotent).

    The sha256 covers the tensors' names, shapes, dtypes and bytes — not the file's bytes.
    """
    given = {"file": weights.name} | parse_spec(spec or [])
    tensors = read_state_dict(weights)
    with open_for_writing(path, create) as zoo:
        stored = store_backbone_weights(zoo, name, tensors, given)
    verb = "already held identical" if stored.already_stored else "stored"
    _console.print(
        f"{escape(str(path))}: {verb} base weights of backbone {escape(name)} "
        f"({stored.tensors} tensors, {stored.values:,} values)",
        soft_wrap=True,
    )
    _console.print(f"sha256 {stored.sha256}", soft_wrap=True)
