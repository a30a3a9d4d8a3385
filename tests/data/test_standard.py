"""The standard datasets from their official folder layouts: each test
writes a small tree with the originals' file names, suffixes and pixel
formats and checks the ids, ignore pixels, names and palette the loader
gives against the published tables written out here."""

import os

import numpy as np
import pytest
import scipy.io
from PIL import Image

from kerasseg import data
from kerasseg.data import labels
from kerasseg.data import specs
from kerasseg.data import standard
from kerasseg.training import builders
from kerasseg.training import config as config_module

# cityscapesScripts' labels.py, the trained rows: (label id, train id,
# name, colour). Every other label id is ignored.
PUBLISHED_CITYSCAPES = [
    (7, 0, "road", (128, 64, 128)),
    (8, 1, "sidewalk", (244, 35, 232)),
    (11, 2, "building", (70, 70, 70)),
    (12, 3, "wall", (102, 102, 156)),
    (13, 4, "fence", (190, 153, 153)),
    (17, 5, "pole", (153, 153, 153)),
    (19, 6, "traffic light", (250, 170, 30)),
    (20, 7, "traffic sign", (220, 220, 0)),
    (21, 8, "vegetation", (107, 142, 35)),
    (22, 9, "terrain", (152, 251, 152)),
    (23, 10, "sky", (70, 130, 180)),
    (24, 11, "person", (220, 20, 60)),
    (25, 12, "rider", (255, 0, 0)),
    (26, 13, "car", (0, 0, 142)),
    (27, 14, "truck", (0, 0, 70)),
    (28, 15, "bus", (0, 60, 100)),
    (31, 16, "train", (0, 80, 100)),
    (32, 17, "motorcycle", (0, 0, 230)),
    (33, 18, "bicycle", (119, 11, 32)),
]
# The VOC devkit's colour map, first 21 entries, and its border colour.
PUBLISHED_VOC_COLOURS = [
    (0, 0, 0), (128, 0, 0), (0, 128, 0), (128, 128, 0), (0, 0, 128),
    (128, 0, 128), (0, 128, 128), (128, 128, 128), (64, 0, 0), (192, 0, 0),
    (64, 128, 0), (192, 128, 0), (64, 0, 128), (192, 0, 128),
    (64, 128, 128), (192, 128, 128), (0, 64, 0), (128, 64, 0), (0, 192, 0),
    (128, 192, 0), (0, 64, 128),
]  # fmt: skip
VOC_BORDER_COLOUR = (224, 224, 192)

RNG = np.random.default_rng(0)


def _rgb(path, height, width, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = RNG.integers(0, 256, (height, width, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    if mode != "RGB":
        image = image.convert(mode)
    image.save(path)


def _grey_png(path, values, mode="L"):
    """An 8-bit ("L") or 16-bit ("I;16") grey PNG of `values`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    dtype = "uint16" if mode == "I;16" else "uint8"
    image = Image.fromarray(np.asarray(values, dtype))
    assert image.mode == mode
    image.save(path)


def _batches(ds):
    images, masks = [], []
    for x, y in ds:
        images.append(np.asarray(x))
        masks.append(np.asarray(y))
    return images, masks


# --- Cityscapes ----------------------------------------------------------


def _cityscapes_tree(root, splits=("train", "val"), shape=(4, 34)):
    """leftImg8bit/ and gtFine/ with every file the archives hold per
    image (labelIds, color, instanceIds, polygons); labelIds take every
    label id 0…33 and a few license-plate pixels (-1 stored as 255)."""
    ids = np.resize(np.arange(34, dtype=np.uint8), shape)
    ids[0, :3] = 255
    written = {}
    for split in splits:
        for city, n in (("aachen", 19), ("bochum", 42)):
            stem = f"{city}_{n:06d}_000019"
            _rgb(
                root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png",
                *shape,
            )
            gt = root / "gtFine" / split / city
            _grey_png(gt / f"{stem}_gtFine_labelIds.png", ids)
            _rgb(gt / f"{stem}_gtFine_color.png", *shape, mode="RGBA")
            _grey_png(
                gt / f"{stem}_gtFine_instanceIds.png",
                ids.astype("uint16") * 1000,
                "I;16",
            )
            (gt / f"{stem}_gtFine_polygons.json").write_text("{}")
            written[(split, city)] = ids
    return written


def test_cityscapes_train_ids_are_the_published_table():
    table = labels.cityscapes_train_ids(255)
    published = {label: train for label, train, _, _ in PUBLISHED_CITYSCAPES}
    for value in range(256):
        assert table[value] == published.get(value, 255), value
    assert labels.CITYSCAPES_CLASSES == tuple(
        n for _, _, n, _ in PUBLISHED_CITYSCAPES
    )
    assert labels.CITYSCAPES_PALETTE == tuple(
        c for _, _, _, c in PUBLISHED_CITYSCAPES
    )


def test_cityscapes_reads_label_ids_as_train_ids(tmp_path):
    written = _cityscapes_tree(tmp_path)
    pairs = standard.cityscapes_pairs(tmp_path, "val")
    assert [os.path.basename(m) for _, m in pairs] == [
        "aachen_000019_000019_gtFine_labelIds.png",
        "bochum_000042_000019_gtFine_labelIds.png",
    ]
    ds = data.cityscapes(tmp_path, "val", batch_size=1, shuffle=False)
    images, masks = _batches(ds)
    assert [i.shape for i in images] == [(1, 4, 34, 3)] * 2
    published = {label: train for label, train, _, _ in PUBLISHED_CITYSCAPES}
    expected = np.vectorize(lambda v: published.get(int(v), 255))(
        written[("val", "aachen")]
    )
    np.testing.assert_array_equal(masks[0][0], expected)
    assert set(np.unique(masks[0])) == {*range(19), 255}
    # Another ignore value is used throughout.
    _, masks = _batches(
        data.cityscapes(
            tmp_path, "val", ignore_index=254, batch_size=1, shuffle=False
        )
    )
    assert set(np.unique(masks[0])) == {*range(19), 254}


def test_cityscapes_errors_name_the_layout_and_the_splits(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"leftImg8bit/<split>/<city>"
    ) as info:
        standard.cityscapes_pairs(tmp_path, "train")
    assert "(empty)" in str(info.value)
    _cityscapes_tree(tmp_path, splits=("train",))
    with pytest.raises(
        ValueError, match=r"no split 'val'.*Splits present: 'train'"
    ):
        standard.cityscapes_pairs(tmp_path, "val")
    with pytest.raises(FileNotFoundError, match="gtCoarse"):
        standard.cityscapes_pairs(tmp_path, "train", mode="coarse")
    with pytest.raises(ValueError, match="`mode` must be one of"):
        standard.cityscapes_pairs(tmp_path, "train", mode="medium")
    os.remove(
        tmp_path
        / "gtFine/train/bochum/bochum_000042_000019_gtFine_labelIds.png"
    )
    with pytest.raises(
        FileNotFoundError,
        match=r"1 file\(s\) of the 'train' split are missing: "
        r".*bochum_000042_000019_gtFine_labelIds.png",
    ):
        standard.cityscapes_pairs(tmp_path, "train")
    with pytest.raises(
        ValueError, match="cityscapes has 19 classes; got num_classes=20"
    ):
        data.cityscapes(tmp_path, "train", num_classes=20)
    with pytest.raises(ValueError, match="pass ignore_index="):
        data.cityscapes(tmp_path, "train", ignore_index=None)


def test_root_defaults_to_kerasseg_data(tmp_path, monkeypatch):
    _cityscapes_tree(tmp_path / "cityscapes", splits=("val",))
    monkeypatch.setenv("KERASSEG_DATA", str(tmp_path))
    assert len(standard.cityscapes_pairs(split="val")) == 2
    monkeypatch.delenv("KERASSEG_DATA")
    with pytest.raises(ValueError, match="pass root= .* or set KERASSEG_DATA"):
        standard.cityscapes_pairs(split="val")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        standard.voc_pairs(tmp_path / "nowhere")


# --- Pascal VOC and SBD --------------------------------------------------


def _voc_palette_png(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(np.asarray(values, "uint8"), mode="P")
    flat = [v for i in range(256) for v in labels.voc_colour(i)]
    image.putpalette(flat)
    image.save(path)


def _voc_tree(root, lists):
    voc = root / "VOCdevkit" / "VOC2012"
    masks = {}
    for split, ids in lists.items():
        (voc / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
        (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(
            "".join(f"{i}\n" for i in ids)
        )
        for n, i in enumerate(ids):
            _rgb(voc / "JPEGImages" / f"{i}.jpg", 6, 8)
            values = np.full((6, 8), n % 21, "uint8")
            values[:, 0] = 255  # object border
            values[0, 1:] = np.arange(7) * 3
            _voc_palette_png(voc / "SegmentationClass" / f"{i}.png", values)
            masks[i] = values
    return voc, masks


def test_voc_palette_is_the_devkit_colour_map():
    assert labels.VOC_PALETTE == tuple(PUBLISHED_VOC_COLOURS)
    assert labels.voc_colour(255) == VOC_BORDER_COLOUR
    assert len(labels.VOC_CLASSES) == 21 and labels.VOC_CLASSES[15] == "person"


def test_voc_reads_palette_indices_and_ignores_borders(tmp_path):
    _, masks = _voc_tree(
        tmp_path,
        {"train": ["2007_000032", "2007_000039"], "val": ["2007_000033"]},
    )
    # The palette PNG holds indices, not colours: Pillow reads them back.
    ds = data.voc(tmp_path, "train", batch_size=1, shuffle=False)
    images, got = _batches(ds)
    assert images[0].shape == (1, 6, 8, 3)
    np.testing.assert_array_equal(got[0][0], masks["2007_000032"])
    assert got[0][0][0, 0] == 255
    # root may be VOCdevkit/ or VOC2012/ as well.
    assert standard.voc_pairs(
        tmp_path / "VOCdevkit" / "VOC2012", "val"
    ) == standard.voc_pairs(tmp_path, "val")
    _, got = _batches(data.voc(tmp_path, "val", ignore_index=254, batch_size=1))
    assert got[0][0][0, 0] == 254 and 255 not in got[0]
    with pytest.raises(
        ValueError, match=r"no split 'trainval'.*Splits present: 'train', 'val'"
    ):
        standard.voc_pairs(tmp_path, "trainval")


def _sbd_mat(path, values):
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(
        path,
        {
            "GTcls": {
                "Segmentation": np.asarray(values, "uint8"),
                "Boundaries": np.zeros((1, 20), "object"),
                "CategoriesPresent": np.array([1], "uint8"),
            }
        },
    )


def test_voc_train_aug_from_sbd_mat_files(tmp_path):
    voc, masks = _voc_tree(
        tmp_path, {"train": ["2007_000032"], "val": ["2007_000033"]}
    )
    sbd = tmp_path / "benchmark_RELEASE" / "dataset"
    sbd_values = np.full((6, 8), 7, "uint8")
    sbd_values[2:4, 2:4] = 15
    # SBD's lists hold VOC's val image too: train_aug leaves it out.
    (sbd / "cls").mkdir(parents=True)
    (sbd / "train.txt").write_text("2008_000002\n2007_000033\n")
    (sbd / "val.txt").write_text("2008_000003\n")
    for i in ("2008_000002", "2008_000003", "2007_000033"):
        _sbd_mat(sbd / "cls" / f"{i}.mat", sbd_values)
        if i != "2007_000033":
            _rgb(voc / "JPEGImages" / f"{i}.jpg", 6, 8)
    pairs = standard.voc_pairs(tmp_path, "train", augmented=True)
    assert [os.path.basename(m) for _, m in pairs] == [
        "2007_000032.png",  # VOC's own mask where it has one
        "2008_000002.mat",
        "2008_000003.mat",
    ]
    _, got = _batches(
        data.voc(tmp_path, "train", augmented=True, batch_size=1, shuffle=False)
    )
    np.testing.assert_array_equal(got[0][0], masks["2007_000032"])
    np.testing.assert_array_equal(got[1][0], sbd_values)
    with pytest.raises(ValueError, match="split='val' is not augmented"):
        standard.voc_pairs(tmp_path, "val", augmented=True)


def test_voc_train_aug_from_segmentation_class_aug(tmp_path):
    voc, _ = _voc_tree(
        tmp_path, {"train": ["2007_000032"], "val": ["2007_000033"]}
    )
    with pytest.raises(FileNotFoundError, match="needs SBD's annotations"):
        standard.voc_pairs(tmp_path, "train", augmented=True)
    (voc / "ImageSets/Segmentation/train_aug.txt").write_text(
        "2007_000032\n2008_000002\n"
    )
    _rgb(voc / "JPEGImages" / "2008_000002.jpg", 6, 8)
    aug = np.full((6, 8), 3, "uint8")
    _grey_png(voc / "SegmentationClassAug" / "2008_000002.png", aug)
    _grey_png(voc / "SegmentationClassAug" / "2007_000032.png", aug)
    pairs = standard.voc_pairs(tmp_path, "train", augmented=True)
    assert [os.path.relpath(m, voc) for _, m in pairs] == [
        os.path.join("SegmentationClassAug", "2007_000032.png"),
        os.path.join("SegmentationClassAug", "2008_000002.png"),
    ]


# --- ADE20K -------------------------------------------------------------


def test_ade20k_names_and_palette_are_the_benchmarks():
    assert len(labels.ADE20K_CLASSES) == len(labels.ADE20K_PALETTE) == 150
    assert labels.ADE20K_CLASSES[:4] == ("wall", "building", "sky", "floor")
    assert (
        labels.ADE20K_CLASSES[-1] == "flag"
        and labels.ADE20K_CLASSES[7] == "bed"
    )
    assert labels.ADE20K_PALETTE[0] == (120, 120, 120)
    assert labels.ADE20K_PALETTE[-1] == (92, 0, 255)


def test_ade20k_shifts_ids_and_ignores_other(tmp_path):
    base = tmp_path / "ADEChallengeData2016"
    values = np.arange(151, dtype=np.uint8).reshape(1, 151).repeat(2, 0)
    for folder, stem in (
        ("training", "ADE_train_00000001"),
        ("validation", "ADE_val_00000001"),
    ):
        _rgb(
            base / "images" / folder / f"{stem}.jpg", 2, 151, mode="L"
        )  # a grey JPEG
        _grey_png(base / "annotations" / folder / f"{stem}.png", values)
    ds = data.ade20k(tmp_path, "val", batch_size=1)
    images, got = _batches(ds)
    assert images[0].shape == (1, 2, 151, 3)  # grey → 3 channels
    np.testing.assert_array_equal(images[0][0, ..., 0], images[0][0, ..., 2])
    expected = np.where(values == 0, 255, values.astype(int) - 1)
    np.testing.assert_array_equal(got[0][0], expected)
    assert standard.ade20k_pairs(base, "train") == standard.ade20k_pairs(
        tmp_path, "train"
    )
    with pytest.raises(
        ValueError, match=r"no split 'test'.*Splits present: 'train', 'val'"
    ):
        standard.ade20k_pairs(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="ADEChallengeData2016/images"):
        standard.ade20k_pairs(tmp_path / "ADEChallengeData2016" / "images")


# --- Oxford-IIIT Pet ----------------------------------------------------


def _pets_tree(root):
    trimap = np.full((5, 7), 2, "uint8")
    trimap[1:4, 1:6] = 3
    trimap[2, 2:5] = 1
    (root / "annotations" / "trimaps").mkdir(parents=True)
    (root / "annotations" / "trainval.txt").write_text(
        "Abyssinian_100 1 1 1\nbeagle_12 13 2 1\n"
    )
    (root / "annotations" / "test.txt").write_text("Abyssinian_1 1 1 1\n")
    for stem in ("Abyssinian_100", "beagle_12", "Abyssinian_1"):
        _rgb(
            root / "images" / f"{stem}.jpg",
            5,
            7,
            mode="CMYK" if stem == "beagle_12" else "RGB",
        )
        _grey_png(root / "annotations" / "trimaps" / f"{stem}.png", trimap)
    # The archive also holds macOS resource forks: not images.
    (root / "annotations" / "trimaps" / "._Abyssinian_1.png").write_bytes(
        b"\0\5\26\7"
    )
    return trimap


def test_oxford_pets_maps_the_trimap(tmp_path):
    trimap = _pets_tree(tmp_path)
    images, got = _batches(
        data.oxford_pets(tmp_path, "trainval", batch_size=1, shuffle=False)
    )
    assert [i.shape for i in images] == [(1, 5, 7, 3)] * 2  # CMYK → RGB
    np.testing.assert_array_equal(
        got[0][0], np.select([trimap == 1, trimap == 2], [1, 0], 2)
    )
    _, got = _batches(
        data.oxford_pets(
            tmp_path, "test", border="ignore", ignore_index=255, batch_size=1
        )
    )
    np.testing.assert_array_equal(
        got[0][0], np.select([trimap == 1, trimap == 2], [1, 0], 255)
    )
    with pytest.raises(
        ValueError, match="border='ignore' needs an ignore_index"
    ):
        data.oxford_pets(tmp_path, "test", border="ignore")
    with pytest.raises(ValueError, match=r"Splits present: 'trainval', 'test'"):
        standard.oxford_pets_pairs(tmp_path, "train")


# --- The dataset table and configs --------------------------------------


def _config(dataset, **options):
    return {
        "model": {
            "name": "unet_tiny",
            "num_classes": len(specs.get(dataset).classes(options)),
        },
        "data": {
            "dataset": dataset,
            "options": options,
            "ignore_index": 255,
            "cache": False,
        },
        "train": {"epochs": 1, "batch_size": 2, "monitor": "loss"},
    }


def test_configs_read_the_standard_datasets(tmp_path):
    _cityscapes_tree(tmp_path)
    config = config_module.resolve(_config("cityscapes", root=str(tmp_path)))
    assert builders.class_names(config) == list(labels.CITYSCAPES_CLASSES)
    np.testing.assert_array_equal(
        builders.palette(config), labels.CITYSCAPES_PALETTE
    )
    _, masks = _batches(builders.dataset(config, "val"))
    assert len(masks) == 1 and masks[0].shape == (2, 4, 34)  # one size: batched
    assert set(np.unique(masks[0])) <= {*range(19), 255}

    pets = tmp_path / "pets"
    _pets_tree(pets)
    config = config_module.resolve(
        _config("oxford_pets", root=str(pets), border="ignore")
    )
    assert builders.class_names(config) == ["background", "pet"]
    _, masks = _batches(builders.dataset(config, "val"))
    assert set(np.unique(masks[0])) == {0, 1, 255}


def test_config_errors_for_the_standard_datasets(tmp_path, monkeypatch):
    monkeypatch.delenv("KERASSEG_DATA", raising=False)
    with pytest.raises(
        config_module.ConfigError,
        match="set data.options.root .* or the environment variable "
        "KERASSEG_DATA",
    ):
        config_module.resolve(_config("cityscapes"))
    cfg = _config("voc", root=str(tmp_path))
    cfg["data"]["ignore_index"] = None
    with pytest.raises(
        config_module.ConfigError, match="set data.ignore_index: 255"
    ):
        config_module.resolve(cfg)
    cfg = _config("ade20k", root=str(tmp_path))
    cfg["model"]["num_classes"] = 151
    with pytest.raises(
        config_module.ConfigError, match="'ade20k' has 150 classes"
    ):
        config_module.resolve(cfg)
    cfg = _config("oxford_pets", root=str(tmp_path), border="ignore")
    cfg["model"]["num_classes"] = 3
    with pytest.raises(
        config_module.ConfigError, match="'oxford_pets' has 2 classes"
    ):
        config_module.resolve(cfg)
    with pytest.raises(
        config_module.ConfigError, match="Unknown key 'data.options.split'"
    ):
        config_module.resolve(_config("voc", root=str(tmp_path), split="val"))


# --- The real datasets ---------------------------------------------------

REAL = {
    # loader, held-out split, its image count, classes
    "cityscapes": ("val", 500),
    "voc": ("val", 1449),
    "ade20k": ("val", 2000),
    "oxford_pets": ("test", 3669),
}


@pytest.mark.large
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_dataset_on_disk(name):
    base = os.environ.get("KERASSEG_DATA")
    if not base or not os.path.isdir(os.path.join(base, name)):
        pytest.skip(
            f"no {name}/ under KERASSEG_DATA ({base or 'unset'}): the "
            f"real {name} is the user's own download"
        )
    split, count = REAL[name]
    pairs = getattr(standard, f"{name}_pairs")(split=split)
    assert len(pairs) == count
    spec = specs.get(name)
    kwargs = {"ignore_index": 255} if name != "oxford_pets" else {}
    ds = spec.load(split, batch_size=1, shuffle=False, **kwargs).take(20)
    seen = set()
    for image, mask in ds:
        assert image.shape[-1] == 3
        seen |= set(np.unique(np.asarray(mask)).tolist())
    assert seen <= {*range(len(spec.classes())), 255}


# A whole kerasseg train / evaluate / predict run (25 s): second tier.
@pytest.mark.slow
def test_a_run_names_the_classes_and_draws_the_datasets_colours(tmp_path):
    import json

    import yaml

    from kerasseg import cli

    root = tmp_path / "cityscapes"
    _cityscapes_tree(root, shape=(32, 64))
    cfg = _config("cityscapes", root=str(root))
    cfg["train"].update(steps_per_epoch=1, jit_compile="off", verbose=0)
    cfg["export"] = {"saved_model": False}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    assert cli.main(["train", str(path), "--run-dir", str(run)]) == 0
    saved = json.loads((run / "evaluation.json").read_text())
    assert [r["class"] for r in saved["classes"]] == list(
        labels.CITYSCAPES_CLASSES
    )

    images = root / "leftImg8bit" / "val" / "aachen"
    out = tmp_path / "out"
    assert cli.main(["predict", str(run), str(images), "--out", str(out)]) == 0
    (name,) = [p.name for p in images.iterdir()]
    stem = name[: -len(".png")]
    ids = np.asarray(Image.open(out / f"{stem}.png")).astype(int)
    drawn = np.asarray(Image.open(out / f"{stem}_overlay.png")).astype(float)
    image = np.asarray(Image.open(images / name)).astype(float)
    # Cityscapes has no background class: every pixel is coloured, in the
    # dataset's own colours.
    colours = np.array(labels.CITYSCAPES_PALETTE, float)[ids]
    np.testing.assert_allclose(
        drawn, np.floor(0.5 * image + 0.5 * colours), atol=1
    )
