"""Every decoder over every kind of encoder: each builder that takes
`encoder=` builds over the plain conv encoder, a native ResNet and a
keras.applications MobileNetV2, and gives an output of the input's size.
Parametrized over `kerasseg.models.__all__`, so a new builder with an
`encoder` argument is checked too."""

import inspect

import numpy as np
import pytest

import kerasseg

BUILDERS = sorted(
    name
    for name in kerasseg.models.__all__
    if "encoder" in inspect.signature(getattr(kerasseg.models, name)).parameters
)
U_NETS = {"unet", "attention_unet", "unetplusplus"}


def _options(builder, encoder):
    params = inspect.signature(getattr(kerasseg.models, builder)).parameters
    kwargs = {"encoder": encoder}
    if encoder == "conv":
        if builder in U_NETS:
            kwargs.update(depth=4, base_filters=4)
        else:
            kwargs["encoder_options"] = {"depth": 4, "base_filters": 4}
    elif encoder == "mobilenetv2":
        kwargs["encoder_options"] = {"alpha": 0.35}
    if "output_stride" in params and encoder == "conv":
        kwargs["output_stride"] = None
    if "atrous_rates" in params:
        kwargs["atrous_rates"] = (1, 2)
    for small in ("filters", "fc_filters", "pyramid_filters"):
        if small in params:
            kwargs[small] = 8
    if "segmentation_filters" in params:
        kwargs.update(segmentation_filters=8, norm_groups=4)
    if "fc_kernel_size" in params:
        kwargs["fc_kernel_size"] = 3
    if "num_labels" in params:
        kwargs["num_labels"] = 2
    return kwargs


def test_the_builders_with_an_encoder_argument():
    assert set(BUILDERS) >= {
        "deeplabv3",
        "deeplabv3plus",
        "fcn8s",
        "fpn",
        "linknet",
        "multitask_unet",
        "pspnet",
        "unet",
        "unetplusplus",
        "upernet",
    }


@pytest.mark.slow
@pytest.mark.parametrize("encoder", ["conv", "resnet18", "mobilenetv2"])
@pytest.mark.parametrize("builder", BUILDERS)
def test_every_builder_over_every_kind_of_encoder(builder, encoder):
    model = getattr(kerasseg.models, builder)(
        (None, None, 3), 2, **_options(builder, encoder)
    )
    x = np.random.default_rng(0).uniform(0, 255, (1, 64, 96, 3))
    y = model(x.astype("float32"))
    if isinstance(y, dict):  # multi-task: the mask output
        assert tuple(y["label"].shape) == (1, 2)
        y = y["mask"]
    assert tuple(y.shape) == (1, 64, 96, 2)
    assert np.isfinite(np.asarray(y)).all()
