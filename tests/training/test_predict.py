"""Tiled prediction: whole-image equality when one tile covers it, close
agreement and no seams when it does not."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.training import predict


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(1)
    return kerasseg.build("unet_classic_tiny", num_classes=3)


def _image(size, seed=0):
    rng = np.random.default_rng(seed)
    blocks = rng.uniform(0, 255, (size[0] // 8, size[1] // 8, 3))
    return blocks.repeat(8, 0).repeat(8, 1).astype("float32")


def test_one_tile_equals_the_whole_image(model):
    image = _image((48, 40))
    got = predict.predict_tiled(model, image, tile=64)
    want = _softmax(model.predict(image[None], verbose=0)[0])
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_gaussian_window_is_the_closed_form():
    size = 64
    window = predict._gaussian(size, 0.125)
    sigma = size / 8
    centre = (size - 1) / 2
    for i in (0, 10, 31, 32, 63):
        want = np.exp(-((i - centre) ** 2) / (2 * sigma**2))
        assert window[i] == pytest.approx(want, rel=1e-6)
    np.testing.assert_allclose(window, window[::-1])
    assert window.max() == pytest.approx(np.exp(-(0.5**2) / (2 * sigma**2)))


@pytest.mark.parametrize("blend", ["gaussian", "linear"])
def test_tiles_agree_with_the_whole_image_without_seams(model, blend):
    image = _image((160, 224))
    tiled = predict.predict_tiled(
        model, image, tile=64, overlap=0.25, blend=blend
    )
    whole = _softmax(model.predict(image[None], verbose=0)[0])
    assert tiled.shape == whole.shape
    np.testing.assert_allclose(tiled.sum(-1), 1.0, atol=1e-5)
    # Random weights give near-ties, so a few argmaxes flip; the
    # probabilities themselves stay close.
    assert np.abs(tiled - whole).mean() < 0.01
    assert (tiled.argmax(-1) == whole.argmax(-1)).mean() > 0.95

    # A seam shows as a jump between neighbouring rows (columns) that the
    # whole-image prediction does not have. Tiles that meet without
    # blending (overlap 0) have such jumps; blended ones far smaller.
    def seam(p):
        return max(
            (
                np.abs(np.diff(p, axis=a)).max(axis=(1 - a, 2))
                - np.abs(np.diff(whole, axis=a)).max(axis=(1 - a, 2))
            ).max()
            for a in (0, 1)
        )

    plain = predict.predict_tiled(model, image, tile=64, overlap=0.0)
    assert seam(tiled) < 0.25
    assert seam(plain) > 2 * seam(tiled), (seam(plain), seam(tiled))


def test_bad_arguments_are_named(model):
    with pytest.raises(ValueError, match="overlap"):
        predict.predict_tiled(model, _image((16, 16)), overlap=0.9)
    with pytest.raises(ValueError, match="blend"):
        predict.predict_tiled(model, _image((16, 16)), blend="cosine")
    with pytest.raises(ValueError, match="sigma_scale"):
        predict.predict_tiled(model, _image((16, 16)), sigma_scale=0)
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        predict.predict_tiled(model, np.zeros((16, 16)))
    with pytest.raises(ValueError, match="`batch_size` must be an integer"):
        predict.predict_tiled(model, _image((16, 16)), batch_size=0)


def test_predict_files_measures_the_compile_setting(tmp_path, monkeypatch):
    from PIL import Image

    from kerasseg.training import xla

    Image.fromarray(_image((40, 48)).astype("uint8")).save(tmp_path / "a.png")
    model = kerasseg.build("unet_classic_tiny", num_classes=3)
    with pytest.raises(ValueError, match="jit_compile.*'sometimes'"):
        predict.predict_files(
            model, [tmp_path / "a.png"], tmp_path, jit_compile="sometimes"
        )
    seen = []

    def faster_xla(model, x, y=None, **kwargs):
        seen.append(x.shape)
        return True, {"graph": 2.0, "xla": 1.0}

    monkeypatch.setattr(xla, "choose_jit_compile", faster_xla)
    out = tmp_path / "out"
    written = predict.predict_files(
        model, [tmp_path / "a.png"], out, tile=32, batch_size=2
    )
    # Measured once, on a batch of the first image's tiles, and used.
    assert seen == [(2, 32, 32, 3)]
    assert model.jit_compile is True
    assert [p.endswith("a.png") for p in written] == [True]


def test_channels_are_matched_to_the_model():
    from kerasseg.training.predict import match_channels

    rgba = np.random.default_rng(0).uniform(0, 255, (5, 6, 4))
    grey = match_channels(rgba, 1)
    np.testing.assert_allclose(grey[..., 0], rgba[..., :3].mean(-1))
    np.testing.assert_array_equal(match_channels(rgba, 3), rgba[..., :3])
    np.testing.assert_array_equal(
        match_channels(grey, 3), np.repeat(grey, 3, axis=-1)
    )
    with pytest.raises(
        ValueError, match="x.png: 4 channels; the model takes 2"
    ):
        match_channels(rgba, 2, "x.png")


def _threshold_model():
    # Class 1 where the grey level exceeds 128: a 1×1 convolution with
    # fixed weights, so the expected objects are known exactly.
    inputs = keras.Input((None, None, 1))
    conv = keras.layers.Conv2D(2, 1)
    model = keras.Model(
        inputs, keras.layers.Activation("softmax")(conv(inputs))
    )
    conv.set_weights([np.array([[[[-0.1, 0.1]]]]), np.array([12.8, -12.8])])
    model.class_names = ("background", "nucleus")
    return model


@pytest.mark.parametrize(
    "method, objects", [("components", 1), ("watershed", 2)]
)
def test_predict_files_writes_instances_and_objects(tmp_path, method, objects):
    import csv

    from PIL import Image

    yy, xx = np.mgrid[:40, :60]
    two_touching = ((yy - 20) ** 2 + (xx - 18) ** 2 < 100) | (
        (yy - 20) ** 2 + (xx - 36) ** 2 < 100
    )
    speck = (yy == 2) & (xx == 55)
    image = np.where(two_touching | speck, 200, 20).astype("uint8")
    Image.fromarray(image).save(tmp_path / "cells.png")
    predict.predict_files(
        _threshold_model(),
        [tmp_path / "cells.png"],
        tmp_path / "out",
        jit_compile=False,
        instances=method,
        min_size=2,
    )
    labels = np.asarray(Image.open(tmp_path / "out" / "cells_instances.png"))
    assert labels.max() == objects
    assert np.array_equal(labels > 0, two_touching)  # the speck dropped
    with open(tmp_path / "out" / "cells_objects.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == objects
    assert {r["class_name"] for r in rows} == {"nucleus"}
    assert sum(int(r["area"]) for r in rows) == two_touching.sum()


def test_predict_files_names_a_bad_instances_method(tmp_path):
    with pytest.raises(ValueError, match="instances.*'blobs'"):
        predict.predict_files(
            _threshold_model(), [], tmp_path, instances="blobs"
        )


def _touching_discs_files(folder):
    """An image of two touching bright discs, its mask and its instance
    labels (one label per disc) in images/, masks/ and instances/."""
    from PIL import Image

    yy, xx = np.mgrid[:40, :60]
    left = (yy - 20) ** 2 + (xx - 18) ** 2 < 100
    right = ((yy - 20) ** 2 + (xx - 36) ** 2 < 100) & ~left
    for sub in ("images", "masks", "instances"):
        (folder / sub).mkdir()
    Image.fromarray(np.where(left | right, 200, 20).astype("uint8")).save(
        folder / "images" / "a.png"
    )
    Image.fromarray((left | right).astype("uint8")).save(
        folder / "masks" / "a.png"
    )
    labels = (left * 1 + right * 2).astype("uint16")
    Image.fromarray(labels).save(folder / "instances" / "a.png")
    return left, right


def test_evaluate_objects_counts_the_split_by_hand(tmp_path):
    from kerasseg.training import evaluation

    left, right = _touching_discs_files(tmp_path)
    pairs = [(tmp_path / "images" / "a.png", tmp_path / "instances" / "a.png")]
    model = _threshold_model()
    split = evaluation.evaluate_objects(model, pairs, method="watershed")
    assert split["f1@0.5"] == 1.0 and split["objects"] == 2
    joined = evaluation.evaluate_objects(model, pairs, method="components")
    # One object covering both discs: IoU with the larger disc
    # |left| / |left ∪ right| just above 0.5, so TP 1, FN 1.
    assert left.sum() / (left | right).sum() > 0.5
    # (Scores are rounded to 4 places.)
    assert joined["f1@0.5"] == pytest.approx(2 / 3, abs=1e-4)
    assert joined["pq"] == pytest.approx(
        left.sum() / (left | right).sum() * (1 / 1.5), abs=1e-4
    )
    # The mask is exact: every boundary score is perfect.
    assert joined["boundary_f1"] == 1.0 and joined["hd95"] == 0.0
    assert "F1 (IoU > 0.5)" in evaluation.objects_table(split)
    # A colour label image is refused, naming the file.
    from PIL import Image

    rgb = tmp_path / "instances" / "rgb.png"
    Image.new("RGB", (60, 40)).save(rgb)
    with pytest.raises(ValueError, match="rgb.png: an instance label image"):
        evaluation.evaluate_objects(model, [(pairs[0][0], rgb)])


def test_kerasseg_evaluate_reports_objects_of_an_instance_folder(
    tmp_path, capsys
):
    from kerasseg import cli

    _touching_discs_files(tmp_path)
    _threshold_model().save(tmp_path / "m.keras")
    argv = ["evaluate", str(tmp_path / "m.keras")]
    argv += ["--images", str(tmp_path / "images")]
    argv += ["--masks", str(tmp_path / "masks")]
    assert cli.main(argv + ["--instances", str(tmp_path / "instances")]) == 0
    out = capsys.readouterr().out
    assert "DSB 2018 score" in out and "2 true objects in 1 images" in out
    (tmp_path / "instances" / "a.png").rename(tmp_path / "instances" / "b.png")
    assert cli.main(argv + ["--instances", str(tmp_path / "instances")]) == 2
    assert "without a mask: ['a.png']" in capsys.readouterr().err
