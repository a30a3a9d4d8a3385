import numpy as np
import pytest
from PIL import Image


def write_folder(root, count=8, size=32, seed=0):
    """Images with bright squares; masks marking the squares (learnable)."""
    rng = np.random.default_rng(seed)
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    for i in range(count):
        mask = np.zeros((size, size), "uint8")
        for _ in range(2):
            r, c = rng.integers(0, size - 8, 2)
            mask[r : r + 8, c : c + 8] = 1
        image = 60 + 120 * mask[..., None] + rng.normal(0, 20, (size, size, 3))
        Image.fromarray(np.clip(image, 0, 255).astype("uint8")).save(
            images / f"{i}.png"
        )
        Image.fromarray(mask).save(masks / f"{i}.png")
    return images, masks


@pytest.fixture
def folder(tmp_path):
    return write_folder(tmp_path / "data")


def small_config(images, masks, **train):
    return {
        "model": {"name": "unet_classic_tiny", "num_classes": 2},
        "data": {
            "dataset": "folders",
            "train_images": str(images),
            "train_masks": str(masks),
            "val_images": str(images),
            "val_masks": str(masks),
            "class_names": ["background", "square"],
        },
        "train": {
            "epochs": 3,
            "batch_size": 4,
            "learning_rate": 0.01,
            "jit_compile": "off",
            "verbose": 0,
            **train,
        },
        "export": {"saved_model": False},
    }
