"""Open one ``.safetensors`` file for the zoo's importers: clear errors, only the tensors asked for.

paramgen never unpickles: only safetensors is read. A missing file, a directory or a file that is
not safetensors becomes one ``ParamgenError`` naming the path. ``select`` loads just the tensors a
caller needs — the last layers of a large checkpoint, not the whole model — and the header's
metadata (where ``paramgen zoo export`` describes its rows) comes along.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from paramgen.errors import ParamgenError

__all__ = ["SafetensorsFile", "read_safetensors"]


@dataclass(frozen=True)
class SafetensorsFile:
    """A file's metadata, the names of all its tensors and the tensors that were loaded."""

    path: Path
    metadata: dict[str, str]
    names: tuple[str, ...]
    tensors: dict[str, torch.Tensor]


def read_safetensors(
    path: str | Path, select: Callable[[str], bool] | None = None
) -> SafetensorsFile:
    """Read ``path``'s header and the tensors whose names ``select`` accepts (None: all)."""
    path = Path(path)
    if path.is_dir():
        raise ParamgenError(
            f"{path} is a directory; give the .safetensors file inside it (e.g. model.safetensors)"
        )
    if not path.is_file():
        what = "is not a regular file (a pipe or device?)" if path.exists() else "does not exist"
        raise ParamgenError(f"safetensors file {path} {what}; give a .safetensors file")
    try:
        with safe_open(path, framework="pt") as handle:
            names = tuple(handle.keys())
            tensors = {
                name: handle.get_tensor(name) for name in names if select is None or select(name)
            }
            metadata = dict(handle.metadata() or {})
    except (SafetensorError, OSError) as error:
        raise ParamgenError(
            f"{path} is not a readable safetensors file ({error}); only safetensors is "
            "accepted — save with safetensors.torch.save_file(model.state_dict(), path)"
        ) from None
    return SafetensorsFile(path=path, metadata=metadata, names=names, tensors=tensors)
