"""MAC zoo: one coefficient net per sampler step count (NFE), keeping each run's last K checkpoints.

Each run trains a :class:`paramgen.families.mac.MacConvNet` (start noise → low-passed MAC weights)
through the NFE-step γ-space sampler of a frozen flow model, against the feature-space MMD to real
training digits (:func:`paramgen.families.mac_training.train_mac_net`). A row is the net's
parameters (the filter taps are recomputed from its config, so nothing else is needed to rebuild
it: ``mac_from_row``), its condition the NFE, its metric ``fd``: the Fréchet distance, in the
built-in digits classifier's feature space, between ``samples`` images sampled at that NFE from
fixed noise (seed ``NOISE_SEED``) and the test digits. Held-out NFEs are named explicitly.

The velocity model is ``digits-unet-flow``: the 196k digits U-Net trained by flow matching on the
linear path (noise at t = 0), pretrained once from the config's seed and stored in the zoo like
every base (``base_model``). The classifier is ``digits-cnn`` from seed 0, stored the same way.

Runs are fine-tunes of one anchor net: ``anchor_iterations`` minibatches train the initial net
(drawn from the seed) with the training NFEs in turn, one per minibatch — never a held-out one —
then every run, held-out ones included, fine-tunes a copy of the anchor at its own NFE for
``iterations`` minibatches, all with the same noise and minibatches. Rows then differ only by
what their NFE asks of the anchor, and change smoothly with it, which is what a generator
interpolates. (With independent runs from one shared initial net, ``anchor_iterations=0``, the
five nets end up about as far from one another as from the init, and neither the midpoint of the
NFE 4 and 6 nets nor a generator trained on them reaches the NFE 5 net's FD.) The anchor is
recomputed (deterministically) when a build resumes; the zoo stores only the runs. A run's rows
are appended in one call, so a killed build loses at most the run in flight, and a re-run skips
finished NFEs (with the same config; another config is refused).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from paramgen.backbones import (
    backbone_entry,
)
from paramgen.data import load_digits16
from paramgen.errors import ParamgenError, check_names
from paramgen.families.mac import MacConvNet
from paramgen.families.mac_training import mac_images, train_mac_net
from paramgen.frechet import FrechetScorer
from paramgen.schema import ParamSchema
from zoo.builders.lora import base_model
from zoo.store import Zoo

__all__ = [
    "CLASSIFIER",
    "FLOW_BACKBONE",
    "MacZooConfig",
    "build_mac_zoo",
    "evaluation_noise",
    "mac_fd",
    "mac_from_row",
    "mac_tensors",
    "train_anchor",
]

Tensors = dict[str, torch.Tensor]
NOISE_SEED = 4321  # the fixed start noise of every ``fd`` in a MAC zoo
FLOW_BACKBONE = "digits-unet-flow"  # registered in paramgen.backbones
CLASSIFIER = "digits-cnn"  # the FD's feature space, always from seed 0


@dataclass(frozen=True)
class MacZooConfig:
    """What to build: the NFEs, which are held out, the coefficient net and how it is trained."""

    backbone: str = FLOW_BACKBONE  # a linear-path velocity net: forward(x, t)
    nfes: tuple[int, ...] = (3, 4, 5, 6, 8)
    heldout: tuple[int, ...] = (5,)  # NFEs marked "heldout" (each one of ``nfes``)
    anchor_iterations: int = 80  # the shared anchor's training on the training NFEs (0: none)
    iterations: int = 40  # each run's fine-tune of the anchor at its own NFE
    keep_last: int = 3
    lr: float = 3e-3  # the anchor's Adam rate
    finetune_lr: float = 1e-3  # the runs' Adam rate
    batch_size: int = 64
    scale: float = 0.2  # s, |w| ≤ s (the paper's 0.05 gains little here: bench/mac_digits.py)
    hidden: int = 16  # conv net width
    depth: int = 2  # hidden conv layers
    samples: int = 449  # images per FD (the test set has 449 digits)
    seed: int = 0

    def __post_init__(self) -> None:
        backbone_entry(self.backbone)  # raises on an unknown name, listing the known ones
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
        for name in ("iterations", "batch_size", "hidden", "depth", "samples"):
            if getattr(self, name) < 1:
                raise ParamgenError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.samples < 2:
            raise ParamgenError(f"samples must be >= 2 (a covariance), got {self.samples}")
        if not 1 <= self.keep_last <= self.iterations:
            raise ParamgenError(
                f"keep_last must be in 1..iterations ({self.iterations}), got {self.keep_last}"
            )
        if self.anchor_iterations < 0:
            raise ParamgenError(
                f"anchor_iterations must be >= 0 (0: no anchor), got {self.anchor_iterations}"
            )
        if self.anchor_iterations and not any(n not in self.heldout for n in self.nfes):
            raise ParamgenError("an anchor needs at least one training NFE (not in heldout)")
        for name in ("lr", "finetune_lr", "scale"):
            if not getattr(self, name) > 0:
                raise ParamgenError(f"{name} must be > 0, got {getattr(self, name)}")

    def split_of(self, nfe: int) -> str:
        return "heldout" if nfe in self.heldout else "train"

    def net(self) -> MacConvNet:
        """The initial coefficient net (drawn from ``seed``): the anchor's starting point."""
        torch.manual_seed(self.seed)
        return MacConvNet(scale=self.scale, hidden=self.hidden, depth=self.depth)

    @property
    def training_nfes(self) -> tuple[int, ...]:
        return tuple(n for n in self.nfes if self.split_of(n) == "train")


def mac_tensors(net: MacConvNet) -> Tensors:
    """A row's tensors: the net's parameters, detached copies."""
    return {name: p.detach().clone() for name, p in net.named_parameters()}


def mac_from_row(tensors: Mapping[str, torch.Tensor], family_config: Mapping) -> MacConvNet:
    """The coefficient net a row describes; ``family_config`` is the group's (``net.config()``)."""
    arguments = {k: v for k, v in family_config.items() if k != "class"}
    net = MacConvNet(**arguments)
    params = dict(net.named_parameters())
    check_names(tensors, params, "a MAC row of this coefficient net has")
    with torch.no_grad():
        for name, param in params.items():
            if tensors[name].shape != param.shape:
                raise ParamgenError(
                    f"row tensor {name!r} has shape {tuple(tensors[name].shape)}, the net "
                    f"expects {tuple(param.shape)}; rebuild with the group's family config"
                )
            param.copy_(tensors[name])
    return net.eval()


def evaluation_noise(samples: int) -> torch.Tensor:
    """[samples, 1, 16, 16]: the fixed start noise of every ``fd`` (seed ``NOISE_SEED``)."""
    return torch.randn(samples, 1, 16, 16, generator=torch.Generator().manual_seed(NOISE_SEED))


@torch.no_grad()
def mac_fd(
    net: MacConvNet, velocity: nn.Module, scorer: FrechetScorer, nfe: int, noise: torch.Tensor
) -> float:
    """FD of the images ``net`` samples from ``noise`` in ``nfe`` γ-space Euler steps."""
    return scorer(mac_images(net, velocity, noise, nfe))


def train_anchor(velocity: nn.Module, classifier: nn.Module, config: MacZooConfig) -> MacConvNet:
    """The initial net trained for ``anchor_iterations`` with the training NFEs in turn (the
    initial net itself when ``anchor_iterations`` is 0)."""
    net = config.net()
    if config.anchor_iterations == 0:
        return net.eval()
    return train_mac_net(
        net,
        velocity,
        classifier,
        load_digits16("train"),
        nfe=config.training_nfes,
        iterations=config.anchor_iterations,
        lr=config.lr,
        batch_size=config.batch_size,
        seed=config.seed,
    )


def _train_run(anchor: MacConvNet, velocity, classifier, nfe: int, config: MacZooConfig):
    """A copy of ``anchor`` fine-tuned at ``nfe``; its last ``keep_last`` rows."""
    snapshots: list[Tensors] = []

    def keep_tail(iteration: int, net: nn.Module) -> None:
        if iteration > config.iterations - config.keep_last:
            snapshots.append(mac_tensors(net))

    train_mac_net(
        copy.deepcopy(anchor),
        velocity,
        classifier,
        load_digits16("train"),
        nfe=nfe,
        iterations=config.iterations,
        lr=config.finetune_lr,
        batch_size=config.batch_size,
        seed=config.seed + 1,  # other minibatches than the anchor's, the same for every run
        on_step=keep_tail,
    )
    return snapshots


def build_mac_zoo(
    path: str | Path,
    config: MacZooConfig = MacZooConfig(),
    on_run: Callable[[int, float | None], None] | None = None,
) -> Path:
    """Build (or finish building) the MAC zoo at ``path``; returns the path.

    ``on_run(nfe, fd)`` is called once per NFE with its last checkpoint's FD (``None``: already
    built).
    """
    path = Path(path)
    with Zoo.open(path, "a") if path.exists() else Zoo.create(path) as zoo:
        velocity = base_model(zoo, config.backbone, config.seed)
        classifier = base_model(zoo, CLASSIFIER, 0)
        scorer = FrechetScorer(classifier, load_digits16("test").images)
        noise = evaluation_noise(config.samples)
        template = config.net()
        schema = ParamSchema.from_state_dict(mac_tensors(template))
        group = zoo.create_group(
            family="mac",
            backbone=config.backbone,
            task="nfe",
            schema=schema,
            conditions={"nfe": ()},
            metrics=["fd"],
            family_config=template.config(),
            backbone_spec={"name": config.backbone, "builder": asdict(config)},
            exist_ok=True,
        )
        built, wanted = (
            group.backbone_spec.get("builder") or {},
            json.loads(json.dumps(asdict(config))),
        )
        if len(group) and built != wanted:
            changed = sorted(k for k in wanted if built.get(k) != wanted[k])
            raise ParamgenError(
                f"group {group.name!r} in {path} was built with another config (fields "
                f"{changed} differ); finish it with the same config or use a new zoo file"
            )
        anchor = None
        for run, nfe in enumerate(config.nfes):
            if group.indices(nfe=nfe).size >= config.keep_last:
                if on_run:
                    on_run(nfe, None)
                continue
            if anchor is None:
                anchor = train_anchor(velocity, classifier, config)
            snapshots = _train_run(anchor, velocity, classifier, nfe, config)
            family_config = template.config()
            scores = [
                mac_fd(mac_from_row(s, family_config), velocity, scorer, nfe, noise)
                for s in snapshots
            ]
            first = config.iterations - config.keep_last + 1
            group.append(
                torch.stack([schema.flatten(s) for s in snapshots]),
                conditions={"nfe": float(nfe)},
                metrics={"fd": scores},
                run=run,
                step=list(range(first, config.iterations + 1)),
                seed=config.seed,
                split=config.split_of(nfe),
            )
            if on_run:
                on_run(nfe, scores[-1])
    return path
