"""PSPNet and adaptive average pooling: the pooling rule against a loop
over PyTorch's definition (and PyTorch itself where installed), the
parameter arithmetic over ResNet50, any input size, bad options."""

import numpy as np
import pytest

import kerasseg
from kerasseg import layers
from tests.models.test_unet_encoders import RESNET50_NOTOP


def _adaptive_reference(x, bins):
    """Cell (a, b) averages rows floor(a·H/n) … ceil((a+1)·H/n) - 1 and the
    same for columns."""
    n, h, w, c = x.shape
    out = np.zeros((n, bins, bins, c))
    for a in range(bins):
        r0, r1 = (a * h) // bins, -(-((a + 1) * h) // bins)
        for b in range(bins):
            c0, c1 = (b * w) // bins, -(-((b + 1) * w) // bins)
            out[:, a, b] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    return out


@pytest.mark.parametrize("bins", [1, 2, 3, 6])
@pytest.mark.parametrize("size", [(7, 5), (12, 12), (4, 3)])
def test_adaptive_pooling_follows_the_rule(bins, size):
    x = np.random.default_rng(0).normal(size=(2, *size, 3)).astype("float32")
    got = np.asarray(layers.AdaptiveAveragePooling2D(bins)(x))
    np.testing.assert_allclose(got, _adaptive_reference(x, bins), atol=1e-5)


def test_adaptive_pooling_equals_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is the reference")
    x = np.random.default_rng(1).normal(size=(2, 9, 13, 4)).astype("float32")
    for bins in (1, 2, 3, 6):
        want = torch.nn.functional.adaptive_avg_pool2d(
            torch.tensor(x).permute(0, 3, 1, 2), bins
        )
        got = np.asarray(layers.AdaptiveAveragePooling2D(bins)(x))
        np.testing.assert_allclose(
            got, want.permute(0, 2, 3, 1).numpy(), atol=1e-5
        )


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def test_pspnet_resnet50_parameter_arithmetic():
    model = kerasseg.build("pspnet_resnet50", num_classes=21)
    # Four 1×1 branches 2048 → 512 without bias, with batch norm; a 3×3
    # bottleneck over 2048 + 4·512 channels to 512; a 1×1 head.
    pyramid = 4 * (2048 * 512 + 2 * 512)
    bottleneck = 9 * (2048 + 4 * 512) * 512 + 2 * 512
    head = 512 * 21 + 21
    assert _trainable(model) == RESNET50_NOTOP + pyramid + bottleneck + head
    encoder = model.get_layer("encoder")
    assert max(encoder.output, key=kerasseg.encoders.stride_of) == "P3"


def test_pspnet_takes_maps_smaller_than_its_largest_bin():
    model = kerasseg.build("pspnet_tiny", num_classes=2)
    # 20×20 → an encoder map of 3×3 (stride 8), below the 6×6 bins.
    for shape in ((1, 20, 20, 3), (2, 65, 97, 3)):
        y = model(np.zeros(shape, "float32"))
        assert y.shape == (*shape[:3], 2)


@pytest.mark.parametrize(
    "bins, match",
    [(6, "list of grid sizes"), ([1, 1], "distinct"), ([0], "bins")],
)
def test_bad_bins_are_refused(bins, match):
    with pytest.raises(ValueError, match=match):
        kerasseg.build("pspnet_tiny", num_classes=2, bins=bins)
