"""Draws the sample pictures of the built-in datasets in docs/images/.

    python docs/make_samples.py

Each row: the image, then its mask in colour (black: background; white:
ignore_index areas).
"""

import pathlib

import numpy as np
from PIL import Image

import kerasseg

OUT = pathlib.Path(__file__).parent / "images"
PALETTE = np.array(
    [
        [0, 0, 0],
        [230, 25, 75],
        [60, 180, 75],
        [255, 225, 25],
        [0, 130, 200],
        [245, 130, 48],
        [145, 30, 180],
        [70, 240, 240],
        [240, 50, 230],
        [210, 245, 60],
        [250, 190, 212],
    ],
    "uint8",
)


def _row(image, mask):
    grey = np.clip(image[..., 0], 0, 255).astype("uint8")
    colour = np.full((*mask.shape, 3), 255, "uint8")
    known = mask < len(PALETTE)
    colour[known] = PALETTE[mask[known]]
    return np.concatenate([np.stack([grey] * 3, -1), colour], axis=1)


def picture(ds, count, path):
    rows = []
    for x, y in ds.unbatch().take(count):
        rows.append(_row(np.asarray(x), np.asarray(y)))
    gap = np.full((4, rows[0].shape[1], 3), 128, "uint8")
    grid = np.concatenate([r for row in rows for r in (row, gap)][:-1])
    Image.fromarray(grid).save(path)


def main():
    OUT.mkdir(exist_ok=True)
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
