"""The argument every generator command starts with: a trained generator's folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from paramgen.generator import ParamGenerator

__all__ = ["GeneratorDir", "load_generator"]

GeneratorDir = Annotated[
    Path, typer.Argument(help="Folder of a trained generator (config.json + model.safetensors).")
]


def load_generator(folder: Path) -> ParamGenerator:
    """The generator saved in ``folder`` (``ParamGenerator.save_pretrained``'s layout)."""
    return ParamGenerator.from_pretrained(folder)
