"""TensorFlow's oneDNN kernels, which `import kerasseg` turns on on x86
CPUs where TensorFlow leaves them off (issue 19; `_tensorflow.
prefer_onednn`): the rule, its effect in a fresh process, and that the
oneDNN kernels compute what TensorFlow's Eigen kernels compute."""

import json
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

from kerasseg import _tensorflow

X86 = _tensorflow.is_x86()

PROBE = r"""
import json, sys
import kerasseg
from kerasseg import _tensorflow
print(json.dumps({"onednn": _tensorflow.onednn_enabled()}))
"""

# For each model named in argv[2:]: its outputs in training and inference
# mode, and the gradients of a loss at the input x and at x scaled by
# (1 + 2^-22), written to the .npz argv[1] (random weights, seeded).
GRADIENTS = r"""
import sys
import numpy as np
import keras
import tensorflow as tf
import kerasseg
arrays = {}
for name in sys.argv[2:]:
    keras.utils.set_random_seed(0)
    options = {"dropout": 0.0} if name.startswith("deeplab") else {}
    model = kerasseg.build(
        name, input_shape=(64, 64, 3), num_classes=3, **options
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (2, 64, 64, 3)).astype("float32")
    y = rng.integers(0, 3, (2, 64, 64))
    arrays[f"{name}|inference"] = model(x, training=False).numpy()
    for tag, xx in (("x", x), ("nudged", x * np.float32(1 + 2**-22))):
        with tf.GradientTape() as tape:
            out = model(xx, training=True)
            value = keras.losses.SparseCategoricalCrossentropy()(y, out)
        grads = tape.gradient(value, model.trainable_variables)
        arrays[f"{name}|training {tag}"] = out.numpy()
        for variable, grad in zip(model.trainable_variables, grads):
            arrays[f"{name}|grad {tag}|{variable.path}"] = grad.numpy()
np.savez(sys.argv[1], **arrays)
"""


def _env(setting):
    env = {
        k: v for k, v in os.environ.items() if k != _tensorflow.ONEDNN_SETTING
    }
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    if setting is not None:
        env[_tensorflow.ONEDNN_SETTING] = setting
    return env


def _probe(setting):
    answer = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=_env(setting),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(answer.stdout.strip().splitlines()[-1])["onednn"]


@pytest.fixture
def no_setting(monkeypatch):
    monkeypatch.delenv(_tensorflow.ONEDNN_SETTING, raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


def test_sets_the_variable_on_x86_before_tensorflow(no_setting):
    assert _tensorflow.prefer_onednn() is True
    assert os.environ[_tensorflow.ONEDNN_SETTING] == "1"


def test_keeps_the_users_choice(no_setting, monkeypatch):
    monkeypatch.setenv(_tensorflow.ONEDNN_SETTING, "0")
    assert _tensorflow.prefer_onednn() is False
    assert os.environ[_tensorflow.ONEDNN_SETTING] == "0"


def test_leaves_it_once_tensorflow_is_imported(no_setting, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", object())
    assert _tensorflow.prefer_onednn() is False
    assert _tensorflow.ONEDNN_SETTING not in os.environ


def test_leaves_it_off_x86(no_setting, monkeypatch):
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert _tensorflow.prefer_onednn() is False
    assert _tensorflow.ONEDNN_SETTING not in os.environ


@pytest.mark.skipif(not X86, reason="kerasseg sets oneDNN on x86 only")
def test_import_kerasseg_runs_tensorflow_on_onednn():
    assert _probe(None) is True
    assert _probe("0") is False


def _worst(a, b, keys):
    """The largest difference of arrays a[k] and b[k] over `keys`, each
    relative to the largest magnitude in b[k]."""
    return max(
        float(np.abs(a[k] - b[k]).max() / max(np.abs(b[k]).max(), 1e-12))
        for k in keys
    )


@pytest.mark.slow
@pytest.mark.skipif(not X86, reason="kerasseg sets oneDNN on x86 only")
def test_onednn_kernels_equal_eigen_kernels(tmp_path):
    """Outputs and gradients of models whose layers cover the oneDNN
    rewrites (convolutions, separable, dilated and transposed ones,
    BatchNorm, pooling, resizing), oneDNN against Eigen.

    The inference outputs agree to float32 round-off (1e-5 of their
    magnitude). The training-mode outputs (BatchNorm on batch statistics)
    and the gradients at random initialization are less well conditioned,
    on either kernel: a loss summed over pixels through BatchNorm's mean
    subtraction cancels, so Eigen's own gradients move by about 1e-2 of
    their magnitude when the input is nudged by 2^-22 (a few float32
    ulps). Both are checked against that measured sensitivity: oneDNN's
    may differ from Eigen's by at most 10 times as much, while a kernel
    that computed another gradient would differ by its magnitude."""
    names = ["unet_tiny", "deeplabv3plus_tiny"]
    results = {}
    for setting in ("0", "1"):
        path = tmp_path / f"onednn_{setting}.npz"
        subprocess.run(
            [sys.executable, "-c", GRADIENTS, str(path), *names],
            env=_env(setting),
            check=True,
        )
        results[setting] = dict(np.load(path))
    eigen, onednn = results["0"], results["1"]
    assert eigen.keys() == onednn.keys()
    for name in names:
        key = f"{name}|inference"
        assert _worst(onednn, eigen, [key]) < 1e-5, key
        for kind, bound in (("training", 1e-4), ("grad", 0.1)):
            keys = [k for k in eigen if k.startswith(f"{name}|{kind} x")]
            nudged = {k: eigen[k.replace(" x", " nudged")] for k in keys}
            sensitivity = _worst(nudged, eigen, keys)
            assert sensitivity < bound, (name, kind, sensitivity)
            difference = _worst(onednn, eigen, keys)
            assert difference <= 10 * sensitivity, (
                name,
                kind,
                difference,
                sensitivity,
            )
