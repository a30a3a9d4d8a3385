"""UPerNet: the parameter arithmetic over ResNet50, written out in
MMSegmentation's `UPerHead` layout, and its options."""

import numpy as np
import pytest

import kerasseg
from tests.models.test_unet_encoders import RESNET50_NOTOP


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _conv_bn(k, cin, cout):
    return k * k * cin * cout + 2 * cout  # no bias; batch norm's γ, β


def test_upernet_resnet50_parameter_arithmetic():
    model = kerasseg.build("upernet_resnet50", num_classes=19)
    f = 512
    # Pyramid pooling: four 1×1 branches on P5 and a 3×3 bottleneck over
    # P5 and the branches.
    ppm = 4 * _conv_bn(1, 2048, f) + _conv_bn(3, 2048 + 4 * f, f)
    # Laterals on P2, P3, P4; a 3×3 FPN convolution on each; the fusion
    # over the four levels; the 1×1 head.
    laterals = sum(_conv_bn(1, c, f) for c in (256, 512, 1024))
    fpn = 3 * _conv_bn(3, f, f)
    fuse = _conv_bn(3, 4 * f, f)
    head = f * 19 + 19
    assert _trainable(model) == (
        RESNET50_NOTOP + ppm + laterals + fpn + fuse + head
    )


def test_upernet_at_any_size_and_without_a_stride_4_level():
    model = kerasseg.build("upernet_tiny", num_classes=2)
    for shape in ((1, 20, 28, 3), (2, 65, 97, 3)):
        assert model(np.zeros(shape, "float32")).shape == (*shape[:3], 2)
    with pytest.raises(ValueError, match="'P2' and a deeper level"):
        kerasseg.models.upernet(
            encoder="conv", encoder_options={"depth": 2}, filters=8
        )
