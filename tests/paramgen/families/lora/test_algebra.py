"""Canonical form (must-show 2) and exact interpolation (must-show 3)."""

import pytest
import torch

from paramgen.backbones import build_backbone
from paramgen.errors import ParamgenError
from paramgen.families.lora import LoraSpec, apply_lora, attach_lora, lora_tensors
from paramgen.families.lora.algebra import canonicalize, delta_weights, interpolate

SPEC = LoraSpec(targets=("conv1", "conv2", "fc1"), rank=4, alpha=8.0)


def random_adapter(seed: int) -> dict[str, torch.Tensor]:
    backbone = build_backbone("digits-cnn", seed=0)  # seeds torch itself, so seed after it
    torch.manual_seed(seed)
    return lora_tensors(attach_lora(backbone, SPEC, random_init=True))


def regauged(tensors: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
    """(B·G, G⁻¹·A) per module: other factors, the same ΔW."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for name, a in tensors.items():
        if ".lora_A." not in name:
            continue
        b = tensors[name.replace("lora_A", "lora_B")]
        gauge = torch.randn(4, 4, generator=generator, dtype=torch.float64) + 3 * torch.eye(4)
        a2 = torch.linalg.solve(gauge, a.double().reshape(4, -1)).reshape(a.shape)
        b2 = (b.double().reshape(b.shape[0], 4) @ gauge).reshape(b.shape)
        out[name], out[name.replace("lora_A", "lora_B")] = a2.float(), b2.float()
    return out


def test_same_delta_from_two_factorisations_gives_the_same_stored_tensors():
    adapter = random_adapter(1)
    other = regauged(adapter, 7)
    assert max((adapter[k] - other[k]).abs().max() for k in adapter) > 0.1  # really other factors
    first, second = canonicalize(adapter, SPEC), canonicalize(other, SPEC)
    for name in adapter:
        assert first[name].shape == adapter[name].shape
        assert (first[name] - second[name]).abs().max() <= 1e-5, name


def test_canonical_tensors_give_the_same_outputs():
    backbone = build_backbone("digits-cnn", seed=0)
    adapter = random_adapter(2)
    images = torch.rand(32, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        original = apply_lora(backbone, SPEC, adapter)(images)
        canonical = apply_lora(backbone, SPEC, canonicalize(adapter, SPEC))(images)
    assert (original - canonical).abs().max() <= 1e-5


def test_canonicalize_is_idempotent_and_keeps_delta():
    adapter = random_adapter(3)
    once = canonicalize(adapter, SPEC)
    twice = canonicalize(once, SPEC)
    assert all(torch.allclose(once[k], twice[k], atol=1e-6) for k in once)
    for module, delta in delta_weights(adapter, SPEC).items():
        assert torch.allclose(delta_weights(once, SPEC)[module], delta, atol=1e-6)


def test_zero_adapter_stays_zero():
    zero = lora_tensors(attach_lora(build_backbone("digits-cnn"), SPEC))  # peft init: B = 0
    assert all(t.abs().max() == 0 for t in canonicalize(zero, SPEC).values())


@pytest.mark.parametrize("lam", [0.0, 0.25, 0.5, 0.9, 1.0])
def test_interpolation_is_exact_in_delta_w(lam):
    a, b = random_adapter(4), random_adapter(5)
    assert (a["fc1.lora_B.weight"] - b["fc1.lora_B.weight"]).abs().max() > 0.01
    mixed, spec = interpolate([a, b], [1 - lam, lam], SPEC)
    assert spec.rank == 8 and spec.scaling == 1.0
    got = delta_weights(mixed, spec)
    for module, delta_a in delta_weights(a, SPEC).items():
        target = (1 - lam) * delta_a + lam * delta_weights(b, SPEC)[module]
        relative = (got[module] - target).norm() / target.norm()
        assert relative <= 1e-6, (module, relative.item())


def test_factor_interpolation_is_not_delta_interpolation():
    """Why `interpolate` exists: mixing A and B separately misses the target ΔW badly."""
    a, b = random_adapter(4), random_adapter(5)
    naive = {k: 0.5 * a[k] + 0.5 * b[k] for k in a}
    module = "fc1"
    target = 0.5 * delta_weights(a, SPEC)[module] + 0.5 * delta_weights(b, SPEC)[module]
    error = (delta_weights(naive, SPEC)[module] - target).norm() / target.norm()
    assert error > 0.3


def test_interpolate_checks_its_arguments():
    with pytest.raises(ParamgenError, match="one weight per adapter"):
        interpolate([random_adapter(1)], [0.5, 0.5], SPEC)
