"""A tiny entry of the tests' own, published into a temporary zoo."""

import pytest

import kerasseg
from kerasseg.training import config as config_module
from kerasseg.zoo import records
from kerasseg.zoo.publish import write_entry

NAME = "unet_tiny.test"
CONFIG = {
    "model": {"name": "unet_tiny", "num_classes": 2},
    "data": {"dataset": "nuclei"},
    "train": {"monitor": "loss"},
}


@pytest.fixture
def entry(tmp_path, monkeypatch):
    """A tiny published entry in a temporary zoo, an empty cache, no URL."""
    folder = tmp_path / "zoo" / NAME
    folder.mkdir(parents=True)
    monkeypatch.setenv(records.ENV_DIR, str(tmp_path / "zoo"))
    monkeypatch.setenv("KERASSEG_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KERASSEG_ZOO_URL", raising=False)
    monkeypatch.delenv("KERASSEG_OFFLINE", raising=False)
    config = config_module.load(raw=CONFIG)
    model = kerasseg.build(
        "unet_tiny", input_shape=(None, None, 1), num_classes=2
    )
    # Weights unlike a fresh model's, so a load is visible.
    model.set_weights([w + 0.5 for w in model.get_weights()])
    record = write_entry(
        folder,
        NAME,
        model,
        config,
        summary="A test entry.",
        training={"time": "0 min", "machine": "here", "commands": []},
    )
    return folder, record, model
