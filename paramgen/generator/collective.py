"""What a generator fit shares across processes: one process (``SOLO``) or a torch.distributed
group (``DistributedFit``, started by torchrun), behind one small interface.

A distributed fit gives each process its share of the rows. The statistics every process needs
(normalisation sums, the latents' mean and spread, the row codes' basis, the conditions the
condition encoder is fitted on) are summed or gathered across processes, so every process ends
each pass with the same numbers; the training steps average their gradients through
``DistributedDataParallel``, so a step of N processes with B/N rows each is one step on B rows.
Only rank 0 reports progress and writes checkpoints and the generator.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence

import torch
from torch import nn

from paramgen.errors import ParamgenError

__all__ = ["SOLO", "Collective", "DistributedFit"]


class Collective:
    """One process: every collective is the identity."""

    rank, world = 0, 1

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` summed over the processes (the same result on every one)."""
        return tensor

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """The processes' ``tensor`` [n_rank, ...] concatenated in rank order."""
        return tensor

    def synchronised(
        self, modules: Sequence[nn.Module], loss: Callable[[], torch.Tensor]
    ) -> Callable[[], torch.Tensor]:
        """``loss`` whose backward pass leaves every process the mean gradient of ``modules``'
        parameters."""
        return loss

    def share(self, count: int, per_process: str) -> int:
        """This process's part of ``count`` (a per-step number of rows or tokens)."""
        return count

    def gather_dict(self, tensors: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``gather`` of each tensor, by name."""
        return {name: self.gather(value) for name, value in sorted(tensors.items())}

    def agree(self, hexdigest: str) -> str:
        """One fingerprint of every process's share from each one's own sha256 ``hexdigest``."""
        return hexdigest


SOLO = Collective()


class _StageLoss(nn.Module):
    """The modules of a training stage, with ``loss`` as their forward: what DDP wraps."""

    def __init__(self, modules: Sequence[nn.Module], loss: Callable[[], torch.Tensor]) -> None:
        super().__init__()
        self.parts = nn.ModuleList(modules)
        self.loss = loss

    def forward(self) -> torch.Tensor:
        return self.loss()


class DistributedFit(Collective):
    """The initialised default torch.distributed process group (gloo: the fit runs on the CPU)."""

    def __init__(self) -> None:
        import torch.distributed as dist

        if not dist.is_initialized():
            raise ParamgenError("a distributed fit needs torch.distributed initialised (torchrun)")
        self._dist = dist
        self.rank, self.world = dist.get_rank(), dist.get_world_size()

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        self._dist.all_reduce(total)
        return total

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        sizes = [torch.zeros(1, dtype=torch.long) for _ in range(self.world)]
        self._dist.all_gather(sizes, torch.tensor([len(tensor)]))
        longest = int(max(sizes))
        padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype)
        padded[: len(tensor)] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.world)]
        self._dist.all_gather(parts, padded)
        return torch.cat([part[: int(size)] for part, size in zip(parts, sizes, strict=True)])

    def synchronised(
        self, modules: Sequence[nn.Module], loss: Callable[[], torch.Tensor]
    ) -> Callable[[], torch.Tensor]:
        from torch.nn.parallel import DistributedDataParallel

        # static_graph: the same parameters take part in every step (some may never: e.g. the
        # condition encoder of an unconditional group), which DDP then handles without a search.
        return DistributedDataParallel(_StageLoss(modules, loss), static_graph=True)

    def agree(self, hexdigest: str) -> str:
        digests = self.gather(torch.tensor(list(bytes.fromhex(hexdigest)), dtype=torch.uint8)[None])
        return hashlib.sha256(digests.numpy().tobytes() + bytes([self.world])).hexdigest()

    def share(self, count: int, per_process: str) -> int:
        if count % self.world:
            raise ParamgenError(
                f"{per_process}={count} does not split over {self.world} processes; give a "
                f"multiple of {self.world}"
            )
        return count // self.world
