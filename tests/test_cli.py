import pathlib
import subprocess
import sys

import kerasseg


def _kerasseg(*args):
    # The console script installed beside this interpreter.
    script = pathlib.Path(sys.executable).with_name("kerasseg")
    return subprocess.run(
        [str(script), *args], capture_output=True, text=True, timeout=120
    )


def test_version():
    result = _kerasseg("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"kerasseg {kerasseg.__version__}"


def test_help():
    result = _kerasseg("--help")
    assert result.returncode == 0
    assert "usage: kerasseg" in result.stdout
    assert "models" in result.stdout


def test_models_lists_registered_configurations():
    result = _kerasseg("models", "unet*")
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines()]
    assert listed == kerasseg.list_models("unet*")


def test_models_with_no_match_fails():
    result = _kerasseg("models", "nothing*")
    assert result.returncode == 1
    assert "No registered model matches" in result.stderr
