"""Folder datasets: pairing, formats, bad input, augmentation, fit."""

import warnings

import numpy as np
import pytest
from PIL import Image

import kerasseg
from kerasseg.data import Augment
from kerasseg.data import from_folders

IGNORE = 255


def _blocks(rng, size=(48, 64), block=8, classes=3):
    """Class-id blocks and a grey image that is 60 × the class id."""
    low = rng.integers(0, classes, (size[0] // block, size[1] // block))
    mask = low.repeat(block, 0).repeat(block, 1).astype("uint8")
    return (mask * 60).astype("uint8"), mask


def _write_folder(tmp_path, n=4, seed=0, image_suffix=".png"):
    rng = np.random.default_rng(seed)
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir(exist_ok=True)
    masks.mkdir(exist_ok=True)
    arrays = {}
    for i in range(n):
        image, mask = _blocks(rng)
        Image.fromarray(image).save(images / f"img{i}{image_suffix}")
        Image.fromarray(mask).save(masks / f"img{i}.png")
        arrays[f"img{i}"] = (image, mask)
    return images, masks, arrays


def _all(ds):
    xs, ys = zip(*[(np.asarray(x), np.asarray(y)) for x, y in ds])
    return np.concatenate(xs), np.concatenate(ys)


def test_pairing_lists_every_unmatched_file(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=3)
    Image.new("L", (4, 4)).save(images / "extra_a.png")
    Image.new("L", (4, 4)).save(images / "extra_b.jpg")
    Image.new("L", (4, 4)).save(masks / "orphan.png")
    with pytest.raises(ValueError) as error:
        kerasseg.data.pair_files(images, masks)
    message = str(error.value)
    for name in ("extra_a.png", "extra_b.jpg", "orphan.png"):
        assert name in message
    assert "2 image(s)" in message and "1 mask(s)" in message


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_lossless_formats_load_exactly(tmp_path, suffix):
    images, masks, arrays = _write_folder(tmp_path, image_suffix=suffix)
    x, y = _all(from_folders(images, masks, num_classes=3, shuffle=False))
    expected = [arrays[f"img{i}"] for i in range(4)]
    np.testing.assert_array_equal(x[..., 0], [e[0] for e in expected])
    np.testing.assert_array_equal(y, [e[1] for e in expected])
    assert x.dtype == np.float32 and y.dtype == np.int32


def test_jpeg_images_load(tmp_path):
    images, masks, arrays = _write_folder(tmp_path, image_suffix=".jpg")
    x, _ = _all(from_folders(images, masks, num_classes=3, shuffle=False))
    assert np.abs(x[0, ..., 0] - arrays["img0"][0]).mean() < 3  # lossy


def test_palette_tiff_and_colour_masks(tmp_path):
    images, masks = tmp_path / "i", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(1)
    _, ids = _blocks(rng)
    for name in ("palette", "tiff", "colour"):
        Image.fromarray(np.zeros((*ids.shape, 3), "uint8")).save(
            images / f"{name}.png"
        )
    palette = Image.fromarray(ids, mode="P")
    palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
    palette.save(masks / "palette.png")
    Image.fromarray(ids).save(masks / "tiff.tif")
    colours = np.array([[0, 0, 0], [255, 0, 0], [0, 0, 255]], "uint8")
    Image.fromarray(colours[ids]).save(masks / "colour.png")
    color_map = {(0, 0, 0): 0, (255, 0, 0): 1, (0, 0, 255): 2}
    ds = from_folders(
        images, masks, num_classes=3, shuffle=False, color_map=None
    )
    with pytest.raises(Exception, match="colour.png.*color_map"):
        _all(ds)
    pairs = [
        (images / f"{n}.png", masks / m)
        for n, m in [("palette", "palette.png"), ("tiff", "tiff.tif")]
    ]
    _, y = _all(kerasseg.data.from_pairs(pairs, num_classes=3, shuffle=False))
    np.testing.assert_array_equal(y, [ids, ids])
    _, y = _all(
        kerasseg.data.from_pairs(
            [(images / "colour.png", masks / "colour.png")],
            num_classes=3,
            color_map=color_map,
        )
    )
    np.testing.assert_array_equal(y[0], ids)


def test_value_map_turns_255_into_a_class(tmp_path):
    images, masks, arrays = _write_folder(tmp_path, n=1)
    binary = (arrays["img0"][1] > 0).astype("uint8") * 255
    Image.fromarray(binary).save(masks / "img0.png")
    with pytest.raises(Exception, match=r"img0.png has values \[255\]"):
        _all(from_folders(images, masks, num_classes=2))
    _, y = _all(from_folders(images, masks, num_classes=2, value_map={255: 1}))
    np.testing.assert_array_equal(y[0], binary // 255)


def _break(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=5)
    # The first file (in pairing order) is the truncated one.
    data = (images / "img0.png").read_bytes()
    (images / "img0.png").write_bytes(data[: len(data) // 2])
    Image.new("L", (10, 10)).save(masks / "img2.png")  # size mismatch
    Image.fromarray(np.full((48, 64), 7, "uint8")).save(masks / "img3.png")
    return images, masks


def test_bad_files_raise_naming_the_file(tmp_path):
    images, masks = _break(tmp_path)
    for name, match in [
        ("img0", "img0.png"),
        ("img2", "img2.png is 10×10"),
        ("img3", r"img3.png has values \[7\]"),
    ]:
        pairs = [(images / f"{name}.png", masks / f"{name}.png")]
        with pytest.raises(Exception, match=match):
            _all(kerasseg.data.from_pairs(pairs, num_classes=3))


def test_skip_leaves_bad_files_out_and_says_how_many(tmp_path):
    images, masks = _break(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = from_folders(images, masks, num_classes=3, on_error="skip")
    message = " ".join(str(w.message) for w in caught)
    assert "Skipped 3 of 5" in message
    for name in ("img0.png", "img2.png", "img3.png"):
        assert name in message
    x, _ = _all(ds)
    assert len(x) == 2


def _check_alignment(x, y):
    """Share of mask pixels that agree with the class the image shows.

    Only pixels whose image value is a class's own (60 × id, not a blend
    of two classes made by bilinear resampling at a border) count.
    """
    level = x[..., 0] / 60.0
    pure = (np.abs(level - np.rint(level)) < 0.05) & (y != IGNORE)
    return np.mean(np.rint(level)[pure] == y[pure])


def test_flips_and_rotations_keep_image_and_mask_aligned(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=4)
    augment = Augment(
        scale=None,
        flip_horizontal=True,
        flip_vertical=True,
        rotate90=True,
        brightness=0,
        contrast=0,
    )
    ds = from_folders(
        images,
        masks,
        num_classes=3,
        augment=augment,
        image_size=(32, 32),
        seed=3,
        ignore_index=IGNORE,
    )
    for _ in range(3):
        x, y = _all(ds)
        assert _check_alignment(x, y) == 1.0  # exact: no resampling


def test_scale_and_rotation_keep_alignment_and_pad_with_ignore(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=4)
    augment = Augment(scale=(0.5, 1.5), rotation=20, brightness=0, contrast=0)
    ds = from_folders(
        images,
        masks,
        num_classes=3,
        augment=augment,
        image_size=(56, 72),
        seed=4,
        ignore_index=IGNORE,
        batch_size=2,
    )
    x, y = _all(ds)
    assert y.dtype == np.int32
    assert set(np.unique(y)) <= {0, 1, 2, IGNORE}
    assert (y == IGNORE).any()  # rotation and shrinking bring in padding
    # Nearest-neighbour masks and bilinear images may differ by a pixel at
    # class borders, nowhere else.
    assert _check_alignment(x, y) > 0.99
    # Padded mask pixels are (almost everywhere) black image pixels.
    assert np.mean(x[..., 0][y == IGNORE] < 30) > 0.9


def test_padding_augmentation_needs_an_ignore_index(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=1)
    with pytest.raises(ValueError, match="ignore_index"):
        from_folders(
            images,
            masks,
            num_classes=3,
            augment=Augment(rotation=10),
            image_size=(32, 32),
        )


def test_augmented_batches_need_a_crop_size(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=2)
    with pytest.raises(ValueError, match="image_size=None, batch_size=2"):
        from_folders(images, masks, num_classes=3, augment=True, batch_size=2)


def test_crop_larger_than_the_image_needs_an_ignore_index(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=1)  # 48×64 images
    ds = from_folders(
        images,
        masks,
        num_classes=3,
        image_size=(80, 80),
        augment=Augment(scale=None),
    )
    with pytest.raises(Exception, match="pass ignore_index"):
        _all(ds)


def test_same_seed_same_batches_and_epochs_differ(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=4)
    kwargs = dict(
        num_classes=3,
        augment=Augment(scale=(0.6, 1.4), noise=0.05),
        image_size=(32, 32),
        ignore_index=IGNORE,
        seed=11,
    )
    first = _all(from_folders(images, masks, **kwargs))
    again_ds = from_folders(images, masks, **kwargs)
    again = _all(again_ds)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(_all(again_ds)[0], again[0])


def test_class_counts_and_weights(tmp_path):
    images, masks, arrays = _write_folder(tmp_path, n=3)
    ds = from_folders(images, masks, num_classes=3, batch_size=2)
    counts = kerasseg.data.class_counts(ds, 3)
    expected = np.bincount(
        np.concatenate([m.ravel() for _, m in arrays.values()]), minlength=3
    )
    np.testing.assert_array_equal(counts, expected)
    weights = kerasseg.data.class_weights([10, 30, 0, 20])
    np.testing.assert_allclose(weights, [2.0, 2 / 3, 0.0, 1.0])


@pytest.mark.slow
def test_model_fit_trains_on_a_folder(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=4)
    ds = from_folders(
        images,
        masks,
        num_classes=3,
        augment=True,
        image_size=(32, 32),
        ignore_index=IGNORE,
        batch_size=2,
        seed=0,
    )
    model = kerasseg.build(
        "unet_tiny", input_shape=(None, None, 1), num_classes=3
    )
    model.compile(
        "adam",
        kerasseg.losses.CrossEntropy(num_classes=3, ignore_index=IGNORE),
        metrics=[kerasseg.metrics.MeanIoU(3, ignore_index=IGNORE)],
    )
    history = model.fit(ds, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_nuclei_split_by_image():
    from kerasseg.data.datasets import nuclei_pairs

    train, test = nuclei_pairs("train"), nuclei_pairs("test")
    assert (len(train), len(test)) == (11, 3)
    assert not {p for p, _ in train} & {p for p, _ in test}
    for x, y in kerasseg.data.nuclei("test", batch_size=1, shuffle=False):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape[-1] == 1 and set(np.unique(y)) == {0, 1}
        # Nuclei cover a plausible share of the image (BBBC007: 5–20 %).
        assert 0.03 < (y == 1).mean() < 0.25


def test_nuclei_instance_labels_are_the_masks_made_of():
    from PIL import Image

    from kerasseg.data.datasets import nuclei_pairs

    pairs = zip(nuclei_pairs("all"), nuclei_pairs("all", target="instances"))
    for (image, mask), (same_image, labels) in pairs:
        assert image == same_image
        mask, labels = np.asarray(Image.open(mask)), Image.open(labels)
        assert labels.mode == "I;16"
        labels = np.asarray(labels)
        np.testing.assert_array_equal(labels > 0, mask == 1)
        # Dozens of nuclei per image, one label each.
        assert 30 <= len(np.unique(labels)) - 1 <= 160
    with pytest.raises(ValueError, match="target"):
        nuclei_pairs("test", target="labels")


def test_gain_gamma_and_blur_follow_their_formulas():
    import math

    import tensorflow as tf
    from scipy import ndimage

    from kerasseg.data.augment import _gaussian_blur
    from kerasseg.data.augment import augment_pair

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 200, (30, 34, 1)).astype("float32")
    mask = np.zeros((30, 34), "int32")
    for sigma in (0.6, 1.8):
        blurred = _gaussian_blur(tf.constant(image), tf.constant(sigma), 6)
        expected = ndimage.gaussian_filter(
            image[..., 0], sigma, mode="reflect", truncate=6 / sigma
        )
        np.testing.assert_allclose(blurred[..., 0], expected, atol=1e-3)
    # A fixed gain and gamma (low == high) give exactly the formula.
    only = Augment(
        scale=None,
        flip_horizontal=False,
        brightness=0.0,
        contrast=0.0,
        gain=(2.0, 2.0),
        gamma=(0.5, 0.5),
    )
    out, kept = augment_pair(
        tf.constant(image),
        tf.constant(mask),
        tf.constant([1, 2]),
        augment=only,
        image_size=None,
        ignore_index=None,
    )
    scaled = 2.0 * image
    expected = scaled.max() * (scaled / scaled.max()) ** 0.5
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    np.testing.assert_array_equal(kept, mask)
    assert math.isclose(Augment(blur=1.5).blur, 1.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"gain": (2, 1)},
        {"gamma": (0, 1)},
        {"blur": 9},
        {"noise": -1},
        {"scale": [1]},
    ],
)
def test_bad_augment_settings_name_the_field(kwargs):
    (field,) = kwargs
    with pytest.raises(ValueError, match=f"Augment.{field}"):
        Augment(**kwargs)


def test_whole_images_of_different_sizes_are_refused_before_any_work(
    tmp_path,
):
    for name, size in (("a", (10, 12)), ("b", (14, 12))):
        for folder, values in (("images", 100), ("masks", 1)):
            (tmp_path / folder).mkdir(exist_ok=True)
            Image.fromarray(np.full(size, values, "uint8")).save(
                tmp_path / folder / f"{name}.png"
            )
    with pytest.raises(ValueError, match=r"a.png is 10×12.*b.png is 14×12"):
        from_folders(
            tmp_path / "images",
            tmp_path / "masks",
            num_classes=2,
            batch_size=2,
        )
    with pytest.raises(ValueError, match="image_size=\\(height, width\\)"):
        kerasseg.data.nuclei()  # BBBC007 holds 400 and 450 px images
    ds = from_folders(
        tmp_path / "images", tmp_path / "masks", num_classes=2, batch_size=1
    )
    shapes = sorted(tuple(x.shape) for x, _ in ds)
    assert shapes == [(1, 10, 12, 1), (1, 14, 12, 1)]


def test_repeat_fills_every_batch_with_fresh_crops():
    # One image, batches of 4: without repeat a pass is one batch of one
    # crop; with it, endless full batches of different crops, the same
    # ones for the same seed.
    def batches(repeat, seed=0):
        ds = kerasseg.data.nuclei(
            "train",
            train_subset=["A9_p5d"],
            image_size=(32, 32),
            augment=Augment(),
            ignore_index=255,
            batch_size=4,
            seed=seed,
            reshuffle=False,
            repeat=repeat,
        )
        return [np.asarray(x) for x, _ in ds.take(3)]

    once = batches(False)
    assert [b.shape[0] for b in once] == [1]
    endless = batches(True)
    assert [b.shape[0] for b in endless] == [4, 4, 4]
    crops = np.concatenate(endless)
    distinct = {crops[i].tobytes() for i in range(len(crops))}
    assert len(distinct) == 12
    again = batches(True)
    for a, b in zip(endless, again, strict=True):
        np.testing.assert_array_equal(a, b)
