"""Docstring examples are API: every one runs here."""

import doctest
import importlib
import os
import pathlib
import pkgutil

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg import registry

MODULES = ["kerasseg"] + sorted(
    info.name
    for info in pkgutil.walk_packages(kerasseg.__path__, "kerasseg.")
    if info.name != "kerasseg.cli"
)


def _run_examples(module_name):
    module = importlib.import_module(module_name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs = {"np": np, "keras": keras, "kerasseg": kerasseg, "os": os}
    for test in finder.find(module, module_name, globs=globs):
        runner.run(test)
    return runner.summarize(verbose=False)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name):
    assert _run_examples(module_name).failed == 0


DOCS = sorted((pathlib.Path(__file__).parents[1] / "docs").glob("*.md"))
# Pages whose examples train or build full-size models (20–30 s each) run
# in the second tier.
SLOW_DOCS = {"data.md", "encoders.md", "models.md"}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.slow) if p.name in SLOW_DOCS else p
        for p in DOCS
    ],
    ids=lambda path: path.name,
)
def test_markdown_examples_run(path):
    # ">>>" examples in docs/*.md run too (plain ``` blocks are prose).
    result = doctest.testfile(
        str(path),
        module_relative=False,
        globs={"np": np, "keras": keras, "kerasseg": kerasseg},
        optionflags=doctest.ELLIPSIS,
    )
    assert result.failed == 0


def test_markdown_examples_are_found():
    text = (DOCS[0].parent / "encoders.md").read_text()
    assert text.count(">>> ") >= 5


def test_examples_are_found():
    # Guards the test above against silently finding nothing.
    assert _run_examples("kerasseg.models.unet").attempted >= 4


def test_public_api():
    assert sorted(kerasseg.__all__) == [
        "__version__",
        "boundary_metrics",
        "build",
        "copy_encoder_weights",
        "data",
        "decoders",
        "encoders",
        "export",
        "freeze_encoder",
        "heads",
        "inference",
        "initializers",
        "instance_metrics",
        "layers",
        "list_models",
        "list_pretrained",
        "load",
        "losses",
        "metrics",
        "models",
        "outputs",
        "postprocess",
        "training",
        "unfreeze_encoder",
        "zoo",
    ]


def test_every_registered_builder_is_exported_and_documented():
    # No hand-kept list: the registry says which builders exist; each must
    # be exported and have its section in docs/models.md and its row in
    # the README's table.
    builders = {
        registry.get_spec(name).builder.__name__
        for name in kerasseg.list_models()
    }
    assert sorted(builders) == sorted(kerasseg.models.__all__)
    models_md = (DOCS[0].parent / "models.md").read_text()
    readme = (DOCS[0].parent.parent / "README.md").read_text()
    for name in builders:
        assert name in models_md, name
        assert f"`kerasseg.models.{name}`" in readme or f"`{name}`" in readme


def test_examples_exist_on_every_public_builder():
    for name in kerasseg.models.__all__:
        assert ">>>" in getattr(kerasseg.models, name).__doc__, name
