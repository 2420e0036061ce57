"""Built-in image backbones, by name."""

from functools import partial

from paramgen.backbones.digits_cnn import DigitsCNN
from paramgen.backbones.digits_mlp import DigitsMLP
from paramgen.backbones.registry import (
    BackboneEntry,
    backbone_entry,
    backbone_names,
    build_backbone,
    register_backbone,
)
from paramgen.backbones.unet import DigitsUNet
from paramgen.data.digits import load_digits16
from paramgen.training import train_classifier, train_denoiser, train_flow_matching

__all__ = [
    "BackboneEntry",
    "DigitsCNN",
    "DigitsMLP",
    "DigitsUNet",
    "backbone_entry",
    "backbone_names",
    "build_backbone",
    "register_backbone",
]


def _pretrain_digits_cnn(model: DigitsCNN, seed: int) -> None:
    train_classifier(model, load_digits16("train"), steps=600, lr=3e-3, batch_size=64, seed=seed)


register_backbone(
    BackboneEntry(
        name="digits-cnn",
        description="small CNN classifier for 16x16 digits (~25.7k params)",
        build=DigitsCNN,
        pretrain=_pretrain_digits_cnn,
        lora_targets=("conv1", "conv2", "fc1"),
    )
)


def _pretrain_digits_mlp(model: DigitsMLP, seed: int) -> None:
    """300 Adam steps: ~35 s on one CPU thread, ~97% held-out accuracy."""
    train_classifier(model, load_digits16("train"), steps=300, lr=1e-3, batch_size=64, seed=seed)


register_backbone(
    BackboneEntry(
        name="digits-mlp-wide",
        description="wide MLP classifier for 16x16 digits, 256→2048→2048→10 (~4.7M params): "
        "rank-16 LoRA on fc1, fc2 is 102k numbers a row, fc2 alone 4.2M",
        build=DigitsMLP,
        pretrain=_pretrain_digits_mlp,
        lora_targets=("fc1", "fc2"),
    )
)


def _pretrain_denoiser(model: DigitsUNet, seed: int, steps: int) -> None:
    """σ-conditioned nets learn every σ; an unconditional one (it ignores u) is a blind denoiser."""
    train_denoiser(model, load_digits16("train"), steps=steps, lr=2e-3, batch_size=64, seed=seed)


register_backbone(
    BackboneEntry(
        name="digits-unet",
        description="σ-conditioned U-Net denoiser / velocity net, 16x16 digits (~196k params)",
        build=DigitsUNet,
        pretrain=partial(_pretrain_denoiser, steps=250),
        lora_targets=("down1.conv1", "middle.conv1", "up1.conv2"),
    )
)


register_backbone(
    BackboneEntry(
        name="digits-unet-small",
        description="unconditional (blind) U-Net denoiser, 16x16 digits, 8 channels (~18.4k "
        "params): what the DPI zoo wraps",
        build=partial(DigitsUNet, channels=8, time_embedding=False),
        pretrain=partial(_pretrain_denoiser, steps=300),
    )
)


def _pretrain_flow(model: DigitsUNet, seed: int) -> None:
    train_flow_matching(model, load_digits16("train"), steps=1000, lr=2e-3, seed=seed)


register_backbone(
    BackboneEntry(
        name="digits-unet-flow",
        description="time-conditioned U-Net velocity net, flow matching on the linear path "
        "(noise at t = 0), 16x16 digits (~196k params): what the MAC zoo samples with",
        build=DigitsUNet,
        pretrain=_pretrain_flow,
    )
)
