"""The models, losses and metrics on the JAX and PyTorch backends, each in
a fresh process (Keras picks its backend once per process).

Every registered tiny model (every full-size one with --run-large) is
built, compiled with kerasseg's losses and metrics, trained with
`jit_compile=True` (XLA under JAX, torch.compile under PyTorch) and
evaluated there; a `.keras` file saved here under
TensorFlow loads there with equal outputs, and one saved there loads here
with equal outputs. Every loss and metric gives there the value it gives
here. The PyTorch checks skip where torch is not installed (the README's
install line for it: `pip install torch==2.13.0`).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg import losses as losses_module
from kerasseg import metrics as metrics_module
from tests.models import harness

TINY = kerasseg.list_models("*_tiny")
TOLERANCE = 1e-5
# A full-size model's outputs (logits of order 1) gather float32 round-off
# through many more layers, and each backend has its own convolution and
# matmul kernels: the largest difference seen was 6.4e-5 (TransUNet
# trained under PyTorch, reloaded under TensorFlow).
FULL_SIZE_TOLERANCE = 1e-4
BACKENDS = ("jax", "torch")
# The second tier (about 3 min per backend: every tiny model compiled
# there), all on one worker so that each backend's process runs once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("backends")]

_SCRIPT = r"""
import json, sys
import keras, numpy as np
backend = sys.argv[3]
assert keras.backend.backend() == backend, keras.backend.backend()
import kerasseg
from tests.models import harness

folder, names = sys.argv[1], json.loads(sys.argv[2])
x = np.load(f"{folder}/x.npy")
report = {}
for name in names:
    # A file saved under TensorFlow, loaded here.
    tf_model = keras.saving.load_model(
        f"{folder}/{name}.tf.keras", safe_mode=True
    )
    np.savez(f"{folder}/{name}.tf_in_{backend}.npz",
             **harness.as_dict(tf_model(x, training=False)))
    # Built, compiled with kerasseg's losses and metrics, trained under XLA.
    keras.utils.set_random_seed(0)
    model = harness.build(name)
    loss = harness.losses(name, kerasseg_losses=True)
    if isinstance(loss, dict):
        loss = {k: loss[k] for k in model.output}
    model.compile(keras.optimizers.Adam(1e-3), loss=loss,
                  metrics=harness.metrics(name), jit_compile=True)
    bx, by = harness.batch(name, shape=(4, 32, 32, 3))
    history = model.fit(bx, harness.targets(model, by), epochs=2, batch_size=2,
                        verbose=0)
    scores = model.evaluate(bx, harness.targets(model, by), verbose=0,
                            return_dict=True)
    model.save(f"{folder}/{name}.{backend}.keras")
    np.savez(f"{folder}/{name}.{backend}.npz",
             **harness.as_dict(model(x, training=False)))
    report[name] = {"loss": history.history["loss"], "scores": scores}

# Every loss and metric on fixed inputs.
from tests.test_backends import loss_and_metric_values
data = np.load(f"{folder}/values.npz")
values = loss_and_metric_values(data["y"], data["logits"])
report["values"] = values
with open(f"{folder}/report.{backend}.json", "w") as f:
    json.dump(report, f)
"""


def loss_and_metric_values(y, logits):
    """Every registered loss and metric on `(y, logits)`, and each
    metric's confusion sum after `reset_state` (each backend's script
    runs this too)."""
    values = {}
    for key, cls in losses_module.LOSSES.items():
        values["loss:" + key] = float(cls(num_classes=3)(y, logits))
    for key, cls in metrics_module.METRICS.items():
        metric = cls(num_classes=3)
        metric.update_state(y, logits)
        values["metric:" + key] = float(metric.result())
        metric.reset_state()
        values["metric_reset:" + key] = float(
            np.asarray(metric.confusion).sum()
        )
    return values


def _save_here(folder, names):
    """Each model saved under TensorFlow with its outputs, and the fixed
    inputs of the loss and metric values, in `folder`."""
    x, _ = harness.batch(TINY[0], shape=(2, 32, 40, 3), seed=1)
    np.save(folder / "x.npy", x)
    expected = {}
    for name in names:
        keras.utils.set_random_seed(0)
        model = harness.build(name)
        model.save(folder / f"{name}.tf.keras")
        expected[name] = harness.as_dict(model(x, training=False))
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, (2, 16, 16)).astype("int32")
    logits = rng.normal(size=(2, 16, 16, 3)).astype("float32")
    np.savez(folder / "values.npz", y=y, logits=logits)
    return x, expected, loss_and_metric_values(y, logits)


def _run_there(backend, folder, names, timeout):
    """The script above under `backend` in a fresh process; its report."""
    pytest.importorskip(backend)
    env = {**os.environ, "KERAS_BACKEND": backend}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            str(folder),
            json.dumps(names),
            backend,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((folder / f"report.{backend}.json").read_text())


@pytest.fixture(scope="module")
def saved_here(tmp_path_factory):
    """Each tiny model saved under TensorFlow with its outputs."""
    folder = tmp_path_factory.mktemp("backends")
    return (folder, *_save_here(folder, TINY))


@pytest.fixture(scope="module", params=BACKENDS)
def backend_run(request, saved_here):
    backend = request.param
    folder, x, expected, values = saved_here
    report = _run_there(backend, folder, TINY, timeout=540)
    return backend, folder, x, expected, report, values


def _assert_trained(report, name):
    losses = report[name]["loss"]
    assert all(np.isfinite(losses)), losses
    assert all(np.isfinite(v) for v in report[name]["scores"].values())
    if harness.task(name) != "reconstruction":
        assert any("mean_iou" in k for k in report[name]["scores"])


def _assert_files_cross(backend, folder, x, expected, name, tol=TOLERANCE):
    # TensorFlow → the backend.
    loaded_there = dict(np.load(folder / f"{name}.tf_in_{backend}.npz"))
    assert sorted(loaded_there) == sorted(expected[name])
    for key, value in expected[name].items():
        np.testing.assert_allclose(loaded_there[key], value, atol=tol, rtol=tol)
    # The backend → TensorFlow.
    model = keras.saving.load_model(
        folder / f"{name}.{backend}.keras", safe_mode=True
    )
    here = harness.as_dict(model(x, training=False))
    for key, value in dict(np.load(folder / f"{name}.{backend}.npz")).items():
        np.testing.assert_allclose(here[key], value, atol=tol, rtol=tol)


@pytest.mark.parametrize("name", TINY)
def test_trains_with_compilation_and_kerasseg_losses_and_metrics(
    name, backend_run
):
    _assert_trained(backend_run[4], name)


@pytest.mark.parametrize("name", TINY)
def test_keras_files_cross_between_tensorflow_and_the_backend(
    name, backend_run
):
    backend, folder, x, expected, _, _ = backend_run
    _assert_files_cross(backend, folder, x, expected, name)


# Every full-size registered model the same way, one fresh process per
# model and backend, with --run-large: 48–109 s per model under JAX and
# 142–287 s under PyTorch on 2 cores (U-Net/ResNet18, DeepLabV3+/
# MobileNetV2, TransUNet), so hours for all. Encoders start from random
# weights (no download).
FULL = sorted(set(kerasseg.list_models()) - set(TINY))


@pytest.mark.large
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", FULL)
def test_full_size_model_trains_and_crosses_files_there(
    name, backend, tmp_path
):
    x, expected, _ = _save_here(tmp_path, [name])
    report = _run_there(backend, tmp_path, [name], timeout=600)
    _assert_trained(report, name)
    _assert_files_cross(
        backend, tmp_path, x, expected, name, tol=FULL_SIZE_TOLERANCE
    )


def test_every_loss_and_metric_gives_the_same_value_there(backend_run):
    *_, report, values = backend_run
    assert sorted(report["values"]) == sorted(values)
    for key, value in values.items():
        assert report["values"][key] == pytest.approx(value, abs=1e-5), key
