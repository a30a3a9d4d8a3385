"""kerasseg train: run folder, resume after SIGKILL, NaN stop, CLI flow."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from kerasseg import cli
from kerasseg.training import run
from tests.training.conftest import small_config


def _write_config(path, config):
    path.write_text(yaml.safe_dump(config))
    return path


def _train_command(config_path, run_dir):
    return [
        sys.executable,
        "-m",
        "kerasseg.cli",
        "train",
        str(config_path),
        "--run-dir",
        str(run_dir),
    ]


def _weights(path):
    model = keras.saving.load_model(path)
    return [np.asarray(w) for w in model.weights]


@pytest.mark.slow
def test_sigkill_mid_epoch_then_same_command_resumes(folder, tmp_path):
    images, masks = folder
    # Deterministic ops and a per-epoch data seed: the resumed run must
    # end with the weights of an uninterrupted one.
    config = small_config(
        images,
        masks,
        epochs=2,
        steps_per_epoch=40,
        deterministic=True,
        verbose=2,
    )
    config["data"]["cache"] = True
    config_path = _write_config(tmp_path / "c.yaml", config)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        _train_command(config_path, killed),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = killed / "checkpoints" / "epoch-0001"
    deadline = time.time() + 240
    while not first.exists() and time.time() < deadline:
        assert process.poll() is None, "training ended before epoch 1 saved"
        time.sleep(0.05)
    time.sleep(0.5)  # into epoch 2 (40 steps take several seconds)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not (killed / "checkpoints" / "epoch-0002").exists(), (
        "epoch 2 finished before the kill; the test needs longer epochs"
    )
    assert not (killed / "model.keras").exists()

    resumed = subprocess.run(
        _train_command(config_path, killed),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (
        "Resuming" in resumed.stdout and "after epoch 1 of 2" in resumed.stdout
    )
    # Epoch 1 is not redone: Keras prints "Epoch 2/2" only.
    assert "Epoch 1/2" not in resumed.stdout
    assert "Epoch 2/2" in resumed.stdout
    history = json.loads((killed / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2]
    names = sorted(os.listdir(killed / "checkpoints"))
    assert names == ["epoch-0001", "epoch-0002"]  # nothing half-written

    straight = tmp_path / "straight"
    done = subprocess.run(
        _train_command(config_path, straight),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for a, b in zip(
        _weights(killed / "model.keras"), _weights(straight / "model.keras")
    ):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    final = json.loads((straight / "history.json").read_text())
    assert final[-1]["loss"] == pytest.approx(history[-1]["loss"], abs=1e-6)


@pytest.mark.slow
def test_nan_loss_stops_naming_epoch_and_batch(folder, tmp_path):
    images, masks = folder
    config = small_config(images, masks, epochs=3, batch_size=2)
    clean = tf.data.Dataset.from_tensor_slices(
        (
            np.full((8, 32, 32, 3), 100.0, "float32"),
            np.zeros((8, 32, 32), "int32"),
        )
    )

    def data(epoch):
        if epoch < 1:
            return clean.batch(2)
        # The third batch of epoch 2 holds a mask value outside the 2
        # classes, which makes a compiled loss NaN. (A NaN pixel is no
        # reliable trigger: TensorFlow's CPU max pooling drops NaN on some
        # processors, this project's AVX-512 machines among them, and the
        # loss stays finite.)
        y = np.zeros((8, 32, 32), "int32")
        y[5, 3, 3] = 7
        return tf.data.Dataset.from_tensor_slices(
            (np.full((8, 32, 32, 3), 100.0, "float32"), y)
        ).batch(2)

    run_dir = tmp_path / "run"
    with pytest.raises(run.TrainingDiverged, match="epoch 2, batch 3") as info:
        run.train(config, run_dir, train_data=data)
    assert "epoch-0001" in str(info.value)
    assert sorted(os.listdir(run_dir / "checkpoints")) == ["epoch-0001"]
    assert not (run_dir / "model.keras").exists()


@pytest.mark.slow
def test_cli_train_evaluate_predict_export(folder, tmp_path, capsys):
    images, masks = folder
    config = small_config(images, masks, epochs=2)
    config["export"]["saved_model"] = True
    config_path = _write_config(tmp_path / "c.yaml", config)
    run_dir = tmp_path / "run"
    assert cli.main(["train", str(config_path), "--run-dir", str(run_dir)]) == 0
    for name in (
        "config.yaml",
        "best.weights.h5",
        "history.csv",
        "evaluation.json",
        "evaluation.md",
        "model.keras",
    ):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "logs").rglob("events.out.tfevents.*"))
    saved = json.loads((run_dir / "evaluation.json").read_text())
    assert [r["class"] for r in saved["classes"]] == ["background", "square"]
    capsys.readouterr()

    # evaluate: the run's validation data gives the saved evaluation.
    assert cli.main(["evaluate", str(run_dir)]) == 0
    table = capsys.readouterr().out
    assert "| square |" in table and f"{saved['mean']['iou']:.4f}" in table
    # A bare .keras file on the same folders gives the same scores.
    model_file = str(run_dir / "model.keras")
    args = ["evaluate", model_file, "--images", str(images)]
    assert cli.main([*args, "--masks", str(masks)]) == 0
    assert f"{saved['mean']['iou']:.4f}" in capsys.readouterr().out
    assert cli.main(args) == 2
    assert "--images needs --masks" in capsys.readouterr().err

    out = tmp_path / "predicted"
    assert (
        cli.main(
            [
                "predict",
                str(run_dir),
                str(images),
                "--out",
                str(out),
                "--tile",
                "16",
            ]
        )
        == 0
    )
    from PIL import Image

    model = keras.saving.load_model(run_dir / "model.keras")
    mask = np.asarray(Image.open(out / "0.png"))
    assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 1}
    assert (out / "0_overlay.png").is_file()

    exported = run_dir / "export" / "unet_classic_tiny" / "1"
    loaded = tf.saved_model.load(str(exported))
    image = np.asarray(Image.open(images / "0.png"), "float32")[None]
    answer = loaded.signatures["serving_default"](images=tf.constant(image))
    np.testing.assert_array_equal(
        answer["class_ids"][0], model.predict(image, verbose=0)[0].argmax(-1)
    )


def test_cli_train_rejects_a_bad_config_before_training(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "model: {name: unet_tiny, num_classes: 2}\n"
        "data: {dataset: nuclei}\ntrain: {epohcs: 3}\n"
    )
    assert cli.main(["train", str(path), "--run-dir", str(tmp_path / "r")]) == 2
    assert "Unknown key 'train.epohcs'" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_auto_jit_compile_is_measured_once_and_kept(
    folder, tmp_path, monkeypatch
):
    images, masks = folder
    config = small_config(images, masks, epochs=1, jit_compile="auto")
    run_dir = tmp_path / "run"
    run.train(config, run_dir)
    record = json.loads((run_dir / "compile.json").read_text())
    seconds = record["seconds_per_step"]
    assert seconds["graph"] > 0 and seconds["xla"] > 0
    assert record["jit_compile"] == (seconds["xla"] < seconds["graph"])

    # The same command again (a resume) reads the choice back.
    from kerasseg.training import xla

    def refuse(*args, **kwargs):
        raise AssertionError("measured again")

    monkeypatch.setattr(xla, "choose_jit_compile", refuse)
    assert run.train(config, run_dir)["resumed_from"] == 1


def test_progress_bars_become_lines_when_output_is_not_a_terminal():
    import io

    from kerasseg.training.run import fit_verbose

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    assert fit_verbose(1, Terminal()) == 1
    assert fit_verbose(1, io.StringIO()) == 2  # a file or a pipe
    assert fit_verbose(0, io.StringIO()) == 0
    assert fit_verbose(2, Terminal()) == 2


def test_monitor_last_keeps_the_last_epochs_weights(folder, tmp_path):
    images, masks = folder
    # Each epoch replaces the kept weights, whatever the logs say (a
    # monitored loss keeps the better one only).
    config = small_config(images, masks, epochs=3, monitor="last")
    assert run._monitor_better(config, None, 0.1)
    assert run._monitor_better(config, 0.9, 0.1)
    by_loss = small_config(images, masks, monitor="loss")
    assert not run._monitor_better(by_loss, 0.9, 0.1)
    result = run.train(config, tmp_path / "run")
    assert [h["epoch"] for h in result["history"]] == [1, 2, 3]
    model = keras.saving.load_model(result["model_path"])
    model.load_weights(
        tmp_path / "run" / "checkpoints" / "epoch-0003" / "model.weights.h5"
    )
    for got, want in zip(_weights(result["model_path"]), model.weights):
        np.testing.assert_array_equal(got, np.asarray(want))
    with pytest.raises(Exception, match=r"or 'last' for the last epoch's"):
        run.train(
            small_config(images, masks, monitor="val_nothing"),
            tmp_path / "bad",
        )
