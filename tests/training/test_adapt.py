"""AdaBN (kerasseg.training.adapt): BatchNorm statistics from new,
unlabelled images, in Python and through `kerasseg adapt`."""

import keras
import numpy as np
import pytest
from PIL import Image

from kerasseg import cli
from kerasseg.training.adapt import adapt_batch_norm


def _model():
    inputs = keras.Input((None, None, 3))
    x = keras.layers.BatchNormalization(name="first")(inputs)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(x)
    frozen = keras.layers.BatchNormalization(name="frozen")
    frozen.trainable = False
    x = frozen(x)
    return keras.Model(inputs, keras.layers.Conv2D(2, 1)(x))


def _folder(root, count=1, size=24, seed=0):
    root.mkdir()
    rng = np.random.default_rng(seed)
    images = []
    for i in range(count):
        image = rng.integers(0, 256, (size, size, 3)).astype("uint8")
        image[..., 1] //= 4  # channels with different statistics
        Image.fromarray(image).save(root / f"{i}.png")
        images.append(image)
    return root, np.stack(images).astype("float64")


def test_statistics_become_those_of_the_images(tmp_path):
    # One image, cropped whole: every crop is that image flipped or
    # rotated, so each batch's statistics are the image's own, and so is
    # their average.
    folder, images = _folder(tmp_path / "new")
    model = _model()
    conv = keras.ops.convert_to_numpy(model.get_layer("conv").kernel)
    frozen = model.get_layer("frozen")
    frozen.moving_mean.assign(np.full(4, 3.0))
    used = adapt_batch_norm(model, str(folder), batches=3, batch_size=2)
    assert used == 3
    first = model.get_layer("first")
    pixels = images.reshape(-1, 3)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(first.moving_mean),
        pixels.mean(0),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(first.moving_variance),
        pixels.var(0),
        rtol=1e-4,
    )
    # Nothing else moves: the convolution, the frozen BatchNorm.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("conv").kernel), conv
    )
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(frozen.moving_mean), np.full(4, 3.0)
    )


def test_bad_input_is_named_before_any_work(tmp_path):
    folder, _ = _folder(tmp_path / "new")
    no_norm = keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Conv2D(2, 1)]
    )
    with pytest.raises(ValueError, match="no trainable BatchNormalization"):
        adapt_batch_norm(no_norm, str(folder))
    with pytest.raises(FileNotFoundError, match="No such folder"):
        adapt_batch_norm(_model(), str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No images"):
        adapt_batch_norm(_model(), str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="batches"):
        adapt_batch_norm(_model(), str(folder), batches=0)


def test_kerasseg_adapt_writes_an_adapted_model(tmp_path, capsys):
    folder, images = _folder(tmp_path / "new", count=3, size=40)
    model = _model()
    model.save(tmp_path / "m.keras")
    out = tmp_path / "adapted" / "m.keras"
    argv = ["adapt", str(tmp_path / "m.keras"), "--images", str(folder)]
    assert cli.main([*argv, "--out", str(out), "--crop", "16"]) == 0
    assert "3 batches" not in capsys.readouterr().out  # 50 by default
    adapted = keras.saving.load_model(out, safe_mode=True)
    mean = keras.ops.convert_to_numpy(adapted.get_layer("first").moving_mean)
    # Random 16-px crops of three images: near their mean, far from 0.
    np.testing.assert_allclose(mean, images.reshape(-1, 3).mean(0), rtol=0.1)
    # The file is not replaced without --overwrite; bad values are named
    # before the model loads.
    assert cli.main([*argv, "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main([*argv, "--out", str(tmp_path / "m.h5")]) == 2
    assert ".keras file" in capsys.readouterr().err
    bad = [*argv, "--out", str(tmp_path / "x.keras"), "--batches", "0"]
    assert cli.main(bad) == 2
    assert "--batches must be at least 1" in capsys.readouterr().err
