"""TFRecords, TFDS and the built-in Fashion-MNIST scenes."""

import gzip
import os

import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg.data import from_folders
from tests.data.test_folders import _all
from tests.data.test_folders import _write_folder


def test_tfrecords_give_the_folder_examples(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=5)
    files = kerasseg.data.write_tfrecords(
        images, masks, tmp_path / "records" / "train", num_shards=2
    )
    assert len(files) == 2 and all(os.path.isfile(f) for f in files)
    folder = _all(from_folders(images, masks, num_classes=3, shuffle=False))
    records = _all(
        kerasseg.data.from_tfrecords(
            str(tmp_path / "records" / "train-*.tfrecord"),
            channels=1,
            num_classes=3,
            shuffle=False,
        )
    )

    # Shards interleave the order: compare as sets of examples.
    def key(x, y):
        return x.tobytes() + y.tobytes()

    assert sorted(key(*e) for e in zip(*folder)) == sorted(
        key(*e) for e in zip(*records)
    )


def test_tfrecords_reject_undeclared_values_naming_the_file(tmp_path):
    images, masks, _ = _write_folder(tmp_path, n=2)
    kerasseg.data.write_tfrecords(images, masks, tmp_path / "r", num_shards=1)
    ds = kerasseg.data.from_tfrecords(
        str(tmp_path / "r-*"), channels=1, num_classes=2, shuffle=False
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="img0.png"):
        _all(ds)


def _pet_examples(n=3, seed=0):
    rng = np.random.default_rng(seed)
    examples = []
    for i in range(n):
        h, w = 24 + 8 * i, 32
        examples.append(
            {
                "image": rng.integers(0, 256, (h, w, 3)).astype("uint8"),
                # Trimap: 1 pet, 2 background, 3 border.
                "segmentation_mask": rng.integers(1, 4, (h, w, 1)).astype(
                    "uint8"
                ),
                "file_name": f"pet{i}.jpg",
            }
        )
    return examples


def test_tfds_oxford_pet_trimap_and_border_as_ignore(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    examples = _pet_examples()

    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_generator(
            lambda: iter(examples),
            output_signature={
                "image": tf.TensorSpec((None, None, 3), tf.uint8),
                "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
                "file_name": tf.TensorSpec((), tf.string),
            },
        )

    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        ds = kerasseg.data.from_tfds(
            "oxford_iiit_pet", batch_size=1, shuffle=False
        )
        got = [(np.asarray(x), np.asarray(y)) for x, y in ds]
        ignored = kerasseg.data.from_tfds(
            "oxford_iiit_pet",
            border="ignore",
            ignore_index=255,
            batch_size=1,
            shuffle=False,
        )
        got_ignored = [np.asarray(y) for _, y in ignored]
    trimap = {1: 1, 2: 0, 3: 2}
    for (x, y), y_ignored, example in zip(got, got_ignored, examples):
        np.testing.assert_array_equal(x[0], example["image"])
        raw = example["segmentation_mask"][..., 0]
        np.testing.assert_array_equal(y[0], np.vectorize(trimap.get)(raw))
        expected = np.where(raw == 3, 255, np.vectorize(trimap.get)(raw))
        np.testing.assert_array_equal(y_ignored[0], expected)


def test_tfds_gives_the_folder_examples(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    images, masks, arrays = _write_folder(tmp_path, n=3)
    examples = [
        {
            "image": arrays[f"img{i}"][0][..., None],
            "segmentation_mask": arrays[f"img{i}"][1][..., None],
            "file_name": f"img{i}.png",
        }
        for i in range(3)
    ]

    def as_dataset(self, *args, **kwargs):
        return tf.data.Dataset.from_generator(
            lambda: iter(examples),
            output_signature={
                "image": tf.TensorSpec((None, None, 1), tf.uint8),
                "segmentation_mask": tf.TensorSpec((None, None, 1), tf.uint8),
                "file_name": tf.TensorSpec((), tf.string),
            },
        )

    folder = _all(from_folders(images, masks, num_classes=3, shuffle=False))
    with tfds.testing.mock_data(as_dataset_fn=as_dataset):
        # An identity value_map replaces the pet trimap mapping.
        mocked = _all(
            kerasseg.data.from_tfds(
                "oxford_iiit_pet",
                value_map={0: 0},
                num_classes=3,
                shuffle=False,
            )
        )
    np.testing.assert_array_equal(mocked[0], folder[0])
    np.testing.assert_array_equal(mocked[1], folder[1])


def test_tfds_mock_noise_is_rejected_clearly():
    # tfds.testing.mock_data gives random noise whose image and mask sizes
    # differ: the loader must refuse it with a message, not a shape error.
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=2):
        ds = kerasseg.data.from_tfds(
            "oxford_iiit_pet", batch_size=1, shuffle=False
        )
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match="sizes differ|has values outside",
        ):
            _all(ds)


def _write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape
    )
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype("uint8").tobytes())


@pytest.fixture
def fashion_source(tmp_path):
    # Train items are all 100, test items all 200: scenes show which split
    # they were composed from.
    rng = np.random.default_rng(0)
    for value, prefix in [
        (100, "train"),
        (200, "t10k"),
    ]:
        items = np.zeros((6, 28, 28), "uint8")
        items[:, 6:22, 8:20] = value
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", items)
        labels = rng.integers(0, 10, 6)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return tmp_path


def test_fashion_scenes_masks_cover_exactly_the_items(fashion_source):
    ds = kerasseg.data.fashion_scenes(
        "train", num_scenes=6, source=fashion_source, shuffle=False
    )
    x, y = _all(ds)
    assert x.shape == (6, 64, 64, 1) and y.dtype == np.int32
    np.testing.assert_array_equal(y > 0, x[..., 0] > 0)
    assert set(np.unique(x)) <= {0, 100}
    assert set(np.unique(y)) <= set(range(11))


def test_fashion_scenes_splits_do_not_share_items(fashion_source):
    x, _ = _all(
        kerasseg.data.fashion_scenes(
            "test", num_scenes=4, source=fashion_source, shuffle=False
        )
    )
    assert set(np.unique(x)) == {0, 200}


def test_fashion_scenes_over_photographs_keep_items_and_masks():
    # Items all 100 on photographs each of one grey level (30, 31, 32): a
    # scene's background is a crop of one, its items are untouched.
    items = np.zeros((5, 28, 28), "uint8")
    items[:, 4:24, 6:22] = 100
    photos = np.stack([np.full((70, 80), 30 + k, "uint8") for k in range(3)])
    scenes, masks = kerasseg.data.datasets.compose_scenes(
        items, np.arange(5), num_scenes=6, backgrounds=photos, seed=3
    )
    assert np.array_equal(scenes == 100, masks > 0)
    levels = {int(np.unique(s[m == 0])[0]) for s, m in zip(scenes, masks)}
    assert all(len(np.unique(s[m == 0])) == 1 for s, m in zip(scenes, masks))
    assert levels <= {30, 31, 32} and len(levels) > 1
    with pytest.raises(ValueError, match="backgrounds"):
        kerasseg.data.datasets.compose_scenes(
            items, np.arange(5), num_scenes=1, backgrounds=photos[:, :20]
        )


def test_texture_backgrounds_are_real_photographs_split_in_halves():
    pytest.importorskip("skimage")
    from skimage import data as photos

    train = kerasseg.data.datasets.texture_backgrounds("train")
    test = kerasseg.data.datasets.texture_backgrounds("test")
    assert train.shape == test.shape == (3, 256, 512)
    np.testing.assert_array_equal(
        np.concatenate([train[0], test[0]]), np.asarray(photos.brick())
    )
    assert train.std() > 10  # textures, not flat canvases


def test_fashion_scenes_refuse_an_unknown_background(fashion_source):
    with pytest.raises(ValueError, match="background"):
        kerasseg.data.fashion_scenes(
            num_scenes=2, source=fashion_source, background="white"
        )


def test_fashion_scenes_are_deterministic(fashion_source):
    def scenes(seed):
        return _all(
            kerasseg.data.fashion_scenes(
                num_scenes=4, seed=seed, source=fashion_source, shuffle=False
            )
        )[1]

    np.testing.assert_array_equal(scenes(1), scenes(1))
    assert not np.array_equal(scenes(1), scenes(2))


def test_fashion_scene_seed_fixes_the_scenes_and_seed_shuffles_them(
    fashion_source,
):
    def scenes(seed, num_scenes=6, shuffle=True):
        images, masks = _all(
            kerasseg.data.fashion_scenes(
                num_scenes=num_scenes,
                seed=seed,
                scene_seed=3,
                source=fashion_source,
                shuffle=shuffle,
                batch_size=1,
            )
        )
        return images, masks

    fixed = scenes(0, shuffle=False)
    # The scenes of seed 3 without scene_seed are the fixed set.
    plain = _all(
        kerasseg.data.fashion_scenes(
            num_scenes=6, seed=3, source=fashion_source, shuffle=False
        )
    )
    np.testing.assert_array_equal(fixed[1], plain[1])
    # Two epochs' seeds give the same set of scenes in another order.
    one, two = scenes(1)[1], scenes(2)[1]
    key = lambda masks: sorted(m.tobytes() for m in masks)  # noqa: E731
    assert key(one) == key(two) == key(fixed[1])
    assert not np.array_equal(one, two)
    # The first n of a larger set are the same n scenes.
    np.testing.assert_array_equal(scenes(0, 9, shuffle=False)[1][:6], fixed[1])
    with pytest.raises(ValueError, match="scene_seed"):
        kerasseg.data.fashion_scenes(
            num_scenes=2, scene_seed=-1, source=fashion_source
        )


@pytest.mark.skipif(
    not os.path.isdir(kerasseg.data.datasets.FASHION_DIR),
    reason="Debian package dataset-fashion-mnist not installed",
)
def test_real_fashion_mnist_files():
    from kerasseg.data.datasets import load_fashion_mnist

    images, labels = load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28)
    # The first test labels, as published with Fashion-MNIST.
    assert labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert np.bincount(labels).tolist() == [1000] * 10


def test_fashion_mnist_on_disk_finds_the_debian_folder_or_the_keras_cache(
    tmp_path, monkeypatch
):
    from kerasseg.data import datasets

    monkeypatch.setattr(datasets, "FASHION_DIR", str(tmp_path / "no_package"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert not datasets.fashion_mnist_on_disk()
    cache = tmp_path / "keras" / "datasets" / "fashion-mnist"
    cache.mkdir(parents=True)
    names = [
        "train-labels-idx1-ubyte.gz",
        "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
    ]
    for name in names[:3]:
        (cache / name).write_bytes(b"")
    # Three of the four files Keras downloads: not enough.
    assert not datasets.fashion_mnist_on_disk()
    (cache / names[3]).write_bytes(b"")
    assert datasets.fashion_mnist_on_disk()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty"))
    (tmp_path / "no_package").mkdir()
    assert datasets.fashion_mnist_on_disk()
