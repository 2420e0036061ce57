"""Frozen base weights through the zoo: stored once with their sha256, loaded ever after."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from paramgen.backbones import build_backbone
from paramgen.errors import ParamgenError
from paramgen.tasks import BaseLoader
from zoo.store import Zoo

__all__ = ["base_model", "zoo_base_loader"]


def zoo_base_loader(
    zoo: Zoo, task_spec: dict | None = None, build_missing: bool = True
) -> BaseLoader:
    """``load(name, seed, build)``: the base stored under ``name`` in ``zoo`` (loaded into
    ``build(False)``), else ``build(True)`` — pretrained — stored and returned (zoo opened for
    writing). ``task_spec`` is recorded with a newly stored base. ``build_missing=False`` refuses
    a missing base instead: rows trained elsewhere (imported adapters) must be scored on the
    base they were trained on, which only the user can store."""

    def load(name: str, seed: int, build: Callable[[bool], nn.Module]) -> nn.Module:
        if name in zoo.backbones():
            model = build(False)
            try:
                model.load_state_dict(zoo.backbone_weights(name))
            except RuntimeError as error:
                detail = (str(error).splitlines()[1:2] or [str(error)])[0].strip()
                raise ParamgenError(
                    f"the base weights stored for backbone {name!r} in {zoo.path} do not fit the "
                    f"task's backbone ({detail}); use another backbone name or zoo"
                ) from None
            return model.eval()
        if not build_missing:
            raise ParamgenError(
                f"zoo {zoo.path} holds no base weights for backbone {name!r}, which the task "
                f"needs (it holds {zoo.backbones() or 'none'}); store the weights the rows were "
                f"trained on: paramgen zoo store-backbone {zoo.path} {name} WEIGHTS.safetensors"
            )
        model = build(True).eval()
        spec = {"name": name, "seed": seed} | ({"task": task_spec} if task_spec else {})
        zoo.store_backbone(name, model.state_dict(), spec)
        return model

    return load


def base_model(zoo: Zoo, name: str, seed: int = 0) -> nn.Module:
    """A built-in backbone's frozen base: read from ``zoo`` if stored, else pretrained from
    ``seed`` and stored (``zoo`` opened for writing)."""
    return zoo_base_loader(zoo)(
        name, seed, lambda pretrained: build_backbone(name, seed, pretrained)
    )
