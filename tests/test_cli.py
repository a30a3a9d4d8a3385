import pathlib
import subprocess
import sys

import pytest

import kerasseg
from kerasseg import cli


def _kerasseg(*args):
    # The console script installed beside this interpreter.
    script = pathlib.Path(sys.executable).with_name("kerasseg")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow  # a fresh process importing TensorFlow: 9 s
def test_console_script_prints_the_version():
    result = _kerasseg("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"kerasseg {kerasseg.__version__}"


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: kerasseg" in out
    assert "models" in out and "export" in out


def _python(code):
    """Runs `code` in a fresh Python process (its imports are its own)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_answers_help_without_loading_keras():
    # `kerasseg --help` (and a bad argument) exit before Keras and
    # TensorFlow load; a parsed command loads the whole package first.
    probe = """
import sys
sys.argv = ["kerasseg"]
from kerasseg import cli
for argv in (["--help"], ["train", "--help"], ["nonsense"]):
    try:
        cli.main(argv)
    except SystemExit:
        pass
print("loaded:", sorted(m for m in ("keras", "tensorflow") if m in sys.modules))
import kerasseg
print("build:", callable(kerasseg.build), kerasseg.build.__module__)
"""
    result = _python(probe)
    assert "loaded: []" in result.stdout, result.stdout + result.stderr
    # Outside the command nothing changes: attribute access loads it all.
    assert "build: True kerasseg.registry" in result.stdout, result.stderr


def test_importing_kerasseg_registers_its_keras_classes():
    # A .keras file of kerasseg layers loads after a bare `import
    # kerasseg`, without custom_objects: the package's modules are
    # imported with it (kerasseg._load), not on first attribute use.
    probe = """
import sys
import kerasseg
import keras
print(keras.saving.get_registered_object("kerasseg>GradientReversal"))
loaded = ("kerasseg.models", "kerasseg.training.recipes")
print(*(name in sys.modules for name in loaded))
"""
    result = _python(probe)
    assert "GradientReversal" in result.stdout, result.stdout + result.stderr
    assert "True True" in result.stdout, result.stdout


def test_models_lists_registered_configurations(capsys):
    assert cli.main(["models", "unet*"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == kerasseg.list_models("unet*")


def test_models_with_no_match_fails(capsys):
    assert cli.main(["models", "nothing*"]) == 1
    assert "No registered model matches" in capsys.readouterr().err


def test_export_writes_a_saved_model_from_a_keras_file(tmp_path, capsys):
    import numpy as np
    import tensorflow as tf

    model = kerasseg.build("unet_classic_tiny", num_classes=3)
    model.save(tmp_path / "unet.keras")
    out = tmp_path / "serving"
    assert (
        cli.main(
            [
                "export",
                str(tmp_path / "unet.keras"),
                "--out",
                str(out),
                "--name",
                "seg",
                # The model's own graph: the same class ids at every pixel
                # (folded, near ties may round either way; tests/export).
                "--no-fold-batch-norm",
            ]
        )
        == 0
    )
    path = capsys.readouterr().out.strip()
    assert path == str(out / "seg" / "1")
    images = np.random.default_rng(0).uniform(0, 255, (1, 32, 40, 3))
    answer = tf.saved_model.load(path).signatures["serving_default"](
        images=tf.constant(images, tf.float32)
    )
    np.testing.assert_array_equal(
        answer["class_ids"], model.predict(images, verbose=0).argmax(-1)
    )
    # The same version again is refused, naming the way out.
    assert (
        cli.main(
            [
                "export",
                str(tmp_path / "unet.keras"),
                "--out",
                str(out),
                "--name",
                "seg",
                "--version",
                "1",
            ]
        )
        == 2
    )
    assert "overwrite" in capsys.readouterr().err


def test_export_errors_name_the_problem(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path), "--out", str(tmp_path)]) == 2
    assert "without model.keras" in capsys.readouterr().err
    assert cli.main(["export", "m.h5", "--out", str(tmp_path)]) == 2
    assert ".keras file" in capsys.readouterr().err
    assert (
        cli.main(
            [
                "export",
                "m.keras",
                "--format",
                "onnx",
                "--out",
                str(tmp_path),
                "--version",
                "3",
            ]
        )
        == 2
    )
    assert "--version only apply" in capsys.readouterr().err


@pytest.mark.slow  # second tier: three fresh TensorFlow processes
def test_tensorflow_log_lines_are_hidden_unless_asked_for(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    script = str(pathlib.Path(sys.executable).with_name("kerasseg"))

    def stderr_of(*args, **extra):
        return subprocess.run(
            [script, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**env, **extra},
        ).stderr

    quiet = stderr_of("models", "unet_tiny")
    assert not [
        line
        for line in quiet.splitlines()
        if line[:5] in ("I0000", "W0000") or "absl::InitializeLog" in line
    ], quiet
    # What TensorFlow itself prints when it loads here (CUDA probing on a
    # machine without a GPU, CPU notes) comes back with --verbose.
    baseline = subprocess.run(
        [sys.executable, "-c", "import tensorflow"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    ).stderr
    if baseline.strip():
        assert stderr_of("--verbose", "models", "unet_tiny").strip()
        # The user's own setting is left to decide.
        user = stderr_of("models", "unet_tiny", TF_CPP_MIN_LOG_LEVEL="0")
        assert user.strip()
