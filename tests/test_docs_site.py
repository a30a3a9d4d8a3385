"""The docs site builds with `mkdocs build --strict`: every page, every
link and the API reference rendered from the docstrings."""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).parents[1]


@pytest.mark.slow
def test_docs_site_builds_strictly(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--site-dir",
            str(tmp_path / "site"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    # The reference is rendered from the docstrings, not left empty.
    for text in ("Ronneberger", "PercentileNormalization", "DiceCrossEntropy"):
        assert text in api, text
    assert (tmp_path / "site" / "zoo" / "index.html").is_file()
