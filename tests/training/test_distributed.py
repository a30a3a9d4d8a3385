"""tf.distribute: two replicas (two logical CPUs, or two local worker
processes) give the single-device weights for the same global batch.

Cross-entropy is averaged per pixel, so the mean of two half-batch losses
is the full-batch loss and the gradients agree up to summation order.
(Dice-like losses are batch-level ratios: under a strategy each replica
computes them over its own share, as in every framework.) The model has
no BatchNorm, whose statistics are per replica.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import yaml

from tests.training.conftest import small_config

TOLERANCE = 1e-4  # float32 summation order across replicas, 2 epochs

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _config(folder, tmp_path, strategy):
    images, masks = folder
    config = small_config(
        images,
        masks,
        epochs=2,
        batch_size=4,
        loss="cross_entropy",
        deterministic=True,
        strategy=strategy,
    )
    config["data"]["augment"] = False
    config["train"]["steps_per_epoch"] = None
    path = tmp_path / f"{strategy}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _weights(run_dir):
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    return [np.asarray(w) for w in model.weights]


def _assert_same(a, b):
    history = [
        json.loads((run_dir / "history.json").read_text()) for run_dir in (a, b)
    ]
    for ours, theirs in zip(*history, strict=True):
        assert ours["loss"] == pytest.approx(theirs["loss"], abs=TOLERANCE)
    for x, y in zip(_weights(a), _weights(b), strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=TOLERANCE)


@pytest.mark.slow
def test_mirrored_on_two_cpus_equals_one_device(folder, tmp_path):
    # One process (two logical CPUs must be set before TensorFlow starts)
    # trains with MirroredStrategy, then on one device.
    mirrored, single = tmp_path / "mirrored", tmp_path / "single"
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from kerasseg.training import run
        result = run.train({str(_config(folder, tmp_path, "mirrored"))!r},
                           {str(mirrored)!r})
        assert result["history"]
        run.train({str(_config(folder, tmp_path, "default"))!r},
                  {str(single)!r})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _assert_same(mirrored, single)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _train(config_path, run_dir, env):
    return subprocess.Popen(
        [sys.executable, "-m", "kerasseg.cli", "train", str(config_path)]
        + ["--run-dir", str(run_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_two_local_workers_equal_one_device(folder, tmp_path):
    # Two processes on 127.0.0.1 (TF_CONFIG), one CPU each: the custom
    # multi-worker loop (Keras' fit fails there, keras-team/keras#20585)
    # gives every worker the single-device weights.
    config = _config(folder, tmp_path, "multi_worker")
    settings = yaml.safe_load(config.read_text())
    settings["train"]["verbose"] = 2  # says how many replicas train
    config.write_text(yaml.safe_dump(settings))
    cluster = {"worker": [f"127.0.0.1:{p}" for p in _free_ports(2)]}
    workers = []
    for index in range(2):
        tf_config = {
            "cluster": cluster,
            "task": {"type": "worker", "index": index},
        }
        env = {**ENV, "TF_CONFIG": json.dumps(tf_config)}
        workers.append(_train(config, tmp_path / f"worker{index}", env))
    for process in workers:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-3000:]
        # Both processes formed one cluster (not two single-device runs).
        assert "Training on 2 replicas (train.strategy: multi_worker)" in out
    single = _train(
        _config(folder, tmp_path, "default"), tmp_path / "single", ENV
    )
    _, err = single.communicate(timeout=600)
    assert single.returncode == 0, err[-3000:]
    for index in range(2):
        _assert_same(tmp_path / f"worker{index}", tmp_path / "single")


def test_multi_worker_needs_tf_config(folder, tmp_path, monkeypatch):
    from kerasseg.training import config

    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(config.ConfigError, match="TF_CONFIG"):
        config.load(_config(folder, tmp_path, "multi_worker"))
