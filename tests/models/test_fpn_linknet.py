"""FPN and LinkNet: parameter arithmetic over the ResNets, written out
layer by layer in segmentation_models.pytorch's layout, and the options."""

import numpy as np
import pytest

import kerasseg
from tests.models.test_unet_encoders import RESNET50_NOTOP
from tests.models.test_unet_encoders import TORCHVISION_NOTOP

# Encoder channels P1 … P5.
LEVELS = {
    "resnet34": (64, 64, 128, 256, 512),
    "resnet50": (64, 256, 512, 1024, 2048),
}
NOTOP = {"resnet34": TORCHVISION_NOTOP["resnet34"], "resnet50": RESNET50_NOTOP}


def _trainable(model):
    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def _fpn_decoder(levels, pyramid=256, seg=128):
    """Laterals (1×1 with bias) on P2 … P5; per level, as many 3×3
    convolutions without bias + GroupNorm (γ, β) as 2× steps to stride 4
    (one for P2)."""
    p2_to_p5 = levels[1:]
    count = sum(c * pyramid + pyramid for c in p2_to_p5)
    for level in (2, 3, 4, 5):
        convs = max(1, level - 2)
        count += 9 * pyramid * seg + 2 * seg
        count += (convs - 1) * (9 * seg * seg + 2 * seg)
    return count


def _linknet_decoder(levels, final=32):
    """Blocks from P5 down: 1×1 to a quarter (no bias, BN), 4×4 transposed
    convolution (bias, BN), 1×1 to the next level's width (no bias, BN);
    the last block goes to `final` channels."""
    count = 0
    widths = list(levels[::-1]) + [final]
    for c, out in zip(widths, widths[1:]):
        q = c // 4
        count += c * q + 2 * q
        count += 16 * q * q + q + 2 * q
        count += q * out + 2 * out
    return count


@pytest.mark.parametrize("encoder", ["resnet34", "resnet50"])
def test_fpn_parameter_arithmetic(encoder):
    model = kerasseg.build(f"fpn_{encoder}", num_classes=5)
    head = 128 * 5 + 5
    assert _trainable(model) == (
        NOTOP[encoder] + _fpn_decoder(LEVELS[encoder]) + head
    )


@pytest.mark.parametrize("encoder", ["resnet34", "resnet50"])
def test_linknet_parameter_arithmetic(encoder):
    model = kerasseg.build(f"linknet_{encoder}", num_classes=2)
    head = 32 * 2 + 2
    assert _trainable(model) == (
        NOTOP[encoder] + _linknet_decoder(LEVELS[encoder]) + head
    )


def test_fpn_concat_merge_widens_the_head_input():
    kwargs = dict(
        num_classes=2,
        encoder="conv",
        encoder_options={"depth": 4, "base_filters": 4},
        pyramid_filters=8,
        segmentation_filters=8,
        norm_groups=4,
    )
    added = kerasseg.models.fpn(**kwargs)
    joined = kerasseg.models.fpn(merge="concat", **kwargs)
    # Three levels (P2, P3, P4) concatenated: the 1×1 head reads 24
    # channels instead of 8.
    assert joined.count_params() - added.count_params() == (24 - 8) * 2
    assert joined(np.zeros((1, 40, 56, 3), "float32")).shape == (1, 40, 56, 2)


@pytest.mark.parametrize(
    "builder, kwargs, match",
    [
        ("fpn", {"norm_groups": 3}, "must divide"),
        ("fpn", {"merge": "max"}, "merge"),
        (
            "fpn",
            {"encoder": "conv", "encoder_options": {"depth": 2}},
            "'P2' and a deeper level",
        ),
        ("linknet", {"final_filters": 0}, "final_filters"),
    ],
)
def test_bad_options_are_refused(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(kerasseg.models, builder)(num_classes=2, **kwargs)
