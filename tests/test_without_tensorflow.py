"""kerasseg without TensorFlow installed (issue 18): under the JAX
backend the models, losses, metrics, zoo weights and `kerasseg predict`
work; the TensorFlow-only parts say so before doing anything.

TensorFlow is installed here, so the probe process hides it
(`sys.modules["tensorflow"] = None` makes every import of it fail, as on
a machine without it)."""

import json
import os
import subprocess
import sys

import pytest

import kerasseg

pytest.importorskip("jax")

PROBE = r"""
import json, os, sys
sys.modules["tensorflow"] = None
import numpy as np
import keras
import kerasseg
from kerasseg import cli
from kerasseg._tensorflow import MissingTensorFlow

out = {"backend": keras.backend.backend()}
model = kerasseg.build("unet_tiny", num_classes=3)
out["shape"] = list(model(np.zeros((1, 32, 32, 3))).shape)
y_true = np.array([[[0, 1], [2, 1]]])
y_pred = np.eye(3)[y_true] * 4.0
loss = kerasseg.losses.DiceCrossEntropy(mode="multiclass", num_classes=3)
out["loss"] = float(loss(y_true, y_pred))
iou = kerasseg.metrics.MeanIoU(num_classes=3)
iou.update_state(y_true, y_pred)
out["iou"] = float(iou.result())
out["zoo_params"] = kerasseg.load("unet.fashion_scenes").count_params()
out["spec"] = kerasseg.data.specs.get("nuclei").name
errors = {}
for name, call in (
    ("data", lambda: kerasseg.data.from_folders),
    ("export", lambda: kerasseg.export),
):
    try:
        call()
    except MissingTensorFlow as error:
        errors[name] = str(error)
out["errors"] = errors
run_dir = os.path.join(sys.argv[1], "run")
out["train_status"] = cli.main(
    ["train", "zoo/unet.fashion_scenes/config.yaml", "--run-dir", run_dir]
)
out["run_dir_made"] = os.path.exists(run_dir)
from PIL import Image
Image.fromarray(np.zeros((40, 48), np.uint8)).save(
    os.path.join(sys.argv[1], "a.png")
)
predicted = os.path.join(sys.argv[1], "masks")
out["predict_status"] = cli.main(
    ["predict", "unet.fashion_scenes", os.path.join(sys.argv[1], "a.png"),
     "--out", predicted]
)
out["masks"] = sorted(os.listdir(predicted))
out["tensorflow_loaded"] = sys.modules.get("tensorflow") is not None
print("RESULT", json.dumps(out))
"""


# A fresh JAX process that builds, trains, loads a zoo entry and runs the
# CLI: 35–45 s on 2 cores, so the second tier runs it.
@pytest.mark.slow
def test_kerasseg_without_tensorflow(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=root,
        env={**os.environ, "KERAS_BACKEND": "jax"},
    )
    lines = [x for x in result.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, result.stdout + result.stderr
    out = json.loads(lines[0][len("RESULT ") :])
    assert out["backend"] == "jax"
    assert out["shape"] == [1, 32, 32, 3]
    assert 0.0 < out["loss"] < 1.0  # confident and right: a small loss
    assert out["iou"] == pytest.approx(1.0)
    record = kerasseg.zoo.info("unet.fashion_scenes")
    assert out["zoo_params"] == record["params"]
    assert out["spec"] == "nuclei"
    for name, what in (
        ("data", "kerasseg.data.from_folders"),
        ("export", "kerasseg.export"),
    ):
        assert f"{what} needs TensorFlow" in out["errors"][name]
        assert "pip install tensorflow" in out["errors"][name]
    # `kerasseg train` stops with status 4 before making its run folder.
    assert out["train_status"] == 4
    assert not out["run_dir_made"]
    assert "Training (kerasseg train, run.train) needs TensorFlow" in (
        result.stderr
    )
    assert out["predict_status"] == 0
    assert out["masks"] and any(m.startswith("a") for m in out["masks"])
    assert not out["tensorflow_loaded"]
