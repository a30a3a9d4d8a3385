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
