"""``paramgen train`` on several processes: torchrun starts them, each joins one process group.

``paramgen train … --nproc N`` runs the same command again under torchrun (``python -m
torch.distributed.run --standalone --nproc-per-node N -m cli.app train …``); ``torchrun
--nproc-per-node N -m cli.app train …`` (or with ``--nnodes`` and a rendezvous address, across
machines) does the same by hand. Each process finds torchrun's environment (``WORLD_SIZE``),
joins the gloo process group — the fit runs on the CPU — and fits on its share of the rows.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from cli.errors import LAUNCHED_VARIABLE
from paramgen.errors import ParamgenError
from paramgen.generator.collective import SOLO, Collective, DistributedFit

__all__ = ["launch", "process_group", "relaunched_arguments", "under_torchrun"]


def under_torchrun() -> bool:
    """Whether this process is one of several that torchrun started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def launch(processes: int, arguments: list[str]) -> int:
    """Run ``paramgen`` with ``arguments`` as ``processes`` processes on this machine through
    torchrun's launcher (``torch.distributed.launcher``, as ``torchrun --standalone`` does);
    returns 0, or 1 when a process failed with a traceback (it printed it). The processes' own
    one-line errors are raised here, each distinct line once; a process that died without saying
    why (killed, crashed) is a one-line error naming it."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    if processes < 1:
        raise ParamgenError(f"--nproc must be >= 1 (1: fit in this process), got {processes}")
    logging.getLogger("torch.distributed.elastic").setLevel(logging.CRITICAL)  # no log walls
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // processes)))
    os.environ[LAUNCHED_VARIABLE] = "1"
    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=processes,
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",
        run_id=str(uuid.uuid4()),
        max_restarts=0,
    )
    try:
        elastic_launch(config, sys.executable)("-m", "cli.app", *arguments)
    except ChildFailedError as error:
        failures = error.failures.values()
        said = sorted({f.message for f in failures if f.error_file_data.get("paramgen")})
        if said:
            raise ParamgenError("; ".join(said)) from None
        codes = {failure.local_rank: failure.exitcode for failure in failures}
        if 1 in codes.values():
            return 1  # a process ended with a traceback, printed
        died = ", ".join(f"process {rank}: exit {code}" for rank, code in sorted(codes.items()))
        raise ParamgenError(
            f"a fit process died ({died}); run the same command again to resume from the checkpoint"
        ) from None
    return 0


def relaunched_arguments(command: str, option: str) -> list[str]:
    """This process's command line from ``command`` on, without ``option`` and its value: what
    each process under torchrun runs."""
    given = sys.argv[1:]
    if command not in given:
        raise ParamgenError(
            f"{option} relaunches the command line it was given; from Python, run torchrun "
            f"--nproc-per-node N -m cli.app {command} … instead"
        )
    kept, arguments = [], iter(given[given.index(command) :])
    for argument in arguments:
        if argument == option:
            next(arguments, None)  # its value
        elif not argument.startswith(option + "="):
            kept.append(argument)
    return kept


def _exit_with_launcher(poll_seconds: float = 0.5) -> None:
    """End this process soon after the one that started it (torchrun's agent) dies: a SIGKILLed
    launcher cannot stop its fit processes, which would go on fitting unseen (the fit resumes
    from its checkpoint when run again)."""
    launcher = os.getppid()

    def watch() -> None:
        while os.getppid() == launcher:
            time.sleep(poll_seconds)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-launcher", daemon=True).start()


@contextmanager
def process_group() -> Iterator[Collective]:
    """``SOLO`` outside torchrun; under it, the initialised gloo group, torn down afterwards."""
    if not under_torchrun():
        yield SOLO
        return
    import torch.distributed as dist

    _exit_with_launcher()
    dist.init_process_group("gloo")
    try:
        yield DistributedFit()
    finally:
        dist.destroy_process_group()
