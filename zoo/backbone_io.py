"""A user's own backbone weights into a zoo: one plain state-dict ``.safetensors`` file.

The file is what ``safetensors.torch.save_file(model.state_dict(), path)`` writes. Only
safetensors is read — paramgen never unpickles (``torch.load``) — and the weights are checked
(readable, non-empty, finite, a dtype HDF5 can hold) before ``Zoo.store_backbone`` keeps them under
``/backbones/<name>`` with their sha256, so a generated adapter can later be tied to the exact
base weights it was made for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from paramgen.errors import ParamgenError
from zoo.safetensors_file import read_safetensors
from zoo.store import Zoo

__all__ = ["StoredBackbone", "read_state_dict", "store_backbone_weights"]

# dtypes numpy (and so HDF5) can hold; bfloat16 and the float8 types have no numpy equivalent.
_STORABLE = {
    torch.float16,
    torch.float32,
    torch.float64,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint8,
    torch.bool,
}


@dataclass(frozen=True)
class StoredBackbone:
    """What ``store_backbone_weights`` stored (or found already stored, identical)."""

    name: str
    sha256: str
    tensors: int
    values: int
    already_stored: bool


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a plain safetensors file, refusing what the zoo must not hold."""
    path = Path(path)
    tensors = read_safetensors(path).tensors
    if not tensors:
        raise ParamgenError(f"{path} holds no tensors; save the model's state_dict into it")
    for name, tensor in tensors.items():
        if tensor.dtype not in _STORABLE:
            raise ParamgenError(
                f"tensor {name!r} in {path} is {tensor.dtype}, which the zoo cannot hold; "
                "save it as float32"
            )
        if tensor.is_floating_point() and not tensor.isfinite().all():
            raise ParamgenError(
                f"tensor {name!r} in {path} contains NaN or Inf; base weights must be finite — "
                "fix or re-export the checkpoint"
            )
    return tensors


def store_backbone_weights(
    zoo: Zoo, name: str, weights: Mapping[str, torch.Tensor], spec: Mapping[str, str] | None = None
) -> StoredBackbone:
    """Store ``weights`` (from :func:`read_state_dict`) as backbone ``name``; idempotent.

    The spec records ``name``, then ``spec`` (e.g. the file name, an architecture tag).
    Different weights under an existing name are refused by ``Zoo.store_backbone``.
    """
    already_stored = name in zoo.backbones()
    digest = zoo.store_backbone(name, weights, {"name": name} | dict(spec or {}))
    return StoredBackbone(
        name=name,
        sha256=digest,
        tensors=len(weights),
        values=sum(tensor.numel() for tensor in weights.values()),
        already_stored=already_stored,
    )
