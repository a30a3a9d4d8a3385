"""SavedModel export: TF Serving layout, signatures, and parity with Keras.

Parity is checked against the Keras model itself: `probabilities` against
a softmax/sigmoid of its outputs (numpy), `class_ids` against their argmax.
"""

import base64
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg import export
from tests.models import harness

SIZES = [(2, 64, 64), (3, 40, 72)]


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def expected(model, images, task="segmentation", multilabel=()):
    """The serving answer computed from the Keras model with numpy; the
    outputs keyed in `multilabel` are independent labels (a sigmoid each)."""
    outputs = model.predict(images, verbose=0)
    if not isinstance(outputs, dict):
        outputs = {None: outputs}
    answer = {}
    for key, value in outputs.items():
        value = np.asarray(value, "float64")
        prefix = "" if key is None else f"{key}_"
        if key == "reconstruction" or task == "reconstruction":
            answer["reconstruction"] = value
            continue
        if key == "distance":  # a value map, answered as it is
            answer["distance"] = value
            continue
        if key in multilabel:
            probs = _sigmoid(value)
            ids = (probs > 0.5).astype("int32")
        elif value.shape[-1] == 1:
            probs = _sigmoid(value)
            ids = (probs[..., 0] > 0.5).astype("int32")
        else:
            probs = _softmax(value)
            ids = probs.argmax(-1).astype("int32")
        answer[f"{prefix}probabilities"] = probs
        answer[f"{prefix}class_ids"] = ids
    return answer


def _images(shape, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(*shape, channels)).astype("uint8")


def _png(image):
    return tf.io.encode_png(image).numpy()


# The signatures run the model with its BatchNorm folded into the
# convolutions (`export.saved_model`'s default): the same function in a
# different float32 rounding, so probabilities agree within 1e-4 and class
# ids wherever the two likeliest classes are further apart than twice
# that (most pixels; an untrained tiny model leaves many near ties).
# Outputs larger than 1 (reconstructions in pixel units) are held to the
# same tolerance relative to their largest value.
# Unfolded, the signatures run the model's own graph: within 1e-5.
FOLDED_ATOL = 1e-4


def _margin(probabilities):
    """Per pixel, how far the answer is from a tie: the gap between the
    two likeliest classes, or for one sigmoid channel twice the distance
    to 0.5."""
    if probabilities.shape[-1] == 1:
        return 2 * np.abs(probabilities[..., 0] - 0.5)
    top = np.sort(probabilities, axis=-1)
    return top[..., -1] - top[..., -2]


def _assert_answer(answer, reference, atol=FOLDED_ATOL, ids_only=False):
    assert sorted(answer) == sorted(reference)
    for key, want in reference.items():
        got = np.asarray(answer[key])
        assert got.shape == want.shape, key
        if key.endswith("class_ids"):
            assert got.dtype == np.int32
            probs = reference.get(key.replace("class_ids", "probabilities"))
            clear = np.ones(want.shape, bool)
            if probs is not None and probs.ndim == want.ndim + 1:
                clear = _margin(probs) > 2 * atol
            assert clear.mean() > 0.5, key
            np.testing.assert_array_equal(got[clear], want[clear], key)
        elif not ids_only:
            assert got.dtype == np.float32
            # Rounding grows with the size of the values: a reconstruction
            # in pixel units (up to 255) is held to atol of its scale.
            scale = max(1.0, float(np.abs(want).max()))
            np.testing.assert_allclose(
                got, want, atol=atol * scale, err_msg=key
            )


def _tiny_model():
    """A one-layer segmenter: fast to export, for the layout tests."""
    inputs = keras.Input((None, None, 3), name="image")
    x = keras.layers.Conv2D(4, 3, padding="same", name="head_conv")(inputs)
    x = keras.layers.Activation("linear", name="head_activation")(x)
    return keras.Model(inputs, x, name="tiny")


# One tiny configuration per builder (unet_tiny shares unet_classic_tiny's).
FAMILIES = [n for n in kerasseg.list_models("*_tiny") if n != "unet_tiny"]
# Tracing a SavedModel takes 2–30 s per tiny model on 2 cores, so the
# default tier exports these: the plain encoder with skips, FCN-8s (whose
# skips include FCN-16s' and FCN-32s'), LinkNet's additive skips, atrous
# DeepLabV3 and PSPNet's pooling to fixed bins at any size. The second
# tier exports every family.
DEFAULT_FAMILIES = {
    "deeplabv3_tiny",
    "fcn8s_tiny",
    "linknet_tiny",
    "pspnet_tiny",
    "unet_classic_tiny",
}


@pytest.mark.parametrize("name", harness.tiered(FAMILIES, DEFAULT_FAMILIES))
def test_signatures_equal_the_keras_model(name, tmp_path):
    model = harness.build(name)
    path = export.saved_model(model, tmp_path)
    assert path == str(tmp_path / model.name / "1")
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures) == sorted(export.SIGNATURES)
    # Two sizes (and batch sizes) through the same loaded model.
    for shape in SIZES:
        pixels = _images(shape)
        reference = expected(
            model, pixels.astype("float32"), harness.task(name)
        )
        floats = loaded.signatures["serving_default"](
            images=tf.constant(pixels, tf.float32)
        )
        _assert_answer(floats, reference)
        uint8 = loaded.signatures["serve_uint8"](images=tf.constant(pixels))
        _assert_answer(uint8, reference, ids_only=True)
        pngs = tf.constant([_png(image) for image in pixels])
        decoded = loaded.signatures["serve_bytes"](images=pngs)
        _assert_answer(decoded, reference, ids_only=True)


def test_a_distance_output_is_answered_as_its_values(tmp_path):
    model = kerasseg.models.multitask_unet(
        num_classes=2,
        num_labels=1,
        distance=True,
        encoder_options={"depth": 2, "base_filters": 4},
    )
    path = export.saved_model(model, tmp_path, warmup_requests=False)
    pixels = _images((2, 32, 40))
    answer = tf.saved_model.load(path).signatures["serving_default"](
        images=tf.constant(pixels, tf.float32)
    )
    reference = expected(model, pixels.astype("float32"))
    assert "distance" in reference
    _assert_answer(answer, reference)


def test_unfolded_signatures_run_the_models_own_graph(tmp_path):
    # fold_batch_norm=False: the Keras graph itself, within 1e-5 and the
    # same class ids everywhere.
    model = harness.build("linknet_tiny")
    path = export.saved_model(
        model, tmp_path, fold_batch_norm=False, warmup_requests=False
    )
    pixels = _images((2, 64, 64)).astype("float32")
    answer = tf.saved_model.load(path).signatures["serving_default"](
        images=tf.constant(pixels)
    )
    reference = expected(model, pixels)
    np.testing.assert_allclose(
        answer["probabilities"], reference["probabilities"], atol=1e-5
    )
    np.testing.assert_array_equal(answer["class_ids"], reference["class_ids"])
    with pytest.raises(TypeError, match="fold_batch_norm"):
        export.saved_model(model, tmp_path, fold_batch_norm="yes")


@pytest.mark.slow
def test_loads_without_kerasseg_and_saved_model_cli_lists_signatures(
    tmp_path,
):
    model = harness.build("unet_classic_tiny")
    path = export.saved_model(model, tmp_path, name="unet")
    pixels = _images((2, 48, 80))
    np.save(tmp_path / "pixels.npy", pixels)
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        pixels = np.load({str(tmp_path / "pixels.npy")!r})
        answer = loaded.signatures["serve_uint8"](images=tf.constant(pixels))
        np.savez({str(tmp_path / "answer.npz")!r},
                 **{{k: v.numpy() for k, v in answer.items()}})
        assert "kerasseg" not in sys.modules
        """
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env)
    answer = dict(np.load(tmp_path / "answer.npz"))
    _assert_answer(answer, expected(model, pixels.astype("float32")))

    shown = subprocess.run(
        [
            sys.executable,
            "-m",
            "tensorflow.python.tools.saved_model_cli",
            "show",
            "--dir",
            path,
            "--all",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    for signature in export.SIGNATURES:
        assert f"signature_def['{signature}']" in shown
    # Dynamic batch, height and width in the signature.
    assert "shape: (-1, -1, -1, 3)" in shown
    assert "dtype: DT_STRING" in shown and "dtype: DT_UINT8" in shown


def test_versions_are_numbered_and_never_overwritten(tmp_path):
    model = _tiny_model()
    first = export.saved_model(model, tmp_path, warmup_requests=False)
    second = export.saved_model(model, tmp_path, warmup_requests=False)
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    stamp = os.path.join(second, "saved_model.pb")
    before = os.path.getmtime(stamp)
    with pytest.raises(FileExistsError, match="overwrite=True.*next free"):
        export.saved_model(model, tmp_path, version=2)
    assert os.path.getmtime(stamp) == before
    replaced = export.saved_model(model, tmp_path, version=2, overwrite=True)
    assert replaced == second
    assert sorted(os.listdir(tmp_path / "tiny")) == ["1", "2"]
    assert os.path.basename(export.saved_model(model, tmp_path, version=7))


def test_failed_export_leaves_nothing(tmp_path, monkeypatch):
    # The SavedModel is fully written when the warmup file fails: nothing of
    # it may remain, or TF Serving could load a half-finished version.
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(kerasseg.export.warmup, "write", broken)
    with pytest.raises(OSError, match="disk full"):
        export.saved_model(_tiny_model(), tmp_path, name="tiny")
    assert os.listdir(tmp_path / "tiny") == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"version": -1}, "version"),
        ({"version": "2"}, "version"),
        ({"activation": "relu"}, "activation"),
        ({"threshold": 2}, "threshold"),
        ({"image_size": (32,)}, "image_size"),
        ({"name": "a/b"}, "name"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        export.saved_model(_tiny_model(), tmp_path, **kwargs)
    assert not (tmp_path / "tiny").exists() or not os.listdir(tmp_path / "tiny")


def test_activation_already_in_the_head_is_not_applied_twice(tmp_path):
    model = kerasseg.build(
        "unet_classic_tiny", num_classes=3, activation="softmax"
    )
    path = export.saved_model(model, tmp_path, warmup_requests=False)
    pixels = _images((1, 32, 32)).astype("float32")
    answer = tf.saved_model.load(path).signatures["serving_default"](
        images=tf.constant(pixels)
    )
    np.testing.assert_allclose(
        answer["probabilities"], model.predict(pixels, verbose=0), atol=1e-6
    )
    with pytest.raises(ValueError, match="already ends in 'softmax'"):
        export.saved_model(model, tmp_path, activation="softmax")


def test_binary_and_multilabel_class_ids(tmp_path):
    binary = kerasseg.build("unet_classic_tiny", num_classes=1)
    labels = kerasseg.build(
        "unet_classic_tiny", num_classes=3, activation="sigmoid"
    )
    pixels = _images((2, 32, 32)).astype("float32")
    for model, threshold in [(binary, 0.5), (labels, 0.3)]:
        path = export.saved_model(
            model, tmp_path / model.name, threshold=threshold
        )
        answer = tf.saved_model.load(path).signatures["serving_default"](
            images=tf.constant(pixels)
        )
        probs = model.predict(pixels, verbose=0)
        if model is binary:
            probs = _sigmoid(probs)
            want = (probs[..., 0] > threshold).astype("int32")
        else:
            want = (probs > threshold).astype("int32")  # one 0/1 per label
        np.testing.assert_array_equal(answer["class_ids"], want)


def test_image_size_resizes_there_and_back_for_any_batch(tmp_path):
    model = _tiny_model()
    path = export.saved_model(model, tmp_path, image_size=(32, 48))
    served = tf.saved_model.load(path).signatures
    pixels = _images((3, 50, 70)).astype("float32")
    small = tf.image.resize(pixels, (32, 48))
    probs = tf.image.resize(
        tf.nn.softmax(model(small), axis=-1), (50, 70)
    ).numpy()
    answer = served["serving_default"](images=tf.constant(pixels))
    np.testing.assert_allclose(answer["probabilities"], probs, atol=1e-5)
    np.testing.assert_array_equal(answer["class_ids"], probs.argmax(-1))

    # Encoded images of different sizes in one request.
    images = [_images((1, 40, 60), seed=1)[0], _images((1, 50, 30))[0]]
    answer = served["serve_bytes"](
        images=tf.constant([_png(image) for image in images])
    )
    np.testing.assert_array_equal(answer["sizes"], [[40, 60], [50, 30]])
    assert answer["class_ids"].shape == (2, 50, 60)
    for i, image in enumerate(images):
        h, w = image.shape[:2]
        small = tf.image.resize(image[None].astype("float32"), (32, 48))
        want = tf.image.resize(tf.nn.softmax(model(small)), (h, w)).numpy()
        got = answer["probabilities"][i].numpy()
        np.testing.assert_allclose(got[:h, :w], want[0], atol=1e-5)
        assert not got[h:].any() and not got[:, w:].any()
        ids = answer["class_ids"][i].numpy()
        np.testing.assert_array_equal(ids[:h, :w], want[0].argmax(-1))
        assert (ids[h:] == -1).all() and (ids[:, w:] == -1).all()


def test_bytes_of_different_sizes_without_image_size_are_refused(tmp_path):
    path = export.saved_model(_tiny_model(), tmp_path)
    served = tf.saved_model.load(path).signatures["serve_bytes"]
    pngs = [_png(_images((1, 16, 16))[0]), _png(_images((1, 16, 24))[0])]
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="same height and width"
    ):
        served(images=tf.constant(pngs))


def test_warmup_requests_are_valid_prediction_logs(tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    path = export.saved_model(_tiny_model(), tmp_path, name="tiny")
    loaded = tf.saved_model.load(path)
    records = tf.data.TFRecordDataset(
        os.path.join(path, "assets.extra", "tf_serving_warmup_requests")
    )
    seen = []
    for record in records:
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        assert request.model_spec.name == "tiny"
        inputs = {
            key: tf.constant(tf.make_ndarray(value))
            for key, value in request.inputs.items()
        }
        signature = request.model_spec.signature_name
        answer = loaded.signatures[signature](**inputs)
        assert answer["class_ids"].shape == (1, 64, 64)
        seen.append(signature)
    assert sorted(seen) == sorted(export.SIGNATURES)


def _rest(served, body):
    """Runs a TF Serving REST `:predict` body through a signature.

    Follows https://www.tensorflow.org/tfx/serving/api_rest: the row format
    (`instances`: one value per example, or one object of named inputs;
    binary values as `{"b64": ...}`) answers `predictions` (one entry per
    example; an object when there are several outputs); the columnar
    format (`inputs`) answers `outputs` with the batch inside.
    """
    request = json.loads(body)

    def is_binary(value):
        return isinstance(value, dict) and set(value) == {"b64"}

    def decode(value):
        if is_binary(value):
            return base64.b64decode(value["b64"])
        if isinstance(value, list):
            return [decode(item) for item in value]
        return value

    (input_name,) = served.structured_input_signature[1]
    dtype = served.structured_input_signature[1][input_name].dtype
    if "instances" in request:
        rows = [
            row[input_name]
            if isinstance(row, dict) and not is_binary(row)
            else row
            for row in request["instances"]
        ]
        inputs = decode(rows)
    else:
        columns = request["inputs"]
        inputs = decode(
            columns[input_name] if isinstance(columns, dict) else columns
        )
    answer = served(**{input_name: tf.constant(inputs, dtype)})
    answer = {key: value.numpy().tolist() for key, value in answer.items()}
    if "instances" in request:
        count = len(request["instances"])
        rows = [
            {key: value[i] for key, value in answer.items()}
            for i in range(count)
        ]
        return json.loads(json.dumps({"predictions": rows}))
    return json.loads(json.dumps({"outputs": answer}))


def test_rest_json_requests_give_the_keras_answer(tmp_path):
    model = harness.build("unet_classic_tiny")
    path = export.saved_model(model, tmp_path, warmup_requests=False)
    served = tf.saved_model.load(path).signatures
    pixels = _images((2, 32, 48))
    reference = expected(model, pixels.astype("float32"))

    row = json.dumps({"instances": pixels.tolist()})
    predictions = _rest(served["serve_uint8"], row)["predictions"]
    for i, prediction in enumerate(predictions):
        np.testing.assert_array_equal(
            prediction["class_ids"], reference["class_ids"][i]
        )

    columnar = json.dumps({"inputs": {"images": pixels.tolist()}})
    outputs = _rest(served["serving_default"], columnar)["outputs"]
    np.testing.assert_allclose(
        outputs["probabilities"], reference["probabilities"], atol=1e-5
    )

    encoded = [
        {"b64": base64.b64encode(_png(image)).decode()} for image in pixels
    ]
    binary = json.dumps({"signature_name": "serve_bytes", "instances": encoded})
    predictions = _rest(served["serve_bytes"], binary)["predictions"]
    np.testing.assert_array_equal(
        [p["class_ids"] for p in predictions], reference["class_ids"]
    )
