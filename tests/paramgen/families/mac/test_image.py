"""MAC on images: the low-pass conv coefficient net, the feature-MMD training loop, the Fréchet
distance module."""

import numpy as np
import pytest
import torch

from paramgen.backbones.digits_cnn import DigitsCNN
from paramgen.backbones.unet import DigitsUNet
from paramgen.data import load_digits16
from paramgen.errors import ParamgenError
from paramgen.families.mac import MacConvNet, gaussian_kernel
from paramgen.families.mac.training import euler_images, mac_images, rbf_mmd, train_mac_net
from paramgen.frechet import classifier_features, frechet_distance
from paramgen.paths import MacPath

pytestmark = pytest.mark.usefixtures("one_thread")


def noise(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def high_frequency_share(maps: torch.Tensor, cutoff: int = 8) -> float:
    """Share of the non-DC spectral energy of maps [..., H, W] at |k| ≥ cutoff cycles per 2H px
    (either axis), from the FFT of the mirrored map (a DCT): no jump at the borders to leak."""
    maps = torch.cat([maps, maps.flip(-1)], dim=-1)
    maps = torch.cat([maps, maps.flip(-2)], dim=-2)
    power = torch.fft.fft2(maps - maps.mean(dim=(-2, -1), keepdim=True)).abs().square()
    k = torch.fft.fftfreq(maps.shape[-1], d=1 / maps.shape[-1]).abs()
    high = (k[:, None] >= cutoff) | (k[None, :] >= cutoff)
    return (power[..., high].sum() / power.sum()).item()


@pytest.mark.parametrize("channels", [1, 3])
def test_conv_net_layout_bound_and_size(channels):
    torch.manual_seed(0)
    net = MacConvNet(channels=channels, basis_size=4, scale=0.1)
    w = net(noise(3, channels, 16, 16))
    assert w.shape == (3, 2, 4, channels, 16, 16)
    # renormalised per sample: every sample spans exactly [−scale, scale]
    flat = w.flatten(1)
    assert torch.allclose(flat.min(dim=1).values, torch.full((3,), -0.1))
    assert torch.allclose(flat.max(dim=1).values, torch.full((3,), 0.1))
    assert isinstance(net.path(noise(3, channels, 16, 16)), MacPath)
    assert 1_000 < sum(p.numel() for p in net.parameters()) < 20_000
    unnormalised = MacConvNet(channels=channels, renormalise=False)
    assert unnormalised(noise(3, channels, 16, 16)).abs().max() <= 0.05


def test_conv_net_output_is_low_pass():
    torch.manual_seed(0)
    net = MacConvNet(hidden=8)
    x = noise(4, 1, 16, 16)
    with torch.no_grad():
        raw = torch.tanh(net.out(net.body(x)))
        smooth = net(x).flatten(1, 3)
    assert high_frequency_share(raw) > 0.3  # noise in → rough maps out of the conv net
    assert high_frequency_share(smooth) < 1e-2 * high_frequency_share(raw)


def test_gaussian_kernel_taps():
    taps = gaussian_kernel(2.0, 9)
    assert taps.shape == (9,) and taps.sum().item() == pytest.approx(1.0)
    assert torch.equal(taps, taps.flip(0)) and taps.argmax() == 4


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kernel": 8}, "kernel"),
        ({"sigma": 0.0}, "sigma"),
        ({"channels": 0}, "channels"),
        ({"hidden": 2.5}, "hidden"),
    ],
)
def test_bad_conv_net_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(ParamgenError, match=message):
        MacConvNet(**kwargs)


def test_conv_net_refuses_the_wrong_input():
    net = MacConvNet(channels=1)
    with pytest.raises(ParamgenError, match="channels=1"):
        net(noise(2, 3, 16, 16))
    with pytest.raises(ParamgenError, match="kernel"):
        net(noise(2, 1, 4, 4))


def test_mmd_is_zero_on_identical_sets_and_positive_otherwise():
    x = noise(32, 5)
    assert rbf_mmd(x, x, [1.0]).item() == pytest.approx(0.0, abs=1e-6)
    assert rbf_mmd(x, x + 1.0, [0.5, 1.0]).item() > 0.01


def test_training_moves_only_the_coefficient_net():
    torch.manual_seed(0)
    velocity, classifier = DigitsUNet(channels=8), DigitsCNN()
    net = MacConvNet(hidden=4, depth=1)
    before = [p.detach().clone() for p in net.parameters()]
    frozen = [p.detach().clone() for p in velocity.parameters()]
    data = load_digits16("train")
    train_mac_net(net, velocity, classifier, data, nfe=2, iterations=2, lr=1e-2, batch_size=4)
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(frozen, velocity.parameters(), strict=True))
    x = noise(3, 1, 16, 16)
    with torch.no_grad():
        images = mac_images(net, velocity, x, 2)
    assert images.shape == (3, 1, 16, 16) and 0 <= images.min() and images.max() <= 1
    # w = 0 is the linear path: a net with scale → 0 gives plain Euler
    tiny = MacConvNet(hidden=4, depth=1, scale=1e-12)
    with torch.no_grad():
        assert torch.allclose(mac_images(tiny, velocity, x, 2), euler_images(velocity, x, 2))
    with pytest.raises(ParamgenError, match="nfe"):
        train_mac_net(net, velocity, classifier, data, nfe=0, iterations=1, lr=1e-2)
    with pytest.raises(ParamgenError, match="nfe"):
        train_mac_net(net, velocity, classifier, data, nfe=(2, 0), iterations=1, lr=1e-2)
    # several NFEs: one per minibatch, in turn
    train_mac_net(net, velocity, classifier, data, nfe=(1, 2), iterations=2, lr=1e-2, batch_size=4)


def test_frechet_distance_of_a_set_to_itself_is_zero_and_grows_with_a_shift():
    torch.manual_seed(0)
    classifier = DigitsCNN().eval()
    images = load_digits16("test").images[:200]
    a = classifier_features(classifier, images)
    assert abs(frechet_distance(a, a)) < 1e-6
    gaussian = np.random.default_rng(0).normal(size=(500, 3))
    assert frechet_distance(gaussian, gaussian + 2.0) == pytest.approx(12.0, rel=0.05)
