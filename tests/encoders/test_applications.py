"""Encoders over keras.applications: structure, dilation, weights."""

import urllib.error

import h5py
import keras
import numpy as np
import pytest
from keras.src.backend import config as keras_config
from keras.src.legacy.saving import legacy_h5_format
from keras.src.utils import file_utils

import kerasseg
from kerasseg.encoders import get_encoder

APPLICATIONS = {
    "convnexttiny": keras.applications.ConvNeXtTiny,
    "densenet121": keras.applications.DenseNet121,
    "resnet50": keras.applications.ResNet50,
    "resnet50v2": keras.applications.ResNet50V2,
    "mobilenetv2": keras.applications.MobileNetV2,
    "mobilenetv3small": keras.applications.MobileNetV3Small,
    "mobilenetv3large": keras.applications.MobileNetV3Large,
    "efficientnetb0": keras.applications.EfficientNetB0,
    "efficientnetv2b0": keras.applications.EfficientNetV2B0,
    "efficientnetv2s": keras.applications.EfficientNetV2S,
    "vgg16": keras.applications.VGG16,
}
# Built in the second tier only: 3–28 M parameters each.
SLOW = {"convnexttiny", "mobilenetv3large", "efficientnetv2s"}
# Small variants keep the slower checks fast; MobileNetV3Small without
# squeeze-and-excitation, whose global pooling makes a dilated network
# differ from the plain one.
OPTIONS = {
    "mobilenetv2": {"alpha": 0.35},
    "mobilenetv3small": {"minimalistic": True},
}


def _features(encoder, x):
    return {k: np.asarray(v) for k, v in encoder(x, training=False).items()}


def _pixels(shape, seed=0):
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


@pytest.mark.parametrize("channels", [3, 1])
@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
        for n in sorted(APPLICATIONS)
    ],
)
def test_parameter_count_equals_the_application_without_top(name, channels):
    encoder = get_encoder(name, (None, None, channels))
    application = APPLICATIONS[name](
        include_top=False, weights=None, input_shape=(None, None, channels)
    )
    assert encoder.count_params() == application.count_params()
    assert encoder.name == "encoder"


# A dilated network computes the undilated network's output on a finer
# grid (the "à trous" algorithm), so sampling it at the right offset must
# give the original deepest features exactly. ResNet50's strided 1×1
# convolutions read pixel 2i (offset 0); MobileNetV2 pads (0, 1) before its
# strided 3×3 convolutions, so its output i is centred on 2i + 1.
@pytest.mark.parametrize(
    "name, output_stride, offset",
    [
        pytest.param("resnet50", 16, 0, marks=pytest.mark.slow),
        pytest.param("resnet50", 8, 0, marks=pytest.mark.slow),
        # ResNetV2's strided 3×3 convolutions pad 1 on each side and its
        # shortcuts are 1×1 max pooling: both centred on 2i. (DenseNet at
        # stride 16: the last transition's 2×2 average starts at 2i; at
        # stride 8 the next pooling is not dilated, so not exact.)
        pytest.param("resnet50v2", 16, 0, marks=pytest.mark.slow),
        pytest.param("resnet50v2", 8, 0, marks=pytest.mark.slow),
        ("densenet121", 16, 0),
        ("mobilenetv2", 16, 1),
        ("mobilenetv2", 8, 3),
        # MobileNetV3 pads its strided depthwise convolutions as V2 does.
        ("mobilenetv3small", 16, 1),
        ("mobilenetv3small", 8, 3),
        # ConvNeXt's 2×2 convolutions of stride 2 read 2i and 2i + 1: at
        # stride 1 'same' pads after, so output 2i is the original's i; the
        # next one, dilated by 2, pads one on each side and reads 2i - 1
        # and 2i + 1, so the stride-8 grid is one step off.
        pytest.param("convnexttiny", 16, 0, marks=pytest.mark.slow),
        pytest.param("convnexttiny", 8, 1, marks=pytest.mark.slow),
    ],
)
def test_dilation_keeps_the_weights_and_computes_the_same_features(
    name, output_stride, offset
):
    options = OPTIONS.get(name, {})
    plain = get_encoder(name, (None, None, 3), **options)
    dilated = get_encoder(
        name, (None, None, 3), output_stride=output_stride, **options
    )
    assert [w.shape for w in dilated.weights] == [
        w.shape for w in plain.weights
    ]
    dilated.set_weights(plain.get_weights())
    x = _pixels((2, 64, 96, 3))
    reference = _features(plain, x)["P5"]
    step = 32 // output_stride
    deepest = _features(dilated, x)[f"P{5 - step // 2}"]
    sampled = deepest[:, offset::step, offset::step]
    np.testing.assert_allclose(sampled, reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "name, preprocess",
    [
        ("resnet50", keras.applications.resnet50.preprocess_input),
        ("vgg16", keras.applications.vgg16.preprocess_input),
        ("mobilenetv2", keras.applications.mobilenet_v2.preprocess_input),
        ("densenet121", keras.applications.densenet.preprocess_input),
        # keras.applications' MobileNetV3 and EfficientNetV2 preprocess in
        # the model (their preprocess_input returns its input): the
        # encoder's own layer must compute what theirs does.
        ("mobilenetv3small", keras.applications.mobilenet_v3.preprocess_input),
        (
            "efficientnetv2b0",
            keras.applications.efficientnet_v2.preprocess_input,
        ),
        pytest.param(
            "efficientnetv2s",
            keras.applications.efficientnet_v2.preprocess_input,
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "convnexttiny",
            keras.applications.convnext.preprocess_input,
            marks=pytest.mark.slow,
        ),
        pytest.param(
            "resnet50v2",
            keras.applications.resnet_v2.preprocess_input,
            marks=pytest.mark.slow,
        ),
    ],
)
def test_preprocessing_in_the_graph_equals_keras_preprocess_input(
    name, preprocess
):
    # The encoder takes raw pixels; keras.applications' model takes the
    # output of its preprocess_input. Same weights → same features.
    options = OPTIONS.get(name, {})
    encoder = get_encoder(name, (None, None, 3), **options)
    application = APPLICATIONS[name](
        include_top=False, weights=None, input_shape=(None, None, 3), **options
    )
    application.set_weights(encoder.get_weights())
    x = _pixels((2, 64, 64, 3))
    expected = np.asarray(application(preprocess(x.copy()), training=False))
    np.testing.assert_allclose(
        _features(encoder, x)["P5"], expected, rtol=1e-4, atol=1e-4
    )


@pytest.fixture
def application_weights_file(tmp_path):
    """Writes random weights in keras.applications' .h5 format."""

    def write(name, **options):
        keras.utils.set_random_seed(7)
        model = APPLICATIONS[name](
            include_top=False,
            weights=None,
            input_shape=(None, None, 3),
            **options,
        )
        # Random, non-trivial statistics for the normalization layers too.
        for layer in model.layers:
            # (EfficientNetV2's has fixed statistics, not variables.)
            if isinstance(layer, keras.layers.Normalization) and hasattr(
                layer, "adapt_mean"
            ):
                layer.adapt_mean.assign([0.4, 0.5, 0.6])
                layer.adapt_variance.assign([0.2, 0.25, 0.3])
                layer.finalize_state()
        path = tmp_path / f"{name}_notop.h5"
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
        return model, path

    return write


@pytest.fixture
def offline_imagenet(monkeypatch):
    """Serves a local file wherever keras.applications downloads weights."""
    calls = []

    def serve(path):
        def get_file(fname, origin, *args, **kwargs):
            calls.append(kwargs)
            return str(path)

        monkeypatch.setattr(file_utils, "get_file", get_file)
        return calls

    return serve


# The second tier; the default run loads ImageNet weights offline in
# test_efficientnet_imagenet_encoder_equals_keras_imagenet_model.
@pytest.mark.slow
def test_imagenet_weights_load_through_keras_applications(
    application_weights_file, offline_imagenet
):
    reference, path = application_weights_file("resnet50")
    calls = offline_imagenet(path)
    encoder = get_encoder("resnet50", (None, None, 3), weights="imagenet")
    assert calls and calls[0].get("file_hash"), "no hash check requested"
    x = _pixels((1, 64, 64, 3))
    expected = reference(
        keras.applications.resnet50.preprocess_input(x.copy()), training=False
    )
    np.testing.assert_allclose(
        _features(encoder, x)["P5"], expected, rtol=1e-4, atol=1e-4
    )


def test_efficientnet_imagenet_encoder_equals_keras_imagenet_model(
    application_weights_file, offline_imagenet
):
    # keras.applications builds EfficientNet's "imagenet" graph with an
    # extra Rescaling layer; the encoder folds it into the normalization.
    _, path = application_weights_file("efficientnetb0")
    offline_imagenet(path)
    keras_model = keras.applications.EfficientNetB0(
        include_top=False, weights="imagenet", input_shape=(None, None, 3)
    )
    encoder = get_encoder("efficientnetb0", (None, None, 3), weights="imagenet")
    x = _pixels((1, 64, 64, 3))
    np.testing.assert_allclose(
        _features(encoder, x)["P5"],
        np.asarray(keras_model(x, training=False)),
        rtol=1e-4,
        atol=1e-4,
    )


@pytest.mark.parametrize("name", ["resnet50", "efficientnetb0"])
@pytest.mark.slow
def test_weights_file_saved_earlier_gives_identical_features(name, tmp_path):
    encoder = get_encoder(name, (None, None, 3), output_stride=16)
    path = tmp_path / "encoder.weights.h5"
    encoder.save_weights(path)
    keras.utils.set_random_seed(123)  # a different random init
    again = get_encoder(name, (None, None, 3), output_stride=16, weights=path)
    x = _pixels((1, 64, 64, 3))
    first, second = _features(encoder, x), _features(again, x)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


@pytest.mark.parametrize(
    "name, options, preprocess",
    [
        (
            "mobilenetv2",
            {"alpha": 0.35},
            keras.applications.mobilenet_v2.preprocess_input,
        ),
        # keras.applications' model with its own preprocessing, written
        # with it; the encoder's backbone has none (its own layer instead).
        ("mobilenetv3small", {}, None),
        ("efficientnetv2b0", {}, None),
        pytest.param("convnexttiny", {}, None, marks=pytest.mark.slow),
    ],
)
def test_application_file_path_loads_like_imagenet(
    application_weights_file, name, options, preprocess
):
    reference, path = application_weights_file(name, **options)
    encoder = get_encoder(name, (None, None, 3), weights=str(path), **options)
    x = _pixels((1, 64, 64, 3))
    expected = reference(
        preprocess(x.copy()) if preprocess else x, training=False
    )
    np.testing.assert_allclose(
        _features(encoder, x)["P5"], expected, rtol=1e-4, atol=1e-4
    )


def test_one_channel_adaptation_sees_a_grey_image_as_grey_rgb(
    application_weights_file,
):
    # Summing the pretrained kernel over RGB: a 1-channel image gives what
    # the 3-channel model gives for the same image repeated on R, G and B.
    _, path = application_weights_file("mobilenetv2", alpha=0.35)
    rgb = get_encoder("mobilenetv2", (None, None, 3), weights=path, alpha=0.35)
    grey = get_encoder("mobilenetv2", (None, None, 1), weights=path, alpha=0.35)
    x = _pixels((1, 64, 64, 1))
    np.testing.assert_allclose(
        _features(grey, x)["P5"],
        _features(rgb, np.repeat(x, 3, axis=-1))["P5"],
        rtol=1e-3,
        atol=1e-3,
    )


@pytest.mark.slow
def test_six_channel_adaptation_cycles_rgb(application_weights_file):
    # Cycling the kernel (scaled by 3/6) and the BGR means: channels 3–5
    # are read as B, G, R, so the image [R, G, B, B, G, R] must give the
    # 3-channel model's output for [R, G, B].
    _, path = application_weights_file("resnet50")
    rgb = get_encoder("resnet50", (None, None, 3), weights=path)
    six = get_encoder("resnet50", (None, None, 6), weights=path)
    x = _pixels((1, 64, 64, 3))
    stacked = np.concatenate([x, x[..., ::-1]], axis=-1)
    np.testing.assert_allclose(
        _features(six, stacked)["P5"],
        _features(rgb, x)["P5"],
        rtol=1e-3,
        atol=1e-3,
    )


def test_failed_download_says_what_to_do(monkeypatch, tmp_path):
    def no_network(*args, **kwargs):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", no_network)
    with pytest.raises(RuntimeError) as error:
        get_encoder("vgg16", (None, None, 3), weights="imagenet")
    message = str(error.value)
    assert "URL fetch failure" in message and "no network here" in message
    assert "encoder_weights='path/to/weights.h5'" in message
    assert "~/.keras/models" in message


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"weights": "missing.h5"}, FileNotFoundError, "missing.h5"),
        ({"weights": 3}, ValueError, "encoder_weights=3"),
        ({"output_stride": 4}, ValueError, "output_stride=4"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        get_encoder("vgg16", (None, None, 3), **kwargs)


def test_conv_encoder_refuses_imagenet_and_output_stride():
    with pytest.raises(ValueError, match="no ImageNet weights"):
        get_encoder("conv", (None, None, 3), weights="imagenet")
    with pytest.raises(ValueError, match="output_stride=16"):
        get_encoder("conv", (None, None, 3), output_stride=16)
    with pytest.raises(ValueError, match="Unknown encoder 'resnet200'"):
        get_encoder("resnet200", (None, None, 3))


def test_unknown_encoder_options_are_named():
    with pytest.raises(ValueError, match=r"no option\(s\) \['depth'\]"):
        get_encoder("resnet50", (None, None, 3), depth=4)
    with pytest.raises(
        ValueError, match=r"accepts \['alpha', 'batch_norm_momentum'\]"
    ):
        get_encoder("mobilenetv2", (None, None, 3), width=2)


def test_preprocessing_layer_equals_keras_preprocess_input():
    x = _pixels((2, 5, 7, 3))
    for style, mode in [("caffe", "caffe"), ("tf", "tf")]:
        layer = kerasseg.layers.ImageNetPreprocessing(style)
        expected = keras.applications.imagenet_utils.preprocess_input(
            x.copy(), mode=mode
        )
        np.testing.assert_allclose(
            np.asarray(layer(x)), expected, rtol=1e-5, atol=1e-6
        )


# One application in the default run, the other two in the second tier.
@pytest.mark.parametrize(
    "name",
    [
        "mobilenetv2",
        pytest.param("resnet50", marks=pytest.mark.slow),
        pytest.param("efficientnetb0", marks=pytest.mark.slow),
    ],
)
def test_batch_norm_momentum_is_set_on_every_statistic(name):
    options = OPTIONS.get(name, {})
    plain = get_encoder(name, (None, None, 3), **options)
    fast = get_encoder(
        name, (None, None, 3), batch_norm_momentum=0.9, **options
    )

    def norms(model):
        out = []
        for layer in model._flatten_layers():
            if isinstance(layer, keras.layers.BatchNormalization):
                out.append(layer)
        return out

    assert norms(fast) and {bn.momentum for bn in norms(fast)} == {0.9}
    assert {bn.momentum for bn in norms(plain)} != {0.9}
    # Only the statistics' update rule changes: same weights, same outputs.
    fast.set_weights(plain.get_weights())
    x = _pixels((1, 64, 64, 3))
    for key, value in _features(plain, x).items():
        np.testing.assert_allclose(_features(fast, x)[key], value, atol=1e-5)
    with pytest.raises(ValueError, match="batch_norm_momentum"):
        get_encoder(name, (None, None, 3), batch_norm_momentum=1.0, **options)
