"""Denoiser and flow-matching training loops: one scalar per batch when asked, losses that fall,
and a DPI's own parameter groups."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from paramgen.data import load_digits16
from paramgen.families.dpi import DPI
from paramgen.training import train_denoiser, train_flow_matching

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
