"""ParamSchema: the ordered layout that turns a state dict into one flat vector and back.

A zoo row is a flat float32 vector; the schema says which slice of it is which tensor. Its hash
is stored beside every group so that weights of another layout are refused with a clear error
instead of being silently reshaped into the wrong tensors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from math import prod
from typing import TYPE_CHECKING

from paramgen.errors import ParamgenError

if TYPE_CHECKING:  # torch is imported where tensors are handled: reading a zoo's summary needs none
    import torch

__all__ = ["ParamSpec", "ParamSchema", "state_dict_sha256"]

_DTYPES = ("float32", "float64", "float16", "bfloat16")  # names of torch's float dtypes


def _dtype_name(dtype: torch.dtype) -> str:
    name = str(dtype).removeprefix("torch.")
    if name not in _DTYPES:
        raise ParamgenError(
            f"tensor dtype {dtype} is not supported; paramgen stores floating-point weights "
            f"({', '.join(_DTYPES)}) — cast integer buffers out of the state dict first"
        )
    return name


@dataclass(frozen=True)
class ParamSpec:
    """One tensor of the layout: its name, shape and dtype (restored on unflatten)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"

    @property
    def numel(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True)
class ParamSchema:
    """Ordered tensors; ``offsets[i]`` is where tensor i starts in the flat [dim] vector."""

    specs: tuple[ParamSpec, ...]

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.specs]
        if len(set(names)) != len(names):
            raise ParamgenError(f"schema has duplicate tensor names: {sorted(names)}")
        if not self.specs:
            raise ParamgenError("schema is empty: a parameter set needs at least one tensor")

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor]) -> ParamSchema:
        """The schema of ``state_dict`` in its own key order."""
        return cls(
            tuple(
                ParamSpec(name, tuple(tensor.shape), _dtype_name(tensor.dtype))
                for name, tensor in state_dict.items()
            )
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs)

    @property
    def offsets(self) -> tuple[int, ...]:
        starts, position = [], 0
        for spec in self.specs:
            starts.append(position)
            position += spec.numel
        return tuple(starts)

    @property
    def dim(self) -> int:
        """D: the length of the flat vector."""
        return sum(spec.numel for spec in self.specs)

    def check_keys(self, keys: set[str] | list[str], what: str) -> None:
        """Raise naming the missing and unexpected tensors when ``keys`` is not this layout."""
        given, expected = set(keys), set(self.names)
        missing, extra = sorted(expected - given), sorted(given - expected)
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {missing}")
            if extra:
                parts.append(f"unexpected {extra}")
            raise ParamgenError(
                f"{what} does not match the schema ({'; '.join(parts)}); "
                "it was made for another model or adapter layout"
            )

    def flatten(self, state_dict: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """[D] float32 vector of ``state_dict``'s tensors in schema order."""
        import torch

        self.check_keys(list(state_dict), "state dict")
        pieces = []
        for spec in self.specs:
            tensor = state_dict[spec.name]
            if tuple(tensor.shape) != spec.shape:
                raise ParamgenError(
                    f"tensor {spec.name!r} has shape {tuple(tensor.shape)}, the schema expects "
                    f"{spec.shape}"
                )
            pieces.append(tensor.detach().reshape(-1).to(device="cpu", dtype=torch.float32))
        return torch.cat(pieces)

    def unflatten(self, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        """Inverse of :meth:`flatten`: a [D] vector back to named tensors in their dtypes."""
        import torch

        if vector.ndim != 1 or vector.numel() != self.dim:
            raise ParamgenError(
                f"parameter vector has shape {tuple(vector.shape)}, the schema expects "
                f"({self.dim},)"
            )
        return {
            spec.name: vector[start : start + spec.numel]
            .reshape(spec.shape)
            .to(getattr(torch, spec.dtype))
            .clone()
            for spec, start in zip(self.specs, self.offsets, strict=True)
        }

    def to_json(self) -> str:
        return json.dumps(
            [{"name": s.name, "shape": list(s.shape), "dtype": s.dtype} for s in self.specs],
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> ParamSchema:
        try:
            entries = json.loads(text)
            return cls(
                tuple(
                    ParamSpec(str(e["name"]), tuple(int(n) for n in e["shape"]), str(e["dtype"]))
                    for e in entries
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ParamgenError(
                f"schema JSON is malformed ({error}); re-create the group"
            ) from error

    @property
    def hash(self) -> str:
        """A stable 16-hex-digit digest of names, shapes and dtypes (not of values)."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def state_dict_sha256(state_dict: Mapping[str, torch.Tensor]) -> str:
    """sha256 of names, shapes, dtypes and bytes (sorted by name): identifies frozen weights."""
    import torch

    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tuple(tensor.shape)}|{tensor.dtype}|".encode())
        # reshape first: a 0-d tensor (BatchNorm's num_batches_tracked) cannot be viewed as bytes.
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
