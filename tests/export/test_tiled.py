"""serve_tiled: sliding windows inside the SavedModel, against
`predict_tiled` (the Python sliding window), and the settings it
refuses before writing anything."""

import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg import export
from kerasseg.training.predict import predict_tiled
from tests.models import harness

SIZES = [(70, 90), (20, 24), (33, 100)]  # several tiles, one, one row


def _served(path):
    return tf.saved_model.load(path).signatures["serve_tiled"]


@pytest.mark.parametrize(
    "blend", ["gaussian", pytest.param("linear", marks=pytest.mark.slow)]
)
def test_serve_tiled_equals_predict_tiled(blend, tmp_path):
    model = kerasseg.build("unet_tiny", num_classes=3)
    path = export.saved_model(
        model, tmp_path, tile=32, tile_overlap=0.25, tile_blend=blend
    )
    served = _served(path)
    rng = np.random.default_rng(0)
    for size in SIZES:
        x = rng.uniform(0, 255, (2, *size, 3)).astype("float32")
        answer = served(images=tf.constant(x))
        want = np.stack(
            [
                predict_tiled(model, image, tile=32, overlap=0.25, blend=blend)
                for image in x
            ]
        )
        assert answer["probabilities"].shape == (2, *size, 3)
        np.testing.assert_allclose(answer["probabilities"], want, atol=1e-4)
        np.testing.assert_array_equal(answer["class_ids"], want.argmax(-1))
    # The plain signatures are still there beside it.
    signatures = tf.saved_model.load(path).signatures
    assert {"serving_default", "serve_uint8", "serve_bytes"} <= set(signatures)


@pytest.mark.parametrize("per_call", [1, 5])
def test_serve_tiled_takes_any_number_of_tile_positions_a_call(
    per_call, tmp_path
):
    # 70×90 in tiles of 32 is 3 rows × 4 columns: 5 a call leaves 2 for the
    # last call, 1 a call is the loop over positions.
    model = kerasseg.build("unet_tiny", num_classes=3)
    path = export.saved_model(
        model, tmp_path, tile=32, tile_batch_size=per_call
    )
    x = np.random.default_rng(4).uniform(0, 255, (2, 70, 90, 3))
    answer = _served(path)(images=tf.constant(x, tf.float32))
    want = np.stack([predict_tiled(model, image, tile=32) for image in x])
    np.testing.assert_allclose(answer["probabilities"], want, atol=1e-4)


@pytest.mark.slow
def test_serve_tiled_of_a_multitask_model_answers_its_mask(tmp_path):
    model = harness.build("multitask_unet_tiny")
    path = export.saved_model(model, tmp_path, tile=32)
    x = np.random.default_rng(1).uniform(0, 255, (1, 40, 50, 3))
    answer = _served(path)(images=tf.constant(x, tf.float32))
    assert sorted(answer) == ["mask_class_ids", "mask_probabilities"]
    want = predict_tiled(model, x[0], tile=32)
    np.testing.assert_allclose(answer["mask_probabilities"][0], want, atol=1e-4)


@pytest.mark.parametrize(
    "name, options, message",
    [
        ("unet_tiny", {"tile": 4}, "at least 8 pixels"),
        ("unet_tiny", {"tile": 32, "tile_overlap": 0.7}, "overlap"),
        ("unet_tiny", {"tile": 32, "tile_blend": "cubic"}, "blend"),
        ("unet_tiny", {"tile_overlap": 0.1}, "give its `tile` too"),
        ("unet_tiny", {"tile_batch_size": 2}, "give its `tile` too"),
        ("unet_tiny", {"tile": 32, "tile_batch_size": 0}, "tile_batch_size"),
        ("unet_tiny", {"tile": 32, "tile_batch_size": 1.5}, "integer >= 1"),
        ("conv_autoencoder_tiny", {"tile": 32}, "per-pixel class-score"),
    ],
)
def test_bad_tiling_is_refused_before_writing(name, options, message, tmp_path):
    model = harness.build(name)
    with pytest.raises(ValueError, match=message):
        export.saved_model(model, tmp_path / "out", **options)
    assert not (tmp_path / "out").exists()


def test_a_fixed_input_needs_its_own_tile_size(tmp_path):
    model = kerasseg.build("unet_tiny", num_classes=2, input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="fixed 32×32 input"):
        export.saved_model(model, tmp_path / "out", tile=48)
    assert not (tmp_path / "out").exists()


def test_cli_export_takes_tile(tmp_path, capsys):
    from kerasseg import cli

    model = kerasseg.build("unet_tiny", num_classes=3)
    model.save(tmp_path / "unet.keras")
    argv = ["export", str(tmp_path / "unet.keras"), "--out"]
    lite = [*argv, str(tmp_path / "lite"), "--format", "tflite"]
    assert cli.main([*lite, "--tile", "32"]) == 2
    err = capsys.readouterr().err
    assert "--tile only apply to --format saved_model" in err
    for flags in (["--tile-overlap", "0.1"], ["--tile-batch-size", "2"]):
        assert cli.main([*lite, *flags]) == 2
        assert f"{flags[0]} only apply" in capsys.readouterr().err
        assert cli.main([*argv, str(tmp_path / "s0"), *flags]) == 2
        assert "give its `tile` too" in capsys.readouterr().err
    assert not (tmp_path / "s0").exists()
    assert cli.main([*argv, str(tmp_path / "s"), "--tile", "32"]) == 0
    path = capsys.readouterr().out.strip()
    x = np.random.default_rng(2).uniform(0, 255, (1, 45, 70, 3))
    answer = _served(path)(images=tf.constant(x, tf.float32))
    want = predict_tiled(model, x[0], tile=32)
    np.testing.assert_allclose(answer["probabilities"][0], want, atol=1e-4)


@pytest.mark.slow  # a 2048×2048 image through JSON both ways
def test_a_rest_request_for_a_2048_image_gives_predict_tiled(tmp_path):
    import json

    from tests.export.test_saved_model import _rest

    model = harness.build("unet_tiny", channels=1, num_classes=2)
    path = export.saved_model(model, tmp_path, tile=512, warmup_requests=False)
    served = tf.saved_model.load(path).signatures["serve_tiled"]
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (2048, 2048, 1)).astype("uint8")
    request = {"signature_name": "serve_tiled"}
    body = json.dumps({**request, "inputs": {"images": [image.tolist()]}})
    outputs = _rest(served, body)["outputs"]
    want = predict_tiled(model, image.astype("float32"), tile=512)
    got = np.asarray(outputs["probabilities"], "float32")[0]
    assert got.shape == (2048, 2048, 2)
    np.testing.assert_allclose(got, want, atol=1e-4)
