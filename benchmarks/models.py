"""Speed of registered kerasseg models on this machine.

For each model: parameters, forward FLOPs per image, inference images/s at
batch 1 and 8, training images/s at batch 8 with and without XLA, and each
as a fraction of this machine's measured float32 matmul peak. Writes JSON
and a markdown table. Random weights, random data, float32.

    python benchmarks/models.py --models unet_tiny unet_classic --size 128

A benchmark, not a test: nothing here asserts a speed.
"""

import argparse
import json
import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# kerasseg before Keras and TensorFlow, as its users import it: it turns
# TensorFlow's oneDNN kernels on on x86 (kerasseg._tensorflow).
import kerasseg  # noqa: E402, I001
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from timing import median_seconds  # noqa: E402

from kerasseg import registry  # noqa: E402
from kerasseg.zoo.publish import machine  # noqa: E402


def matmul_gflops(n=4096, repeats=5):
    """Float32 matmul throughput: the best of TF with and without XLA and
    numpy's BLAS, as this machine's peak."""
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    best = 0.0
    for xla in (True, False):
        matmul = tf.function(lambda: tf.matmul(a, b), jit_compile=xla)
        seconds = median_seconds(
            lambda matmul=matmul: matmul().numpy(), repeats, warmup=2
        )
        best = max(best, 2 * n**3 / seconds / 1e9)
    an, bn = a.numpy(), b.numpy()
    seconds = median_seconds(lambda: an @ bn, repeats, warmup=1)
    return max(best, 2 * n**3 / seconds / 1e9)


def forward_flops(model, size, channels):
    """Forward float operations for one image, counted by TF's profiler."""
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    spec = tf.TensorSpec((1, size, size, channels), tf.float32)
    concrete = tf.function(
        lambda x: model(x, training=False)
    ).get_concrete_function(spec)
    graph = convert_variables_to_constants_v2(concrete).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    info = tf.compat.v1.profiler.profile(graph=graph, options=options)
    return info.total_float_ops


def _build(name, size, channels):
    spec = registry.get_spec(name)
    kwargs = {"input_shape": (None, None, channels)}
    if spec.task == "segmentation":
        kwargs["num_classes"] = 2
    return spec, spec.build(**kwargs)


def _loss(spec):
    if spec.task == "segmentation":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return keras.losses.MeanSquaredError()


def bench_model(name, *, size, channels, repeats):
    spec, model = _build(name, size, channels)
    rng = np.random.default_rng(0)
    row = {
        "model": name,
        "params": model.count_params(),
        "gflop_per_image": forward_flops(model, size, channels) / 1e9,
    }
    for batch in (1, 8):
        x = rng.random((batch, size, size, channels), dtype=np.float32)
        for xla in (False, True):
            model.compile(jit_compile=xla)
            seconds = median_seconds(
                lambda x=x: model.predict_on_batch(x), repeats, warmup=2
            )
            key = f"infer_b{batch}_{'xla' if xla else 'graph'}"
            row[f"{key}_ms"] = seconds * 1e3
            row[f"{key}_img_s"] = batch / seconds
    x = rng.random((8, size, size, channels), dtype=np.float32)
    if spec.task == "segmentation":
        y = rng.integers(0, 2, (8, size, size)).astype("int32")
    else:
        y = x
    for xla in (False, True):
        _, model = _build(name, size, channels)
        model.compile(keras.optimizers.Adam(), _loss(spec), jit_compile=xla)
        seconds = median_seconds(
            lambda model=model: model.train_on_batch(x, y), repeats, warmup=2
        )
        row[f"train_b8_{'xla' if xla else 'graph'}_img_s"] = 8 / seconds
    keras.backend.clear_session()
    return row


def _percent(gflop, images_per_s, peak, factor=1.0):
    return 100 * gflop * factor * images_per_s / peak


def markdown(result):
    peak = result["matmul_gflops"]
    lines = [
        f"Machine: {result['machine']}; TF {result['tensorflow']}, "
        f"Keras {result['keras']}, kerasseg {result['kerasseg']}; "
        f"input {result['size']}×{result['size']}×{result['channels']}, "
        f"float32, matmul peak {peak:.0f} GFLOP/s.",
        "",
        "| model | params | GFLOP/img | b1 ms | b1 ms XLA | b8 img/s "
        "| b8 img/s XLA | b8 % peak | train img/s | train img/s XLA "
        "| train % peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["models"]:
        gflop = r["gflop_per_image"]
        infer = max(r["infer_b8_graph_img_s"], r["infer_b8_xla_img_s"])
        train = max(r["train_b8_graph_img_s"], r["train_b8_xla_img_s"])
        lines.append(
            f"| {r['model']} | {r['params']:,} | {gflop:.2f} "
            f"| {r['infer_b1_graph_ms']:.1f} | {r['infer_b1_xla_ms']:.1f} "
            f"| {r['infer_b8_graph_img_s']:.1f} "
            f"| {r['infer_b8_xla_img_s']:.1f} "
            f"| {_percent(gflop, infer, peak):.0f} "
            f"| {r['train_b8_graph_img_s']:.2f} "
            f"| {r['train_b8_xla_img_s']:.2f} "
            # A training step costs about three forward passes.
            f"| {_percent(gflop, train, peak, 3.0):.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs="+", default=kerasseg.list_models("*_tiny")
    )
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", type=pathlib.Path, default=pathlib.Path("benchmarks/results")
    )
    args = parser.parse_args(argv)

    result = {
        "machine": machine(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "kerasseg": kerasseg.__version__,
        "size": args.size,
        "channels": args.channels,
        "matmul_gflops": matmul_gflops(),
        "models": [],
    }
    for name in args.models:
        print(f"benchmarking {name} …", flush=True)
        result["models"].append(
            bench_model(
                name,
                size=args.size,
                channels=args.channels,
                repeats=args.repeats,
            )
        )
    save(result, args.out / f"models_{args.size}", markdown(result))


def save(result, stem, table):
    """Writes `stem`.json and `stem`.md and prints the table."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2))
    stem.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
