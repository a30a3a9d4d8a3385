"""Throughput of kerasseg.data pipelines against a small U-Net's training.

Iterates augmented 256×256 batches of the built-in datasets (after one
warm-up pass that fills the cache) and reports images/s; then trains a
small U-Net on the same batch size and size and reports its images/s, and
the ratio. A benchmark, not a test: nothing here asserts a speed.

    python benchmarks/data.py --batches 20
"""

import argparse
import json
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasseg  # noqa: E402
from kerasseg.data import Augment  # noqa: E402

SIZE = (256, 256)
BATCH = 8
AUGMENT = Augment(
    scale=(0.75, 1.25),
    flip_horizontal=True,
    flip_vertical=True,
    rotation=15,
    brightness=0.1,
    contrast=0.1,
    noise=0.01,
)


def pipeline_images_per_s(ds, batches):
    it = iter(ds.repeat())
    for _ in range(batches):  # warm-up: decode, fill the cache
        next(it)
    start = time.perf_counter()
    count = 0
    for _ in range(batches):
        x, _ = next(it)
        count += int(x.shape[0])
    return count / (time.perf_counter() - start)


def unet_train_images_per_s(channels, steps):
    model = kerasseg.models.unet(
        (None, None, channels), num_classes=2, depth=4, base_filters=16
    )
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=True)
    x = np.random.default_rng(0).uniform(0, 255, (BATCH, *SIZE, channels))
    y = np.zeros((BATCH, *SIZE), "int32")
    for _ in range(3):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * BATCH / (time.perf_counter() - start), model.count_params()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=5)
    parser.add_argument(
        "--out", default=str(pathlib.Path(__file__).parent / "results")
    )
    args = parser.parse_args(argv)
    common = dict(
        image_size=SIZE,
        batch_size=BATCH,
        augment=AUGMENT,
        ignore_index=255,
        seed=0,
    )
    sources = {
        "nuclei (BBBC007, 11 images, PNG)": kerasseg.data.nuclei(
            "train", **common
        ),
        "fashion_scenes (256×256, 200 scenes)": kerasseg.data.fashion_scenes(
            "train", num_scenes=200, scene_size=SIZE, **common
        ),
    }
    result = {"batch": BATCH, "size": SIZE, "cpus": os.cpu_count()}
    result["pipelines"] = {
        name: pipeline_images_per_s(ds, args.batches)
        for name, ds in sources.items()
    }
    train, params = unet_train_images_per_s(1, args.train_steps)
    result["unet_train_images_per_s"] = train
    result["unet_params"] = params
    lines = [
        f"Batch {BATCH}, {SIZE[0]}×{SIZE[1]}, {os.cpu_count()} CPUs, "
        f"Keras {keras.__version__}.",
        "",
        "| source | pipeline images/s | × U-Net training |",
        "|---|---|---|",
    ]
    for name, speed in result["pipelines"].items():
        lines.append(f"| {name} | {speed:.0f} | {speed / train:.0f}× |")
    lines += [
        "",
        f"Small U-Net (depth 4, 16 base filters, {params:,} parameters, "
        f"XLA) trains at {train:.1f} images/s on the same batches.",
    ]
    text = "\n".join(lines)
    print(text)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data.json").write_text(json.dumps(result, indent=2))
    (out / "data.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
