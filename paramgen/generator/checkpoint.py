"""Mid-training checkpoints of a generator fit, so a killed ``fit`` resumes where it stopped.

One safetensors file holds the model's state, the optimiser's tensors and the random generators'
states (one per process of a distributed fit); its metadata holds the rest as JSON (stage, step,
optimiser hyper-parameters, learning-rate schedule, and a fingerprint of the config and the
training rows). It is written to a temporary file and renamed, so a crash leaves either the
previous checkpoint or the new one. A resumed fit replays the same minibatches and noise and ends
with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from paramgen.errors import ParamgenError

__all__ = ["FitCheckpoint", "Fingerprint", "Resume"]

_MODEL, _OPTIMISER, _RNG = "model.", "optimiser.", "rng"


class Fingerprint:
    """sha256 of a fit's config and training tensors: a checkpoint only resumes the same fit.
    Fed tensor by tensor, so the rows can be hashed in the pass that already reads them."""

    def __init__(self, config: dict) -> None:
        self.digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode())

    def update(self, tensor: torch.Tensor) -> torch.Tensor:
        """Hash ``tensor``'s bytes; returns it unchanged."""
        self.digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
        return tensor

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


@dataclass
class Resume:
    """Where a checkpoint left off: its stage and last completed step there."""

    stage: str
    step: int
    tensors: dict[str, torch.Tensor]
    meta: dict


class FitCheckpoint:
    """Save and restore the training state of one fit at ``path``."""

    def __init__(self, path: str | Path, fit_fingerprint: str) -> None:
        self.path = Path(path)
        self.fingerprint = fit_fingerprint

    def read(self) -> Resume | None:
        """The saved state, or None when there is none; a different fit's checkpoint is an error."""
        if not self.path.exists():
            return None
        try:
            with safe_open(self.path, "pt") as handle:
                meta = json.loads((handle.metadata() or {})["state"])
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        except (SafetensorError, OSError, KeyError, ValueError) as error:
            raise ParamgenError(
                f"{self.path} is not a readable training checkpoint ({error}); delete it to "
                "start the fit over"
            ) from None
        if meta.get("fingerprint") != self.fingerprint:
            raise ParamgenError(
                f"{self.path} belongs to a fit with another config or other training rows; "
                "delete it (or pass --force) to start over"
            )
        return Resume(meta["stage"], meta["step"], tensors, meta)

    def save(
        self,
        stage: str,
        step: int,
        model: nn.Module,
        optimiser: torch.optim.Optimizer,
        schedule: torch.optim.lr_scheduler.LRScheduler,
        rng_states: torch.Tensor,
    ) -> None:
        """Write the state after ``step`` of ``stage``; ``rng_states`` [processes, S]: each
        process's random generator state, in rank order."""
        optimiser_state = optimiser.state_dict()
        tensors = {_MODEL + k: v.detach().contiguous() for k, v in model.state_dict().items()}
        tensors |= {
            f"{_OPTIMISER}{index}.{name}": value.detach().contiguous()
            for index, slots in optimiser_state["state"].items()
            for name, value in slots.items()
        }
        tensors[_RNG] = rng_states.contiguous()
        meta = {
            "fingerprint": self.fingerprint,
            "stage": stage,
            "step": step,
            "param_groups": optimiser_state["param_groups"],
            "schedule": schedule.state_dict(),
        }
        partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, partial, metadata={"state": json.dumps(meta)})
        os.replace(partial, self.path)

    @staticmethod
    def restore_model(resume: Resume, model: nn.Module) -> None:
        state = {k[len(_MODEL) :]: v for k, v in resume.tensors.items() if k.startswith(_MODEL)}
        model.load_state_dict(state)

    @staticmethod
    def restore_training(
        resume: Resume,
        optimiser: torch.optim.Optimizer,
        schedule: torch.optim.lr_scheduler.LRScheduler,
        rng: torch.Generator,
        rank: int = 0,
    ) -> None:
        """Put the saved optimiser, schedule and process ``rank``'s random state in place."""
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in resume.tensors.items():
            if key.startswith(_OPTIMISER):
                index, name = key[len(_OPTIMISER) :].split(".", 1)
                slots.setdefault(int(index), {})[name] = value
        optimiser.load_state_dict({"state": slots, "param_groups": resume.meta["param_groups"]})
        schedule.load_state_dict(resume.meta["schedule"])
        states = resume.tensors[_RNG]
        rng.set_state((states[rank] if states.dim() == 2 else states).clone())  # [S]: one process

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
