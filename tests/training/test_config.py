"""Configs are checked before anything trains; errors name the key."""

import pathlib

import pytest
import yaml

from kerasseg import cli
from kerasseg.training import config
from tests.training.conftest import small_config

BASE = {
    "model": {"name": "unet_tiny", "num_classes": 2},
    "data": {"dataset": "nuclei"},
}


def _with(**sections):
    raw = {k: dict(v) for k, v in BASE.items()}
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return raw


def test_defaults_fill_in_and_overrides_are_typed():
    resolved = config.load(
        raw=BASE, overrides=["train.epochs=3", "train.learning_rate=1e-2"]
    )
    assert resolved["train"]["epochs"] == 3
    assert resolved["train"]["learning_rate"] == 0.01
    assert (
        resolved["train"]["batch_size"]
        == config.DEFAULTS["train"]["batch_size"]
    )
    assert set(resolved) == set(config.SCHEMA)


@pytest.mark.parametrize(
    "raw, message",
    [
        (_with(train={"epoch": 3}), r"Unknown key 'train.epoch'.*'epochs'"),
        ({**BASE, "trian": {}}, r"Unknown section 'trian'.*'train'"),
        (
            _with(train={"epochs": "ten"}),
            r"train.epochs must be an integer; got 'ten'",
        ),
        (_with(train={"epochs": 2.5}), r"train.epochs must be an integer"),
        (_with(train={"augment": True}), r"Unknown key 'train.augment'"),
        (
            _with(train={"precision": "float8"}),
            r"train.precision must be one of",
        ),
        (_with(train={"epochs": 0}), r"train.epochs must be > 0"),
        (
            _with(model={"num_classes": 5}, train={"mode": "binary"}),
            r"train.mode='binary' needs model.num_classes=1",
        ),
        (
            _with(model={"num_classes": 5}),
            r"data.dataset='nuclei' has 2 classes",
        ),
        (
            _with(model={"name": "unet_tiniest"}),
            r"model.name 'unet_tiniest'.*'unet_tiny'",
        ),
        (
            _with(model={"name": "conv_autoencoder_tiny"}),
            r"reconstruction model",
        ),
        (
            _with(data={"augment": True, "image_size": [64, 64]}),
            r"data.ignore_index",
        ),
        (_with(data={"augment": True}), r"data.image_size"),
        (
            _with(data={"image_size": [64]}),
            r"data.image_size must be \[height, width\]",
        ),
        (_with(train={"metrics": ["miou"]}), r"unknown metric 'miou'"),
        (
            _with(train={"monitor": "val_recall"}),
            r"train.monitor='val_recall' is not computed",
        ),
        (
            _with(train={"deterministic": True, "jit_compile": "on"}),
            r"train.deterministic=true turns XLA off",
        ),
        (
            _with(train={"class_weights": [1, 2, 3]}),
            r"train.class_weights needs 2 numbers",
        ),
        (
            {"model": {"name": "unet_tiny", "num_classes": 2}},
            r"data.train_images is required",
        ),
        (
            _with(
                model={"num_classes": 11},
                data={"dataset": "fashion_scenes", "options": {"num_scene": 9}},
            ),
            r"Unknown key 'data.options.num_scene'.*'num_scenes'",
        ),
        (
            _with(data={"options": {"num_scenes": 9}}),
            r"Unknown key 'data.options.num_scenes'.*Options: train_subset",
        ),
        (
            _with(
                model={
                    "name": "unetplusplus_tiny",
                    "options": {"deep_supervision": True},
                }
            ),
            r"model.options.deep_supervision: `kerasseg train` does not",
        ),
        (
            _with(data={"repeat": True}),
            r"data.repeat makes the training data endless.*"
            r"train.steps_per_epoch",
        ),
        (
            {
                "model": {"name": "unet_tiny", "num_classes": 2},
                "data": {"train_images": "a", "train_masks": "b"},
            },
            r"train.monitor='val_mean_iou' needs validation data",
        ),
    ],
)
def test_bad_configs_are_rejected_naming_the_key(raw, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(raw=raw)


def test_bad_override_syntax_is_named():
    with pytest.raises(config.ConfigError, match="section.key=value"):
        config.load(raw=BASE, overrides=["epochs"])
    with pytest.raises(config.ConfigError, match="Unknown key 'train.epoch'"):
        config.load(raw=BASE, overrides=["train.epoch=3"])


def test_yaml_and_toml_files_read_the_same(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "model: {name: unet_tiny, num_classes: 2}\n"
        "data: {dataset: nuclei}\ntrain: {epochs: 4}\n"
    )
    (tmp_path / "c.toml").write_text(
        '[model]\nname = "unet_tiny"\nnum_classes = 2\n'
        '[data]\ndataset = "nuclei"\n[train]\nepochs = 4\n'
    )
    assert config.load(tmp_path / "c.yaml") == config.load(tmp_path / "c.toml")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(config.ConfigError, match=".yaml, .yml or .toml"):
        config.load(tmp_path / "c.json")


def test_every_example_config_is_valid():
    import pathlib

    import kerasseg

    folder = pathlib.Path(kerasseg.__file__).parent / "configs"
    files = sorted(folder.glob("*.yaml"))
    assert files
    for path in files:
        config.load(path)


def test_cli_compute_flags_are_checked_like_config_keys(
    folder, tmp_path, capsys
):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(small_config(*folder)))
    for flag, value, key in (
        ("--jit-compile", "sometimes", "train.jit_compile"),
        ("--precision", "float64", "train.precision"),
        ("--strategy", "tpu", "train.strategy"),
    ):
        assert cli.main(["train", str(path), flag, value]) == 2
        message = capsys.readouterr().err
        assert key in message and value in message, message


def test_dataset_options_reach_the_dataset(monkeypatch):
    from kerasseg import data
    from kerasseg.training import builders

    seen = {}

    def fake(split, **kwargs):
        seen[split] = kwargs
        return "dataset"

    monkeypatch.setattr(data, "fashion_scenes", fake)
    resolved = config.load(
        raw={
            "model": {"name": "unet_tiny", "num_classes": 11},
            "data": {
                "dataset": "fashion_scenes",
                "options": {"num_scenes": 7, "scene_size": [32, 32]},
            },
        }
    )
    builders.dataset(resolved, "train")
    builders.dataset(resolved, "val")
    for split in ("train", "test"):
        assert seen[split]["num_scenes"] == 7
        assert seen[split]["scene_size"] == [32, 32]
        assert seen[split]["num_classes"] == 11


RECIPE_CONFIGS = sorted(
    (pathlib.Path(__file__).parents[2] / "benchmarks" / "recipes").glob(
        "*/*.yaml"
    )
)


@pytest.mark.parametrize("path", RECIPE_CONFIGS, ids=lambda p: p.stem)
def test_the_measured_recipes_configs_are_valid(path, tmp_path):
    # benchmarks/recipes.py trains them; a stale key fails here first.
    # (DANN's target images, and the nuclei autoencoder whose run folder
    # starts the pretrained U-Net, are made by the benchmark before it
    # runs.)
    raw = config.read(path)
    overrides = []
    if "target_images" in (raw.get("data") or {}):
        overrides = [f"data.target_images={tmp_path}"]
    if str((raw.get("model") or {}).get("encoder_from")).startswith("runs/"):
        (tmp_path / "model.keras").touch()
        overrides = [f"model.encoder_from={tmp_path}"]
    assert config.load(path, overrides)["model"]["name"]
