"""Denoiser and flow-matching training loops: one scalar per batch when asked, losses that fall,
and a DPI's own parameter groups."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paramgen.backbones.unet import DigitsUNet
from paramgen.data import load_digits16
from paramgen.errors import ParamgenError
from paramgen.families.dpi import DPI
from paramgen.paths import make_path
from paramgen.training import train_denoiser, train_flow_matching, train_on_path

DATA = load_digits16("train")


class Recorder(nn.Module):
    """A tiny conv net that remembers the scalars it was called with."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Conv2d(1, 1, 3, padding=1)
        self.calls: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        self.calls.append(torch.as_tensor(s).detach().clone())
        return self.net(x)


@pytest.mark.parametrize("train", [train_denoiser, train_flow_matching])
def test_one_scalar_per_batch_or_per_sample(train):
    per_batch, per_sample = Recorder(), Recorder()
    option = "sigma_per" if train is train_denoiser else "t_per"
    train(per_batch, DATA, steps=4, lr=1e-3, batch_size=8, **{option: "batch"})
    train(per_sample, DATA, steps=4, lr=1e-3, batch_size=8, **{option: "sample"})
    assert all(len(c) == 8 and len(c.unique()) == 1 for c in per_batch.calls)
    assert all(len(c.unique()) == 8 for c in per_sample.calls)
    assert len({c[0].item() for c in per_batch.calls}) == 4  # a new value each step


def test_flow_matching_loss_falls_and_dpi_lambda_trains_at_its_own_rate():
    torch.manual_seed(0)
    dpi = DPI(
        nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 1, 3, padding=1))
    )
    clean = DATA.images[:64] * 2 - 1
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(1))

    def loss() -> float:
        with torch.no_grad():
            return sum(
                F.mse_loss(dpi((1 - t) * noise + t * clean, t), clean - noise).item()
                for t in (0.1, 0.5, 0.9)
            )

    before, logits = loss(), dpi.lam.logits.detach().clone()
    train_flow_matching(dpi, DATA, steps=60, lr=3e-3, batch_size=32, t_per="batch")
    assert loss() < 0.8 * before
    assert (dpi.lam.logits - logits).abs().max() > 0.05  # 100x the rate: it moved


@pytest.mark.parametrize("name", ["ddpm-scaled-linear", "ddpm-scaled-linear-zero-snr-v", "trig"])
def test_train_on_path_fits_a_class_conditional_unet_to_each_paths_target(name):
    """The loss falls on ε, v and velocity paths, and the labels reach the net: after training,
    predictions at the same x_t and t differ between classes."""
    path = make_path(name)
    torch.manual_seed(0)
    model = DigitsUNet(channels=8, classes=3)
    data = torch.cat([torch.full((20, 1, 16, 16), level) for level in (-0.8, 0.0, 0.8)])
    labels = torch.arange(3).repeat_interleave(20)

    def mean_loss() -> float:
        pair = path.sample_training(data, torch.randn_like(data), torch.Generator().manual_seed(1))
        with torch.no_grad():
            return F.mse_loss(model(pair.x_t, pair.t, labels=labels), pair.target).item()

    before = mean_loss()
    train_on_path(model, path, data, steps=60, lr=3e-3, seed=0, extras={"labels": labels})
    assert mean_loss() < 0.8 * before
    x, t = torch.randn(3, 1, 16, 16), torch.full((3,), 0.9)
    with torch.no_grad():
        outputs = model(x[:1].expand(3, -1, -1, -1), t, labels=torch.arange(3))
    assert (outputs[0] - outputs[2]).abs().mean() > 1e-3
    with pytest.raises(ValueError, match="class-conditioned"):
        model(x, t)
    with pytest.raises(ParamgenError, match="'labels' has 5 rows"):
        train_on_path(model, path, data, steps=1, lr=1e-3, extras={"labels": labels[:5]})
