"""Export parity (and speed) of every tiny kerasseg model, by format.

For each model: the largest difference between each export and the Keras
model at two input sizes, the share of pixels where the quantized TFLite
files give the Keras model's class id, and the median time of one batch
through Keras `predict_on_batch`, the SavedModel's `serving_default` and
TFLite (batch 1). Random weights, random 0–255 images.

    python benchmarks/export.py [--models unet_tiny ...] [--size 64]
    python benchmarks/export.py --speed-only --models unet --size 256
    python benchmarks/export.py --inference --models unet --size 128

A benchmark, not a test: the tests in tests/export assert the bounds.
"""

import argparse
import os
import statistics
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

# kerasseg before Keras and TensorFlow, as its users import it: it turns
# TensorFlow's oneDNN kernels on on x86 (kerasseg._tensorflow).
import kerasseg  # noqa: E402, I001
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import median_seconds  # noqa: E402

from kerasseg import export  # noqa: E402
from tests.export.test_convert import run_onnx  # noqa: E402
from tests.export.test_convert import run_tflite  # noqa: E402
from tests.models import harness  # noqa: E402


def _median_ms(fn, repeats=10):
    return 1000 * median_seconds(fn, repeats, warmup=1)


def _first_map(outputs, reference):
    same = [o for o in outputs if np.shape(o) == reference.shape]
    return min(same, key=lambda o: np.abs(o - reference).max())


def speed(model, served, tflite_path, size, rng, rounds=3):
    """Median ms of a batch of 8 through Keras and each SavedModel
    signature in `served` (name → function), alternating them for
    `rounds` rounds, and of one image through TFLite; with each round's
    Keras / signature ratio (`<key>_ratios`)."""
    eight = rng.uniform(0, 255, (8, size, size, 3)).astype("float32")
    calls = {"keras": lambda: model.predict_on_batch(eight)}
    for key, signature in served.items():
        calls[key] = lambda s=signature: s(images=tf.constant(eight))
    times = {key: [] for key in calls}
    for _ in range(rounds):
        for key, call in calls.items():
            times[key].append(_median_ms(call, 3))
    result = {f"{key}_ms": statistics.median(t) for key, t in times.items()}
    for key in served:
        result[f"{key}_ratios"] = [
            k / t for k, t in zip(times["keras"], times[key])
        ]
    result["tflite_b1_ms"] = _median_ms(
        lambda: run_tflite(tflite_path, eight[:1])
    )
    return result


# The SavedModels timed with --speed-only: the default export, the same
# without BatchNorm folding, and with the image size fixed at export.
SPEED_EXPORTS = {
    "saved_model": {},
    "unfolded": {"fold_batch_norm": False},
    "fixed_size": {"image_size": "size"},
}


def measure_inference(name, size, folder, rng, rounds=3):
    """The in-graph inference signatures against what they replace: the
    `serve_tta` signature (the four flips) against the Keras TTA model's
    `predict_on_batch` on a batch of 8, and `serve_tiled` (tiles of
    `size`, overlap 0.25, the default 4 tile positions a call, and one a
    call as `serve_tiled_1`) against `predict_tiled` (4 tiles a call) on
    one image of 4·size × 4·size, alternating, medians of `rounds` runs
    of three."""
    from kerasseg import inference
    from kerasseg.training.predict import predict_tiled

    model = harness.build(name)
    saved = export.saved_model(
        model, folder, warmup_requests=False, tta="flips", tile=size
    )
    signatures = tf.saved_model.load(saved).signatures
    one_a_call = export.saved_model(
        model,
        folder,
        name="one_a_call",
        warmup_requests=False,
        tile=size,
        tile_batch_size=1,
    )
    tiled_1 = tf.saved_model.load(one_a_call).signatures["serve_tiled"]
    tta_model = inference.tta(model, "flips")
    eight = rng.uniform(0, 255, (8, size, size, 3)).astype("float32")
    large = rng.uniform(0, 255, (4 * size, 4 * size, 3)).astype("float32")
    calls = {
        "keras_tta": lambda: tta_model.predict_on_batch(eight),
        "serve_tta": lambda: signatures["serve_tta"](images=tf.constant(eight)),
        "predict_tiled": lambda: predict_tiled(model, large, tile=size),
        "serve_tiled": lambda: signatures["serve_tiled"](
            images=tf.constant(large[None])
        ),
        "serve_tiled_1": lambda: tiled_1(images=tf.constant(large[None])),
    }
    times = {key: [] for key in calls}
    for _ in range(rounds):
        for key, call in calls.items():
            times[key].append(_median_ms(call, 3))
    return {key: statistics.median(t) for key, t in times.items()}


def measure(name, size, folder, speed_only=False, rounds=3):
    model = harness.build(name)
    rng = np.random.default_rng(0)
    shapes = [(2, size, size, 3), (1, size - 16, size + 16, 3)]
    batches = [rng.uniform(0, 255, s).astype("float32") for s in shapes]

    def keras_out(images):
        out = model.predict_on_batch(images)
        return np.asarray(out["mask"] if isinstance(out, dict) else out)

    row = {"model": name}
    if speed_only:
        signatures = {}
        for key, options in SPEED_EXPORTS.items():
            if options.get("image_size") == "size":
                options = {**options, "image_size": (size, size)}
            saved = export.saved_model(
                model,
                os.path.join(folder, key),
                warmup_requests=False,
                **options,
            )
            loaded = tf.saved_model.load(saved)
            signatures[key] = loaded.signatures["serving_default"]
        path = export.tflite(model, os.path.join(folder, "m.tflite"))
        return {**row, **speed(model, signatures, path, size, rng, rounds)}
    saved = export.saved_model(model, folder, warmup_requests=False)
    served = tf.saved_model.load(saved).signatures["serving_default"]
    task = harness.task(name)
    field = {"multitask": "mask_probabilities"}.get(task, "probabilities")
    diffs = []
    for images in batches:
        answer = served(images=tf.constant(images))
        ref = keras_out(images)
        if task == "reconstruction":
            got = answer["reconstruction"]
        else:
            got = answer[field]
            e = np.exp(ref - ref.max(-1, keepdims=True))
            ref = e / e.sum(-1, keepdims=True)
        diffs.append(np.abs(got.numpy() - ref).max())
    row["saved_model"] = max(diffs)
    files = {
        "tflite": export.tflite(model, os.path.join(folder, "m.tflite")),
        "onnx": export.onnx(model, os.path.join(folder, "m.onnx")),
    }
    for fmt, path in files.items():
        run = run_tflite if fmt == "tflite" else run_onnx
        row[fmt] = max(
            np.abs(_first_map(run(path, x), keras_out(x)) - keras_out(x)).max()
            for x in batches
        )
    for quantization in ("float16", "dynamic_int8"):
        if task == "reconstruction":  # no class ids
            row[quantization] = float("nan")
            continue
        path = export.tflite(
            model,
            os.path.join(folder, f"{quantization}.tflite"),
            quantization=quantization,
        )
        ref = keras_out(batches[0])
        got = _first_map(run_tflite(path, batches[0]), ref)
        row[quantization] = (got.argmax(-1) == ref.argmax(-1)).mean()
    timed = {"saved_model": served}
    return {**row, **speed(model, timed, files["tflite"], size, rng)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=None)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument(
        "--speed-only",
        action="store_true",
        help="only the timings (no parity, ONNX or quantized files)",
    )
    parser.add_argument(
        "--inference",
        action="store_true",
        help="time serve_tta and serve_tiled against the Keras TTA model "
        "and predict_tiled instead",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="alternating rounds of timings (each the median of three "
        "calls); the figures are their medians",
    )
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1; got {args.rounds}")
    names = args.models or kerasseg.list_models("*_tiny")
    if args.inference:
        big = 4 * args.size
        print(
            f"serve_tta (four flips) against the Keras TTA model's "
            f"predict_on_batch, batch 8 at {args.size}×{args.size}; "
            f"serve_tiled against predict_tiled (tiles of {args.size}, "
            f"overlap 0.25, 4 a call; serve_tiled also with 1 a call), one "
            f"image of {big}×{big}; alternating.\n\n"
            "| model | Keras TTA ms | serve_tta ms (× Keras) "
            "| predict_tiled ms | serve_tiled ms (× predict_tiled) "
            "| serve_tiled 1 a call ms (×) |\n"
            "|---|---|---|---|---|---|"
        )
        rng = np.random.default_rng(0)
        for name in names:
            with tempfile.TemporaryDirectory() as folder:
                r = measure_inference(name, args.size, folder, rng, args.rounds)
            print(
                f"| {name} | {r['keras_tta']:.1f} | {r['serve_tta']:.1f} "
                f"({r['keras_tta'] / r['serve_tta']:.2f}) "
                f"| {r['predict_tiled']:.1f} | {r['serve_tiled']:.1f} "
                f"({r['predict_tiled'] / r['serve_tiled']:.2f}) "
                f"| {r['serve_tiled_1']:.1f} "
                f"({r['predict_tiled'] / r['serve_tiled_1']:.2f}) |",
                flush=True,
            )
        return
    if args.speed_only:
        print(
            f"batch 8 at {args.size}×{args.size}: Keras predict_on_batch and "
            "the SavedModel's serving_default, alternating; TFLite float32 "
            "at batch 1. Speed × Keras: Keras ms / SavedModel ms.\n\n"
            "| model | Keras ms | SavedModel ms (× Keras) "
            "| unfolded BatchNorm ms (×) | image_size fixed ms (×) "
            "| TFLite batch 1 ms |\n|---|---|---|---|---|---|"
        )
        spread = []
        for name in names:
            with tempfile.TemporaryDirectory() as folder:
                r = measure(
                    name,
                    args.size,
                    folder,
                    speed_only=True,
                    rounds=args.rounds,
                )
            spread.append(
                f"{name}: "
                + "; ".join(
                    f"{key} {min(r[f'{key}_ratios']):.2f}–"
                    f"{max(r[f'{key}_ratios']):.2f}"
                    for key in SPEED_EXPORTS
                )
            )
            cells = [
                f"{r[f'{key}_ms']:.1f} ({r['keras_ms'] / r[f'{key}_ms']:.2f})"
                for key in SPEED_EXPORTS
            ]
            print(
                f"| {name} | {r['keras_ms']:.1f} | "
                + " | ".join(cells)
                + f" | {r['tflite_b1_ms']:.1f} |",
                flush=True,
            )
        print(
            f"\nSpeed × Keras of each of the {args.rounds} rounds, lowest–"
            "highest:\n" + "\n".join(spread)
        )
        return
    print(
        "| model | max abs diff: SavedModel | TFLite | ONNX "
        "| class-id agreement: TFLite float16 | TFLite dynamic int8 "
        "| batch 8 ms: Keras | SavedModel | TFLite batch 1 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in names:
        with tempfile.TemporaryDirectory() as folder:
            r = measure(name, args.size, folder)
        print(
            f"| {r['model']} | {r['saved_model']:.1e} | {r['tflite']:.1e} "
            f"| {r['onnx']:.1e} | {100 * r['float16']:.2f} % "
            f"| {100 * r['dynamic_int8']:.2f} % | {r['keras_ms']:.1f} "
            f"| {r['saved_model_ms']:.1f} | {r['tflite_b1_ms']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
