"""MAC zoo: one coefficient net per sampler step count (NFE), keeping each run's last K checkpoints.

Each run trains a :class:`paramgen.families.mac.MacConvNet` (start noise → low-passed MAC weights)
through the NFE-step γ-space sampler of a frozen flow model, against the feature-space MMD to real
training digits; its metric is ``fd`` (:class:`paramgen.tasks.flow_sampling.DigitsFlowSampling`).
Held-out NFEs are named explicitly.

Runs are fine-tunes of one anchor net (``init="shared"``): ``anchor_iterations`` minibatches
train the initial net (drawn from the seed) with the training NFEs in turn — never a held-out one
— then every run, held-out ones included, fine-tunes a copy of the anchor at its own NFE for
``iterations`` minibatches, all with the same noise and minibatches. Rows then differ only by
what their NFE asks of the anchor, and change smoothly with it, which is what a generator
interpolates. (With independent runs from one shared initial net, ``anchor_iterations=0``, the
five nets end up about as far from one another as from the init, and neither the midpoint of the
NFE 4 and 6 nets nor a generator trained on them reaches the NFE 5 net's FD.) The anchor is
recomputed (deterministically) when a build resumes; the zoo stores only the runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from paramgen.errors import ParamgenError
from paramgen.families.mac import MacFamily, MacNetConfig
from paramgen.tasks.flow_sampling import FLOW_BACKBONE, DigitsFlowSampling
from zoo.builders.driver import INIT_HELP, BuildPlan, Executor, Init, RunReport, build_zoo
from zoo.builders.units import run_in_process

__all__ = ["MacZooConfig", "build_mac_zoo"]


@dataclass(frozen=True)
class MacZooConfig:
    """What to build: the NFEs, which are held out, the coefficient net and how it is trained."""

    backbone: str = field(
        default=FLOW_BACKBONE,
        metadata={"help": "Built-in linear-path flow (velocity) backbone: forward(x, t)."},
    )
    nfes: tuple[int, ...] = field(
        default=(3, 4, 5, 6, 8),
        metadata={
            "help": "Sampler step counts (NFE), one run each: START:STOP:STEP or a comma list."
        },
    )
    heldout: tuple[int, ...] = field(
        default=(5,),
        metadata={"help": "Held-out NFEs, each one of nfes (a comma list; '' for none)."},
    )
    anchor_iterations: int = field(
        default=80,
        metadata={"help": "Minibatches of the shared anchor net (training NFEs in turn; 0: none)."},
    )
    iterations: int = field(
        default=40, metadata={"help": "Fine-tuning minibatches of each NFE's net."}
    )
    keep_last: int = field(
        default=3, metadata={"help": "Checkpoints kept from the end of each run."}
    )
    lr: float = field(default=3e-3, metadata={"help": "Adam learning rate of the anchor."})
    finetune_lr: float = field(
        default=1e-3, metadata={"help": "Adam learning rate of the fine-tunes."}
    )
    batch_size: int = field(default=64, metadata={"help": "Minibatch size."})
    scale: float = field(
        default=0.2,
        metadata={"help": "MAC weight bound s, |w| <= s (the paper's 0.05 gains little here)."},
    )
    hidden: int = field(default=16, metadata={"help": "Width of the coefficient conv net."})
    depth: int = field(default=2, metadata={"help": "Hidden conv layers."})
    samples: int = field(
        default=449, metadata={"help": "Images per Fréchet distance (the test set has 449)."}
    )
    seed: int = field(
        default=0, metadata={"help": "Seed of the flow model, the initial net and every run."}
    )
    init: Init = field(
        default="shared",
        metadata={"help": INIT_HELP + " shared is needed when anchor_iterations > 0."},
    )

    def __post_init__(self) -> None:
        bad = [n for n in self.nfes if isinstance(n, bool) or not isinstance(n, int) or n < 1]
        if not self.nfes or bad or len(set(self.nfes)) != len(self.nfes):
            raise ParamgenError(
                f"nfes must be distinct integers >= 1, got {self.nfes}; e.g. (3, 4, 5, 6, 8)"
            )
        strays = [n for n in self.heldout if n not in self.nfes]
        if strays:
            raise ParamgenError(
                f"held-out nfes {strays} are not among nfes {self.nfes}; add them to nfes or "
                "hold out one of those"
            )
        for name in ("iterations", "batch_size", "hidden", "depth"):
            if getattr(self, name) < 1:
                raise ParamgenError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.scale > 0:
            raise ParamgenError(f"scale must be > 0, got {self.scale}")
        for name in ("lr", "finetune_lr"):
            if not getattr(self, name) > 0:
                raise ParamgenError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.anchor_iterations < 0:
            raise ParamgenError(
                f"anchor_iterations must be >= 0 (0: no anchor), got {self.anchor_iterations}"
            )
        if self.anchor_iterations and not any(n not in self.heldout for n in self.nfes):
            raise ParamgenError("an anchor needs at least one training NFE (not in heldout)")
        _ = self.task, self.plan  # raise on bad samples, anchor, keep_last and rates

    @property
    def task(self) -> DigitsFlowSampling:
        """Few-step sampling of digits with the flow backbone, FD as metric."""
        return DigitsFlowSampling(self.backbone, self.samples)

    @property
    def family_config(self) -> MacNetConfig:
        """The coefficient net's size and weight bound."""
        return MacNetConfig(scale=self.scale, hidden=self.hidden, depth=self.depth)

    @property
    def plan(self) -> BuildPlan:
        """A shared anchor trained on the training NFEs, then one fine-tune per NFE."""
        return BuildPlan(
            values=tuple(float(n) for n in self.nfes),
            heldout=tuple(float(n) for n in self.heldout),
            init=self.init,
            steps=self.iterations,
            keep_last=self.keep_last,
            lr=self.finetune_lr,
            batch_size=self.batch_size,
            seed=self.seed,
            anchor_steps=self.anchor_iterations,
            anchor_lr=self.lr,
            method="sequential",
        )

    def split_of(self, nfe: int) -> str:
        """``heldout`` for a held-out NFE, else ``train``."""
        return self.plan.split_of(nfe)


def build_mac_zoo(
    path: str | Path,
    config: MacZooConfig = MacZooConfig(),
    on_run: Callable[[RunReport], None] | None = None,
    execute: Executor = run_in_process,
) -> Path:
    """Build (or finish building) the MAC zoo at ``path``; returns the path. ``execute``
    trains the runs (in this process by default; ``RayRuns`` on Ray workers)."""
    build_zoo(
        path, MacFamily(), config.family_config, config.task, config.plan, on_run, execute=execute
    )
    return Path(path)
