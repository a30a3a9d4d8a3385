"""The multi-task U-Net's "distance" output: what it is, how prediction,
tiling, test-time augmentation, saving and the SavedModel read it, and
how the watershed uses it."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg import postprocess
from kerasseg.inference import tta
from kerasseg.training import predict
from tests.test_inference import _loop


def _model(**kwargs):
    return kerasseg.models.multitask_unet(
        input_shape=(None, None, 1),
        num_classes=2,
        num_labels=1,
        distance=True,
        encoder_options={"depth": 2, "base_filters": 4},
        **kwargs,
    )


def _x(batch=2, height=16, width=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (batch, height, width, 1)).astype("float32")


def test_distance_output_is_a_value_map_in_unit_range():
    model = _model()
    assert sorted(model.output) == ["distance", "label", "mask"]
    out = model.predict(_x(), verbose=0)
    assert out["distance"].shape == (2, 16, 16, 1)
    assert 0 <= out["distance"].min() and out["distance"].max() <= 1
    described = {o.key: o for o in kerasseg.outputs.describe(model)}
    assert described["distance"].kind == "distance"
    assert described["distance"].activation is None  # already its values
    assert described["mask"].kind == "segmentation"
    assert predict.distance_output(model) == "distance"
    plain = kerasseg.build("multitask_unet_tiny", num_classes=2, num_labels=1)
    assert predict.distance_output(plain) is None


def test_input_normalization_is_for_the_conv_encoder_only():
    model = _model(input_normalization="percentile")
    assert "input_normalization" in [layer.name for layer in model.layers]
    with pytest.raises(ValueError, match="`input_normalization` is for the"):
        kerasseg.models.multitask_unet(
            num_labels=1, encoder="resnet18", input_normalization="percentile"
        )


def test_saves_and_reloads_with_safe_mode(tmp_path):
    model = _model()
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = _x()
    want, got = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for key in want:
        np.testing.assert_allclose(got[key], want[key], atol=1e-6)
    assert kerasseg.outputs.describe(loaded) == kerasseg.outputs.describe(model)


def test_tta_averages_the_distance_map_as_values():
    model = _model()
    names = ["identity", "rotate_90", "flip_horizontal"]
    augmented = tta(model, names)
    x = _x()
    got = augmented.predict(x, verbose=0)
    np.testing.assert_allclose(
        got["distance"],
        _loop(model, x, names, lambda v: v, key="distance"),
        atol=1e-5,
    )


def test_predict_tiled_blends_several_outputs_from_the_same_calls():
    model = _model()
    image = _x(1, 40, 52)[0]
    maps = predict.predict_tiled(
        model, image, tile=32, outputs=["mask", "distance"]
    )
    assert sorted(maps) == ["distance", "mask"]
    assert maps["mask"].shape == (40, 52, 2)
    assert maps["distance"].shape == (40, 52, 1)
    # The mask map is the one predict_tiled gives alone.
    np.testing.assert_allclose(
        maps["mask"], predict.predict_tiled(model, image, tile=32), atol=1e-6
    )
    # One tile covering the image: the model's own values, untouched.
    whole = predict.predict_tiled(model, image, tile=64, outputs=["distance"])
    direct = model.predict(image[None], verbose=0)["distance"][0]
    np.testing.assert_allclose(whole["distance"], direct, atol=1e-6)
    probs, distance = predict.predict_with_distance(model, image, tile=32)
    np.testing.assert_allclose(probs, maps["mask"], atol=1e-6)
    np.testing.assert_allclose(distance, maps["distance"][..., 0], atol=1e-6)


@pytest.mark.parametrize(
    "outputs, message",
    [
        (["label"], r"names \['label'\], which are not per-pixel outputs"),
        (["edges"], r"names \['edges'\].* it has \['mask', 'distance'\]"),
        ("mask", r"must be a non-empty list of output keys"),
        ([], r"must be a non-empty list of output keys"),
    ],
)
def test_predict_tiled_names_bad_output_keys(outputs, message):
    with pytest.raises(ValueError, match=message):
        predict.predict_tiled(_model(), _x(1)[0], outputs=outputs)


def test_seeds_are_the_predicted_map_in_normalized_units():
    assert postprocess.seeds(None) == {}
    distance = np.zeros((4, 4), "float32")
    given = postprocess.seeds(distance)
    assert given["distance"] is distance
    assert 0 < given["h"] < 1  # below an object's peak of 1
    # Two touching discs (one blob to connected components): a watershed
    # on their target map, with the seeds' settings, finds both.
    yy, xx = np.mgrid[:40, :50]
    truth = np.zeros((40, 50), "int32")
    truth[(yy - 20) ** 2 + (xx - 15) ** 2 <= 10**2] = 1
    truth[((yy - 20) ** 2 + (xx - 33) ** 2 <= 10**2) & (truth == 0)] = 2
    assert postprocess.connected_components(truth > 0).max() == 1
    labels, _ = postprocess.instances(
        truth > 0,
        method="watershed",
        **postprocess.seeds(postprocess.normalized_distance(truth)),
    )
    assert labels.max() == 2
    assert (labels == truth).mean() > 0.99  # in raster order, as truth


def test_predict_files_writes_instances_cut_on_the_distance_output(
    tmp_path, monkeypatch
):
    from PIL import Image

    model = _model()
    Image.fromarray(_x(1, 24, 24)[0, ..., 0].astype("uint8")).save(
        tmp_path / "a.png"
    )
    seen = {}
    real = postprocess.instances

    def spy(mask, **kwargs):
        seen.update(kwargs)
        return real(mask, **kwargs)

    monkeypatch.setattr(postprocess, "instances", spy)
    predict.predict_files(
        model,
        [tmp_path / "a.png"],
        tmp_path / "out",
        instances="watershed",
        jit_compile=False,
    )
    pixels = _x(1, 24, 24).astype("uint8").astype("float32")
    want = model.predict(pixels, verbose=0)
    np.testing.assert_allclose(
        seen["distance"], want["distance"][0, ..., 0], atol=1e-5
    )
    assert seen["h"] == postprocess.PREDICTED_H
    assert (tmp_path / "out" / "a_instances.png").exists()
