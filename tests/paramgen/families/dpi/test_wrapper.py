"""DPI: λ table properties, identity at initialisation, zero λ gradient at step 0, mixed-s
batches, loading checks, clear errors — on an MLP, a conv net with norm layers and the U-Net."""

import pytest
import torch
from torch import nn

from paramgen.backbones.unet import DigitsUNet
from paramgen.errors import ParamgenError
from paramgen.families.dpi import DPI, LambdaTable


def mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.SiLU(), nn.Linear(16, 3))


def conv_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.GroupNorm(4, 8),
        nn.Conv2d(8, 1, 1),
    ).eval()


NETS = {
    "mlp": (mlp, lambda: torch.randn(5, 6)),
    "conv": (conv_net, lambda: torch.randn(5, 1, 8, 8)),
    "unet": (lambda: DigitsUNet(time_embedding=False), lambda: torch.randn(5, 1, 16, 16)),
}


def test_lambda_table_is_monotone_from_0_to_1():
    torch.manual_seed(0)
    table = LambdaTable(50)
    with torch.no_grad():
        table.logits.mul_(5)  # far from uniform
        values = table(torch.linspace(0, 1, 500))
    assert values[0].item() == 0.0 and values[-1].item() == 1.0
    assert (values[1:] >= values[:-1]).all()


@pytest.mark.parametrize("name", list(NETS))
def test_identity_at_initialisation_and_zero_lambda_gradient(name):
    build, inputs = NETS[name]
    torch.manual_seed(0)
    module, x = build(), inputs()
    with torch.no_grad():
        reference = module(x)
    dpi = DPI(module, s_min=0.01, s_max=1.0, log_scale=True)
    for s in (0.01, 0.05, 0.3, 1.0):
        assert torch.equal(dpi(x, s), reference)
    dpi(x, 0.2).square().mean().backward()
    assert dpi.lam.logits.grad is not None
    assert dpi.lam.logits.grad.abs().max().item() == 0.0
    assert any(p.grad.abs().max() > 0 for p in dpi.theta0.parameters())


def test_copies_separate_and_lambda_learns_after_training_on_several_s():
    torch.manual_seed(0)
    dpi = DPI(mlp(), 0.0, 1.0, table_size=20)
    optimiser = torch.optim.AdamW(dpi.parameter_groups(1e-2))
    x = torch.randn(32, 6)
    for step in range(20):
        s = (step % 4) / 3
        loss = (dpi(x, s) - s).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    difference = sum(
        (a - b).abs().sum()
        for a, b in zip(dpi.theta0.parameters(), dpi.theta1.parameters(), strict=True)
    )
    assert difference > 0
    dpi(x, 0.5).square().mean().backward()
    assert dpi.lam.logits.grad.abs().max() > 0


def test_mixed_s_batch_equals_one_call_per_value():
    torch.manual_seed(0)
    dpi = DPI(mlp(), 0.0, 1.0)
    with torch.no_grad():
        for p in dpi.theta1.parameters():
            p.add_(torch.randn_like(p))
    x, s = torch.randn(6, 6), torch.tensor([0.1, 0.9, 0.1, 0.5, 0.9, 0.1])
    together = dpi(x, s)
    for i in range(len(x)):
        assert torch.allclose(together[i], dpi(x[i : i + 1], s[i])[0], atol=1e-6)


def test_parameter_groups_give_lambda_100x_the_learning_rate():
    groups = DPI(mlp()).parameter_groups(1e-5)
    assert groups[1]["lr"] == pytest.approx(1e-3)
    assert groups[1]["params"] == [groups[1]["params"][0]] and groups[1]["params"][0].dim() == 1
    count = sum(p.numel() for p in mlp().parameters())
    assert sum(p.numel() for p in groups[0]["params"]) == 2 * count


def test_loading_needs_a_module_of_the_saved_architecture(tmp_path):
    """Save → load → identical outputs is the persistence battery's (tests/paramgen)."""
    DPI(conv_net(), 0.01, 1.0, table_size=64, log_scale=True).save_pretrained(tmp_path / "dpi")
    with pytest.raises(ParamgenError, match="wraps a Sequential, not a Linear"):
        DPI.from_pretrained(tmp_path / "dpi", nn.Linear(2, 2))
    with pytest.raises(ParamgenError, match="same sizes as the saved one"):
        DPI.from_pretrained(tmp_path / "dpi", mlp())


def test_clear_errors():
    dpi = DPI(mlp(), 0.0, 1.0)
    with pytest.raises(ParamgenError, match=r"s must lie in \[0, 1\]"):
        dpi(torch.randn(2, 6), 1.5)
    with pytest.raises(ParamgenError, match="s_max must be greater"):
        DPI(mlp(), 1.0, 1.0)
    with pytest.raises(ParamgenError, match="log_scale needs s_min > 0"):
        DPI(mlp(), 0.0, 1.0, log_scale=True)
    with pytest.raises(ParamgenError, match="3 values of s for a batch of 2"):
        dpi(torch.randn(2, 6), torch.tensor([0.1, 0.2, 0.3]))
