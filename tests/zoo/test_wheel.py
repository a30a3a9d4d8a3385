"""A wheel ships the zoo: an installed kerasseg finds and verifies every
entry without a checkout beside it."""

import json
import os
import subprocess
import sys

import pytest

from kerasseg.zoo import records

ROOT = records.pathlib.Path(__file__).parents[2]


@pytest.mark.slow  # second tier: builds and installs a wheel
def test_an_installed_wheel_ships_and_verifies_the_zoo(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "wheel", str(ROOT), "--no-deps", "-q", "-w", str(wheels)],
        check=True,
    )
    (wheel,) = wheels.glob("kerasseg-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "-q", "--target", str(target), wheel],
        check=True,
    )
    script = (
        "import json, kerasseg; from kerasseg.zoo import records; "
        "print(json.dumps({'dir': str(records.entries_dir()), "
        "'names': kerasseg.list_pretrained(), "
        "'verified': sorted(kerasseg.zoo.verify())}))"
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(target),
        "KERASSEG_OFFLINE": "1",
        "KERASSEG_HOME": str(tmp_path / "empty-cache"),
    }
    env.pop("KERASSEG_ZOO_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,  # not the checkout: its zoo/ must not be what is read
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["dir"] == str(target / "kerasseg" / "zoo_entries")
    expected = sorted(records.read(ROOT / "zoo"))
    assert found["names"] == found["verified"] == expected
