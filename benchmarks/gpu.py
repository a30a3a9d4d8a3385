"""Training and inference throughput under the JAX backend with XLA, on
whatever accelerator JAX sees (a GPU, a TPU, or else the CPU), in float32
and bfloat16 (Keras' "mixed_bfloat16" policy), as a fraction of the
device's measured matmul peak in the same precision.

    KERAS_BACKEND=jax python benchmarks/gpu.py \\
        --models unet deeplabv3plus_resnet50 --size 512 --batch 16

FLOPs are XLA's own count of the compiled computations
(`cost_analysis()`): the forward pass for inference, the loss's gradient
(forward and backward, without the optimizer's update) for a training
step. The peak is the best of a few large matmuls in that precision, not
the vendor's datasheet figure, which the table prints beside it where the
device is known. Needs no TensorFlow. A benchmark, not a test: nothing
here asserts a speed.
"""

import argparse
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from _report import report  # noqa: E402
from timing import median_seconds  # noqa: E402

import kerasseg  # noqa: E402

# Dense (no sparsity) datasheet peaks in TFLOP/s, for the table only.
DATASHEET = {
    "NVIDIA H100 80GB HBM3": {"float32": 67, "bfloat16": 989},
    "NVIDIA H200": {"float32": 67, "bfloat16": 989},
    "NVIDIA A100-SXM4-80GB": {"float32": 19.5, "bfloat16": 312},
}
POLICIES = {"float32": "float32", "bfloat16": "mixed_bfloat16"}


def matmul_peak(dtype, n):
    """The best TFLOP/s of an n×n matmul in `dtype` on JAX's device."""
    a = jnp.ones((n, n), dtype)
    b = jnp.ones((n, n), dtype)
    matmul = jax.jit(lambda a, b: a @ b)
    seconds = median_seconds(
        lambda: matmul(a, b).block_until_ready(), 10, warmup=3
    )
    return 2 * n**3 / seconds / 1e12


def _flops(fn, *args):
    analysis = jax.jit(fn).lower(*args).compile().cost_analysis()
    if isinstance(analysis, (list, tuple)):  # older jax: one per device
        analysis = analysis[0]
    return float(analysis["flops"])


def bench(name, precision, *, size, batch, repeats):
    keras.config.set_dtype_policy(POLICIES[precision])
    try:
        model = kerasseg.build(name, input_shape=(size, size, 3), num_classes=2)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        model.compile(keras.optimizers.Adam(1e-4), loss, jit_compile=True)
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
        y = rng.integers(0, 2, (batch, size, size)).astype("int32")
        train = median_seconds(
            lambda: model.train_on_batch(x, y), repeats, warmup=2
        )
        infer = median_seconds(
            lambda: model.predict_on_batch(x), repeats, warmup=2
        )
        trainable = [v.value for v in model.trainable_variables]
        frozen = [v.value for v in model.non_trainable_variables]

        def forward(trainable, frozen, x):
            return model.stateless_call(trainable, frozen, x)[0]

        def loss_of(trainable, frozen, x, y):
            scores, _ = model.stateless_call(
                trainable, frozen, x, training=True
            )
            return loss(y, scores)

        infer_flops = _flops(forward, trainable, frozen, x)
        train_flops = _flops(jax.grad(loss_of), trainable, frozen, x, y)
    finally:
        keras.config.set_dtype_policy("float32")
    return {
        "model": name,
        "precision": precision,
        "params": model.count_params(),
        "train_img_s": batch / train,
        "infer_img_s": batch / infer,
        "train_tflops": train_flops / train / 1e12,
        "infer_tflops": infer_flops / infer / 1e12,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", nargs="+", default=["unet", "deeplabv3plus_resnet50"]
    )
    parser.add_argument("--precisions", nargs="+", default=list(POLICIES))
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--matmul", type=int, default=8192, help="side of the peak's matmul"
    )
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args(argv)
    if keras.backend.backend() != "jax":
        sys.exit(f"KERAS_BACKEND must be jax, not {keras.backend.backend()}")
    for precision in args.precisions:
        if precision not in POLICIES:
            sys.exit(f"--precisions takes {list(POLICIES)}, not {precision!r}")
    device = jax.devices()[0]
    kind = device.device_kind
    peaks = {
        p: matmul_peak(
            jnp.float32 if p == "float32" else jnp.bfloat16, args.matmul
        )
        for p in args.precisions
    }
    rows = []
    for name in args.models:
        for precision in args.precisions:
            row = bench(
                name,
                precision,
                size=args.size,
                batch=args.batch,
                repeats=args.repeats,
            )
            row["peak_tflops"] = peaks[precision]
            row["datasheet_tflops"] = DATASHEET.get(kind, {}).get(precision)
            rows.append(row)
            print(row, flush=True)
    lines = [
        "| model | precision | train img/s | train TFLOP/s | train % of "
        "matmul peak | infer img/s | infer TFLOP/s | matmul peak TFLOP/s "
        "(datasheet) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        sheet = r["datasheet_tflops"]
        lines.append(
            f"| {r['model']} | {r['precision']} | {r['train_img_s']:.1f} "
            f"| {r['train_tflops']:.2f} "
            f"| {100 * r['train_tflops'] / r['peak_tflops']:.0f} "
            f"| {r['infer_img_s']:.1f} | {r['infer_tflops']:.2f} "
            f"| {r['peak_tflops']:.1f} ({sheet if sheet else '–'}) |"
        )
    report(
        f"JAX {jax.__version__}, keras {keras.__version__}, {kind} "
        f"({device.platform}); {args.size}×{args.size}×3, batch "
        f"{args.batch}, 2 classes, XLA; medians of {args.repeats} calls",
        "\n".join(lines),
        rows,
        args.json,
    )


if __name__ == "__main__":
    main()
