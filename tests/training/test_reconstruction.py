"""`kerasseg train` for models that output their input (autoencoders)."""

import json

import keras
import numpy as np
import pytest
from PIL import Image

from kerasseg import data
from kerasseg.training import config
from kerasseg.training import run
from tests.training.conftest import write_folder

AUTOENCODER = {"name": "conv_autoencoder_tiny"}


def _raw(**sections):
    raw = {
        "model": dict(AUTOENCODER),
        "data": {"dataset": "nuclei"},
    }
    for section, values in sections.items():
        raw.setdefault(section, {}).update(values)
    return raw


def test_a_reconstruction_config_gets_its_task_defaults():
    resolved = config.load(raw=_raw())
    assert resolved["model"]["num_classes"] is None
    assert resolved["train"]["loss"] == "mse"
    assert resolved["train"]["metrics"] == ["mae", "psnr"]
    assert resolved["train"]["monitor"] == "val_loss"
    # What the config states is kept.
    given = config.load(raw=_raw(train={"loss": "mae", "monitor": "psnr"}))
    assert given["train"]["loss"] == "mae"
    assert given["train"]["monitor"] == "psnr"
    # A segmentation config keeps the schema's defaults.
    seg = config.load(
        raw={
            "model": {"name": "unet_tiny", "num_classes": 2},
            "data": {"dataset": "nuclei"},
        }
    )
    assert seg["train"]["loss"] == config.DEFAULTS["train"]["loss"]


@pytest.mark.parametrize(
    "raw, message",
    [
        (
            _raw(model={"num_classes": 2}),
            r"model.num_classes is set, but 'conv_autoencoder_tiny' is a "
            r"reconstruction model",
        ),
        (
            _raw(train={"loss": "dice"}),
            r"train.loss='dice' is not a loss of reconstruction models.*"
            r"'mse', 'mae'",
        ),
        (
            _raw(train={"metrics": ["mean_iou"]}),
            r"unknown metric 'mean_iou' for reconstruction models.*psnr",
        ),
        (
            _raw(train={"class_weights": [1, 2]}),
            r"train.class_weights is set.*it has no classes",
        ),
        (_raw(train={"mode": "binary"}), r"train.mode='binary' reads class"),
        (
            _raw(data={"class_names": ["a", "b"]}),
            r"data.class_names is set",
        ),
        (
            _raw(
                data={
                    "dataset": "folders",
                    "train_images": "a",
                    "train_masks": "b",
                }
            ),
            r"data.train_masks is set.*learns from the images alone",
        ),
        (
            _raw(data={"dataset": "folders", "train_images": "a"}),
            r"train.monitor='val_loss' needs validation data: set "
            r"data.val_images",
        ),
        (
            {
                "model": {"name": "unet_tiny", "num_classes": 2},
                "data": {"dataset": "nuclei"},
                "train": {"loss": "mse"},
            },
            r"train.loss='mse' is not a loss of segmentation models",
        ),
    ],
)
def test_bad_reconstruction_configs_name_the_key(raw, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(raw=raw)


def test_from_images_reads_a_folder_without_masks(tmp_path):
    images, _ = write_folder(tmp_path / "d", count=3, size=16)
    batches = list(data.from_images(images, batch_size=3, shuffle=False))
    ((x, y),) = batches
    files = sorted(images.iterdir())
    want = np.stack([np.asarray(Image.open(p), "float32") for p in files])
    np.testing.assert_array_equal(x.numpy(), want)
    assert y.shape == (3, 16, 16) and not y.numpy().any()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"No images .* found in .*empty"):
        data.from_images(empty)


@pytest.mark.slow  # second tier: an end-to-end run
def test_train_an_autoencoder_on_unlabelled_images(tmp_path):
    images, _ = write_folder(tmp_path / "d", count=8, size=32)
    result = run.train(
        {
            "model": {
                "name": "conv_autoencoder",
                "options": {
                    "depth": 2,
                    "base_filters": 8,
                    "output_scale": 255.0,
                },
            },
            "data": {
                "dataset": "folders",
                "train_images": str(images),
                "val_images": str(images),
            },
            "train": {
                "epochs": 6,
                "batch_size": 4,
                "learning_rate": 0.01,
                "jit_compile": "off",
                "verbose": 0,
            },
            "export": {"saved_model": False},
        },
        tmp_path / "run",
    )
    history = result["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    assert {"val_loss", "val_mae", "val_psnr"} <= set(history[-1])
    # The evaluation, recomputed here from the saved file and the images.
    model = keras.saving.load_model(result["model_path"], safe_mode=True)
    pixels = np.stack(
        [np.asarray(Image.open(p), "float64") for p in sorted(images.iterdir())]
    )
    output = np.asarray(model.predict(pixels, verbose=0), "float64")
    per_image = ((output - pixels) ** 2).mean(axis=(1, 2, 3))
    saved = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    assert saved["images"] == 8
    assert saved["mse"] == pytest.approx(per_image.mean(), rel=1e-3)
    assert saved["mae"] == pytest.approx(
        np.abs(output - pixels).mean(), rel=1e-3
    )
    psnr = np.mean(10 * np.log10(255.0**2 / per_image))
    assert saved["psnr"] == pytest.approx(psnr, abs=1e-3)
    assert "PSNR" in (tmp_path / "run" / "evaluation.md").read_text()
    # The run folder's resolved config (no num_classes) reads back: the
    # same command finds the run complete.
    again = config.load(tmp_path / "run" / "config.yaml")
    assert again["model"]["num_classes"] is None


def test_reconstruction_head_scale_multiplies_the_output():
    from kerasseg import heads

    x = keras.Input((4, 4, 3))
    plain = keras.Model(x, heads.reconstruction_head(x, 1, name="a"))
    scaled = keras.Model(x, heads.reconstruction_head(x, 1, scale=255.0))
    scaled.set_weights(plain.get_weights())
    features = np.random.default_rng(0).normal(size=(2, 4, 4, 3))
    np.testing.assert_allclose(
        scaled.predict(features, verbose=0),
        255.0 * plain.predict(features, verbose=0),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="`scale` must be > 0"):
        heads.reconstruction_head(x, 1, scale=0)


@pytest.mark.slow  # second tier: an end-to-end run
def test_a_unet_config_starts_from_an_autoencoder_runs_encoder(tmp_path):
    # Autoencoder pretraining in two configs: the autoencoder's run folder
    # is the U-Net's model.encoder_from.
    images, masks = write_folder(tmp_path / "d", count=4, size=32)
    encoder = {"depth": 2, "base_filters": 4}
    pretrain = run.train(
        {
            "model": {"name": "conv_autoencoder", "options": encoder},
            "data": {"train_images": str(images), "val_images": str(images)},
            "train": {"epochs": 1, "batch_size": 4, "jit_compile": "off"},
            "export": {"saved_model": False},
        },
        tmp_path / "ae",
    )
    unet = config.load(
        raw={
            "model": {
                "name": "unet",
                "num_classes": 2,
                "options": encoder,
                "encoder_from": str(tmp_path / "ae"),
            },
            "data": {
                "train_images": str(images),
                "train_masks": str(masks),
                "val_images": str(images),
                "val_masks": str(masks),
            },
            "train": {"epochs": 1, "batch_size": 4, "jit_compile": "off"},
            "export": {"saved_model": False},
        }
    )
    from kerasseg.training import builders

    source = keras.saving.load_model(pretrain["model_path"])
    started = builders.model(unet)
    for a, b in zip(
        source.get_layer("encoder").weights,
        started.get_layer("encoder").weights,
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), a.path)
    assert np.isfinite(run.train(unet, tmp_path / "unet")["history"][0]["loss"])
    for bad, message in [
        (str(tmp_path / "nowhere"), "neither a zoo entry"),
        (str(images), "a folder without model.keras"),
    ]:
        with pytest.raises(config.ConfigError, match=message):
            config.load(
                raw={
                    **unet,
                    "model": {**unet["model"], "encoder_from": bad},
                }
            )
