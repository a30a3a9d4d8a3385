"""`kerasseg zoo ...`, and zoo names where predict and export take a model."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from kerasseg import cli
from tests.zoo.conftest import NAME


def test_list_info_verify(entry, capsys):
    folder, record, _ = entry
    assert cli.main(["zoo", "list"]) == 0
    assert NAME in capsys.readouterr().out
    assert cli.main(["zoo", "info", NAME]) == 0
    assert json.loads(capsys.readouterr().out)["sha256"] == record["sha256"]
    assert cli.main(["zoo", "verify"]) == 0
    assert f"{NAME}: ok" in capsys.readouterr().out
    (folder / record["weights_file"]).write_bytes(b"broken")
    assert cli.main(["zoo", "verify", NAME]) == 2
    error = capsys.readouterr().err
    assert record["sha256"] in error and "6 bytes" in error


def test_unknown_entry_exits_2_naming_it(entry, capsys):
    assert cli.main(["zoo", "info", "unet_tiny.tset"]) == 2
    assert "Did you mean: unet_tiny.test" in capsys.readouterr().err


def test_evaluate_on_a_folder_and_predict_by_name(entry, tmp_path, capsys):
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    (data / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (24, 28), dtype="uint8")).save(
            data / "images" / f"{i}.png"
        )
        Image.fromarray(rng.integers(0, 2, (24, 28), dtype="uint8")).save(
            data / "masks" / f"{i}.png"
        )
    assert cli.main(["zoo", "evaluate", NAME, str(data)]) == 0
    table = capsys.readouterr().out
    assert "| background |" in table and "| nucleus |" in table
    assert cli.main(["zoo", "evaluate", NAME, str(tmp_path / "none")]) == 2
    assert "images/ and masks/" in capsys.readouterr().err
    out = tmp_path / "out"
    code = cli.main(
        [
            "predict",
            NAME,
            str(data / "images"),
            "--out",
            str(out),
            "--jit-compile",
            "off",
        ]
    )
    assert code == 0
    assert sorted(os.listdir(out))[:2] == ["0.png", "0_overlay.png"]


@pytest.mark.slow
def test_export_by_name(entry, tmp_path, capsys):
    code = cli.main(
        ["export", NAME, "--format", "tflite", "--out", str(tmp_path)]
    )
    assert code == 0
    written = capsys.readouterr().out.strip()
    assert written.endswith(".tflite") and os.path.isfile(written)
