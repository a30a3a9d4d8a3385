"""Draws the pictures of docs/images/.

    python docs/make_samples.py [--curves RUN_FOLDER]

- Samples of the built-in datasets, each row the image, then its mask in
  colour (black: background; white: ignore_index areas).
- Overlays: held-out images with the true and the predicted classes of a
  zoo entry blended in (`kerasseg predict`'s overlay and palette).
- With `--curves`, the training curves of a run folder (its
  `curves.svg`, redrawn from `history.json`), e.g. after
  `kerasseg train kerasseg/configs/nuclei_unet_tiny.yaml`.
"""

import argparse
import json
import pathlib

import numpy as np
from PIL import Image

import kerasseg
from kerasseg.data import datasets
from kerasseg.training import curves
from kerasseg.training import predict

OUT = pathlib.Path(__file__).parent / "images"
IGNORED = np.array([255, 255, 255], "uint8")


def _colours(mask):
    colour = np.broadcast_to(IGNORED, (*mask.shape, 3)).copy()
    known = mask < 255
    colour[known] = predict.palette(256)[mask[known]]
    return colour


def _grey(image):
    grey = np.clip(image[..., 0], 0, 255).astype("uint8")
    return np.stack([grey] * 3, -1)


def _row(image, mask):
    return np.concatenate([_grey(image), _colours(mask)], axis=1)


def _grid(rows, path):
    gap = np.full((4, rows[0].shape[1], 3), 128, "uint8")
    grid = np.concatenate([r for row in rows for r in (row, gap)][:-1])
    Image.fromarray(grid).save(path)


def picture(ds, count, path):
    rows = []
    for x, y in ds.unbatch().take(count):
        rows.append(_row(np.asarray(x), np.asarray(y)))
    _grid(rows, path)


def overlays(entry, pairs, path, scale=1):
    """Each row: the image, the true classes over it, the entry's
    predicted classes over it (each pixel drawn `scale` × `scale`)."""
    model = kerasseg.load(entry)
    rows = []
    for image, mask in pairs:
        probabilities = model.predict(image[None].astype("float32"), verbose=0)
        ids = predict.class_ids(probabilities[0])
        cells = [_grey(image)]
        for classes in (mask, ids):
            cells.append(predict.overlay(image, classes.astype("int64")))
        cells = [c.repeat(scale, 0).repeat(scale, 1) for c in cells]
        gap = np.full((cells[0].shape[0], 4, 3), 128, "uint8")
        rows.append(np.concatenate([cells[0], gap, cells[1], gap, cells[2]], 1))
    _grid(rows, path)


def _nuclei_test(count, size):
    pairs = []
    for image, mask in datasets.nuclei_pairs("test")[:count]:
        x = np.asarray(Image.open(image))[:size, :size, None]
        y = np.asarray(Image.open(mask))[:size, :size]
        pairs.append((x, y))
    return pairs


def _scenes_test(count):
    ds = kerasseg.data.fashion_scenes(
        "test", num_scenes=count, shuffle=False, batch_size=1
    )
    return [(np.asarray(x)[0], np.asarray(y)[0]) for x, y in ds]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="docs/make_samples.py")
    parser.add_argument("--curves", help="a run folder with history.json")
    args = parser.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    if args.curves:
        run = pathlib.Path(args.curves)
        history = json.loads((run / "history.json").read_text())
        curves.write(history, OUT / f"{run.name}_curves.svg")
    overlays(
        "unet.nuclei_bbbc007", _nuclei_test(3, 256), OUT / "nuclei_overlays.png"
    )
    overlays(
        "unet.fashion_scenes",
        _scenes_test(3),
        OUT / "fashion_overlays.png",
        scale=3,
    )
    picture(
        kerasseg.data.nuclei("test", image_size=(192, 192), shuffle=False),
        3,
        OUT / "nuclei.png",
    )
    picture(
        kerasseg.data.fashion_scenes(
            "train", num_scenes=4, scene_size=(96, 96), shuffle=False
        ),
        4,
        OUT / "fashion_scenes.png",
    )
    picture(
        kerasseg.data.nuclei(
            "train",
            image_size=(160, 160),
            augment=kerasseg.data.Augment(rotation=20, flip_vertical=True),
            ignore_index=255,
            seed=0,
        ),
        3,
        OUT / "nuclei_augmented.png",
    )


if __name__ == "__main__":
    main()
