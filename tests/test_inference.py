"""Test-time augmentation in the graph: the D4 layers against numpy, the
TTA model against the Python loop over the same transforms, its save and
reload, its exports against itself, and the inputs it refuses."""

import itertools

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.inference import TRANSFORM_SETS
from kerasseg.inference import tta
from kerasseg.layers.tta import D4

# Each transform written with numpy's own rotations and flips (axes 1, 2
# are height and width), and its inverse.
NUMPY = {
    "identity": (lambda a: a, lambda a: a),
    "flip_horizontal": (lambda a: a[:, :, ::-1], lambda a: a[:, :, ::-1]),
    "flip_vertical": (lambda a: a[:, ::-1], lambda a: a[:, ::-1]),
    "rotate_180": (
        lambda a: np.rot90(a, 2, axes=(1, 2)),
        lambda a: np.rot90(a, -2, axes=(1, 2)),
    ),
    "transpose": (
        lambda a: a.transpose(0, 2, 1, 3),
        lambda a: a.transpose(0, 2, 1, 3),
    ),
    "rotate_90": (
        lambda a: np.rot90(a, 1, axes=(1, 2)),
        lambda a: np.rot90(a, -1, axes=(1, 2)),
    ),
    "rotate_270": (
        lambda a: np.rot90(a, 3, axes=(1, 2)),
        lambda a: np.rot90(a, -3, axes=(1, 2)),
    ),
    "transverse": (
        lambda a: np.rot90(a, 2, axes=(1, 2)).transpose(0, 2, 1, 3),
        lambda a: np.rot90(a.transpose(0, 2, 1, 3), -2, axes=(1, 2)),
    ),
}


def _x(batch=2, height=12, width=17, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, height, width, channels)).astype(
        "float32"
    )


def test_numpy_table_covers_the_group():
    assert sorted(NUMPY) == sorted(D4)


@pytest.mark.parametrize("name", sorted(D4))
def test_each_transform_and_its_inverse_equal_numpy(name):
    x = _x()
    forward, inverse = NUMPY[name]
    moved = np.asarray(kerasseg.layers.D4Transform(name)(x))
    np.testing.assert_array_equal(moved, forward(x))
    back = kerasseg.layers.D4Transform(name, inverse=True)(moved)
    np.testing.assert_array_equal(np.asarray(back), x)
    np.testing.assert_array_equal(inverse(forward(x)), x)


def test_the_eight_transforms_are_distinct():
    x = _x(1, 5, 5, 1)
    seen = {np.asarray(kerasseg.layers.D4Transform(n)(x)).tobytes() for n in D4}
    assert len(seen) == 8


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _loop(model, x, names, prob, per_pixel=True, key=None):
    """The Python loop the in-graph TTA replaces: predict on each
    transformed image, map back, average probabilities."""
    total = 0.0
    for name in names:
        forward, inverse = NUMPY[name]
        out = model.predict(np.ascontiguousarray(forward(x)), verbose=0)
        out = out[key] if key else out
        p = prob(np.asarray(out, "float64"))
        total = total + (inverse(p) if per_pixel else p)
    return total / len(names)


@pytest.mark.parametrize(
    "transforms", ["flips", pytest.param("d4", marks=pytest.mark.slow)]
)
def test_tta_equals_the_python_loop_for_logits(transforms):
    model = kerasseg.build("unet_tiny", num_classes=3)
    augmented = tta(model, transforms)
    x = _x()
    got = _softmax(np.asarray(augmented.predict(x, verbose=0), "float64"))
    want = _loop(model, x, TRANSFORM_SETS[transforms], _softmax)
    np.testing.assert_allclose(got, want, atol=1e-5)
    described = kerasseg.outputs.describe(augmented)
    assert described == kerasseg.outputs.describe(model)


@pytest.mark.slow
def test_tta_of_a_binary_model_with_a_sigmoid_head_stays_probabilities():
    model = kerasseg.build(
        "unet_tiny",
        num_classes=1,
        activation="sigmoid",
        input_shape=(None, None, 1),
    )
    augmented = tta(model, ["identity", "rotate_90", "transverse"])
    x = _x(channels=1)
    got = augmented.predict(x, verbose=0)
    want = _loop(model, x, ["identity", "rotate_90", "transverse"], lambda p: p)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert kerasseg.outputs.describe(augmented)[0].activation is None


@pytest.mark.slow
def test_tta_of_a_multitask_model_merges_each_output_by_its_kind():
    model = kerasseg.build(
        "multitask_unet_tiny",
        num_classes=3,
        num_labels=2,
        label_mode="multilabel",
    )
    augmented = tta(model, ["identity", "rotate_90", "flip_vertical"])
    x = _x(height=16, width=16)
    got = augmented.predict(x, verbose=0)
    names = ["identity", "rotate_90", "flip_vertical"]
    np.testing.assert_allclose(
        _softmax(np.asarray(got["mask"], "float64")),
        _loop(model, x, names, _softmax, key="mask"),
        atol=1e-5,
    )
    np.testing.assert_allclose(  # image-level: not transformed back
        _sigmoid(np.asarray(got["label"], "float64")),
        _loop(model, x, names, _sigmoid, per_pixel=False, key="label"),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        got["reconstruction"],
        _loop(model, x, names, lambda v: v, key="reconstruction"),
        atol=1e-3,  # 0–255 images
    )
    assert [o.kind for o in kerasseg.outputs.describe(augmented)] == [
        o.kind for o in kerasseg.outputs.describe(model)
    ]


def _resize(a, height, width):
    """tf.image.resize's half-pixel bilinear (no antialiasing): the
    independent reference of `kerasseg.layers.ResizeBy`."""
    import tensorflow as tf

    return tf.image.resize(
        np.asarray(a, "float32"), (height, width), method="bilinear"
    ).numpy()


def _multiscale_loop(model, x, scales, names, prob):
    """The Python loop over scales and transforms: resize the image (to
    floor(h·s + 0.5) × floor(w·s + 0.5)), transform, predict, map back,
    resize the logits to the image, average probabilities."""
    height, width = x.shape[1:3]
    total = 0.0
    for scale in scales:
        size = (int(height * scale + 0.5), int(width * scale + 0.5))
        small = _resize(x, *size) if scale != 1 else x
        for name in names:
            forward, inverse = NUMPY[name]
            out = model.predict(np.ascontiguousarray(forward(small)), verbose=0)
            out = inverse(np.asarray(out, "float64"))
            if scale != 1:
                out = _resize(out, height, width).astype("float64")
            total = total + prob(out)
    return total / (len(scales) * len(names))


@pytest.mark.parametrize(
    "size, names",
    [
        ((12, 17), ["identity", "flip_horizontal"]),
        pytest.param((20, 14), TRANSFORM_SETS["d4"], marks=pytest.mark.slow),
    ],
)
def test_multiscale_tta_equals_the_python_loop(size, names, tmp_path):
    model = kerasseg.build("unet_tiny", num_classes=3)
    scales = (0.75, 1.0, 1.5)
    augmented = tta(model, names, scales=scales)
    x = _x(height=size[0], width=size[1])
    got = _softmax(np.asarray(augmented.predict(x, verbose=0), "float64"))
    want = _multiscale_loop(model, x, scales, names, _softmax)
    assert got.shape == (2, *size, 3)
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert kerasseg.outputs.describe(augmented) == (
        kerasseg.outputs.describe(model)
    )
    # Saved and reloaded in safe mode, it predicts the same.
    augmented.save(tmp_path / "multiscale.keras")
    reloaded = keras.saving.load_model(
        tmp_path / "multiscale.keras", safe_mode=True
    )
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0),
        augmented.predict(x, verbose=0),
        atol=1e-6,
    )


def test_resize_by_equals_tensorflow_and_keeps_unknown_sizes(tmp_path):
    x = np.random.default_rng(3).normal(size=(2, 37, 50, 3)).astype("float32")
    for scale in (0.5, 0.75, 1.25, 2.0, 0.33):
        layer = kerasseg.layers.ResizeBy(scale)
        got = np.asarray(layer(x))
        size = (int(37 * scale + 0.5), int(50 * scale + 0.5))
        assert got.shape == (2, *size, 3)
        np.testing.assert_allclose(got, _resize(x, *size), atol=1e-5)
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, kerasseg.layers.ResizeBy(0.5)(inputs))
    assert model.output.shape == (None, None, None, 3)
    model.save(tmp_path / "resize.keras")
    reloaded = keras.saving.load_model(tmp_path / "resize.keras")
    np.testing.assert_allclose(reloaded(x), model(x), atol=1e-6)
    for bad in (0, -1.0, "2", True):
        with pytest.raises(ValueError, match="`scale` must be a number > 0"):
            kerasseg.layers.ResizeBy(bad)


@pytest.mark.parametrize(
    "scales, message",
    [
        ((), "non-empty list"),
        ((1.0, 0.0), "non-empty list"),
        (("big",), "non-empty list"),
        ((1.0, 1.0), "lists a scale twice"),
    ],
)
def test_bad_scales_are_named(scales, message):
    model = kerasseg.build("unet_tiny", num_classes=2)
    with pytest.raises(ValueError, match=message):
        tta(model, "flips", scales=scales)


def test_scaling_a_fixed_input_is_refused():
    model = kerasseg.build("unet_tiny", num_classes=2, input_shape=(16, 16, 3))
    with pytest.raises(ValueError, match=r"scales \[0.5\]"):
        tta(model, "flips", scales=(0.5, 1.0))


def test_tta_model_saves_and_reloads_in_safe_mode(tmp_path):
    model = kerasseg.build("unet_tiny", num_classes=3)
    augmented = tta(model, ["identity", "transverse"])
    path = tmp_path / "tta.keras"
    augmented.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    x = _x()
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0),
        augmented.predict(x, verbose=0),
        atol=1e-6,
    )


@pytest.mark.slow
def test_tta_exports_equal_the_tta_model(tmp_path):
    import tensorflow as tf

    from kerasseg import export
    from tests.export.test_convert import run_tflite

    model = kerasseg.build("unet_tiny", num_classes=3)
    augmented = tta(model, "flips")
    x = _x(height=16, width=24)
    want = _softmax(np.asarray(augmented.predict(x, verbose=0), "float64"))
    plain = _softmax(np.asarray(model.predict(x, verbose=0), "float64"))
    # One SavedModel: the plain model as serving_default, the TTA model as
    # serve_tta, on the same variables.
    path = export.saved_model(model, tmp_path / "serving", tta="flips")
    signatures = tf.saved_model.load(path).signatures
    assert {"serving_default", "serve_tta"} <= set(signatures)
    served = signatures["serve_tta"](images=tf.constant(x))
    np.testing.assert_allclose(served["probabilities"], want, atol=1e-5)
    np.testing.assert_array_equal(served["class_ids"], want.argmax(-1))
    served = signatures["serving_default"](images=tf.constant(x))
    np.testing.assert_allclose(served["probabilities"], plain, atol=1e-5)
    with pytest.raises(ValueError, match="Unknown transform 'spin'"):
        export.saved_model(model, tmp_path / "bad", tta=["identity", "spin"])
    assert not (tmp_path / "bad").exists()
    lite = export.export(augmented, tmp_path / "lite", format="tflite")
    (logits,) = run_tflite(lite, x)
    np.testing.assert_allclose(_softmax(logits), want, atol=1e-4)


@pytest.mark.parametrize(
    "transforms, message",
    [
        ("rotations", "must be one of"),
        (["identity", "spin"], "Unknown transform 'spin'"),
        (["identity", "identity"], "lists a transform twice"),
        ([], "is empty"),
    ],
)
def test_bad_transforms_are_named(transforms, message):
    model = kerasseg.build("unet_tiny", num_classes=2)
    with pytest.raises(ValueError, match=message):
        tta(model, transforms)


def test_bad_merge_is_named():
    model = kerasseg.build("unet_tiny", num_classes=2)
    with pytest.raises(ValueError, match="merge"):
        tta(model, merge="median")


def test_transposing_a_fixed_non_square_input_is_refused():
    model = kerasseg.build("unet_tiny", num_classes=2, input_shape=(16, 24, 3))
    with pytest.raises(ValueError, match="16×24 input"):
        tta(model, "d4")
    assert tta(model, "flips").output.shape == (None, 16, 24, 2)


@pytest.mark.slow
def test_every_merge_of_two_transforms_is_their_mean():
    # Pairwise: the merge is the mean of exactly the listed predictions.
    model = kerasseg.build("unet_tiny", num_classes=2)
    x = _x(1)
    for pair in itertools.combinations(
        ["identity", "rotate_90", "flip_vertical"], 2
    ):
        got = _softmax(
            np.asarray(tta(model, list(pair)).predict(x, verbose=0), "float64")
        )
        np.testing.assert_allclose(
            got, _loop(model, x, pair, _softmax), atol=1e-5
        )


@pytest.mark.slow
def test_cli_predict_and_export_take_tta(tmp_path, capsys):
    import tensorflow as tf
    from PIL import Image

    from kerasseg import cli

    model = kerasseg.build("unet_tiny", num_classes=3)
    model.save(tmp_path / "unet.keras")
    image = _x(1, 24, 20)[0].astype("uint8")
    Image.fromarray(image).save(tmp_path / "a.png")
    out = tmp_path / "masks"
    argv = ["predict", str(tmp_path / "unet.keras"), str(tmp_path / "a.png")]
    assert cli.main([*argv, "--out", str(out), "--tta", "d4"]) == 0
    ids = np.asarray(Image.open(out / "a.png"))
    want = _loop(
        model, image[None].astype("float32"), TRANSFORM_SETS["d4"], _softmax
    )
    np.testing.assert_array_equal(ids, want[0].argmax(-1))
    capsys.readouterr()
    serving = tmp_path / "serving"
    export_argv = [
        "export",
        str(tmp_path / "unet.keras"),
        "--out",
        str(serving),
    ]
    assert cli.main([*export_argv, "--tta", "flips"]) == 0
    path = capsys.readouterr().out.strip()
    signatures = tf.saved_model.load(path).signatures
    answer = signatures["serve_tta"](
        images=tf.constant(image[None], tf.float32)
    )
    want = _loop(
        model, image[None].astype("float32"), TRANSFORM_SETS["flips"], _softmax
    )
    np.testing.assert_allclose(answer["probabilities"], want, atol=1e-5)
    plain = signatures["serving_default"](
        images=tf.constant(image[None], tf.float32)
    )
    want = _softmax(np.asarray(model.predict(image[None], verbose=0), "f8"))
    np.testing.assert_allclose(plain["probabilities"], want, atol=1e-5)
    # Scales: a multi-scale serve_tta beside the plain model.
    capsys.readouterr()
    scales_argv = ["--tta", "flips", "--tta-scales", "0.75", "1", "1.5"]
    assert cli.main([*export_argv, *scales_argv]) == 0
    path = capsys.readouterr().out.strip()
    answer = tf.saved_model.load(path).signatures["serve_tta"](
        images=tf.constant(image[None], tf.float32)
    )
    want = _multiscale_loop(
        model,
        image[None].astype("float32"),
        (0.75, 1.0, 1.5),
        TRANSFORM_SETS["flips"],
        _softmax,
    )
    np.testing.assert_allclose(answer["probabilities"], want, atol=1e-5)


def test_cli_refuses_bad_tta_scales_before_loading_the_model(tmp_path, capsys):
    from kerasseg import cli

    missing = str(tmp_path / "absent.keras")  # never read: scales fail first
    for command in (
        ["predict", missing, missing, "--out", str(tmp_path / "o")],
        ["export", missing, "--out", str(tmp_path / "e")],
    ):
        assert cli.main([*command, "--tta-scales", "1", "0"]) == 2
        err = capsys.readouterr().err
        assert "`scales` must be a non-empty list of numbers > 0" in err
    assert not (tmp_path / "o").exists() and not (tmp_path / "e").exists()


def test_scales_without_transforms_are_refused_by_the_export(tmp_path):
    from kerasseg import export

    model = kerasseg.build("unet_tiny", num_classes=2)
    with pytest.raises(ValueError, match="tta_scales=.*needs `tta`"):
        export.saved_model(model, tmp_path / "s", tta_scales=(0.5, 1.0))
    assert not (tmp_path / "s").exists()
