"""Where a training step's time goes: kerasseg's model under TensorFlow's
profiler beside its peers' under theirs (PyTorch's for SMP).

    python benchmarks/profile_step.py [--group deeplabv3plus] [--size 128]
        [--batch 8] [--steps 3] [--only PREFIX ...] [--torch-python PYTHON]

The groups and implementations are `benchmarks/peers.py`'s (its builders
are reused: random weights, 2 classes, Adam, cross-entropy): by default
kerasseg's DeepLabV3+ ResNet50 beside SMP's, and e.g. `--group
attention_unet` for kerasseg's Attention U-Net beside keras-unet-
collection's. Each runs in a worker process of its own with the caller's
environment; kerasseg's imports kerasseg first, as its users do (oneDNN
on x86), the other Keras rows keep TensorFlow's default kernels unless
TF_ENABLE_ONEDNN_OPTS says otherwise, as in peers.py. Each profiles
`--steps` training steps after two warm-up steps (Keras in graph mode,
without XLA, whose fused clusters would hide the ops) and reports, per
phase (forward, backward, optimizer) and per kind of layer (convolution,
batch norm, activation, resize and pooling, loss, other), the
milliseconds of operator self-time per step. For the convolutions it adds
the rate they reach against the machine's measured matmul peak
(`models.matmul_gflops`): forward FLOPs from each framework's own
counter, backward taken as twice the forward, as for any convolution or
matrix product.

Self-times are summed over the operator threads, so on two cores a phase
can add up to more than the wall time of the step (also reported).

A benchmark, not a test: nothing here asserts a speed.
"""

import argparse
import glob
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# peers.py records the caller's environment as it imports, before this
# process imports kerasseg (which sets TF_ENABLE_ONEDNN_OPTS for itself):
# the workers get it, so a peer runs with the caller's kernel setting.
from peers import CALLER_ENVIRONMENT  # noqa: E402
from peers import GROUPS  # noqa: E402

PHASES = ("forward", "backward", "optimizer")
TOP = 12  # operator types listed per implementation, by self-time
KINDS = (
    "convolution",
    "batch norm",
    "activation",
    "resize and pooling",
    "loss",
    "other",
)

# Keras layer classes by kind; a class not named here is "other".
_KERAS_KINDS = {
    "convolution": {
        "Conv2D",
        "SeparableConv2D",
        "DepthwiseConv2D",
        "Conv2DTranspose",
        "Dense",
    },
    "batch norm": {"BatchNormalization"},
    "activation": {"ReLU", "Activation"},
    "resize and pooling": {
        "MaxPooling2D",
        "AveragePooling2D",
        "GlobalAveragePooling2D",
        "BilinearUpsample",
        "ResizeToReference",
        "UpSampling2D",
        "Resizing",
    },
}

# PyTorch operator names by kind, matched as substrings, first match wins.
_TORCH_KINDS = (
    ("batch norm", ("batch_norm",)),
    ("convolution", ("convolution", "conv2d", "addmm", "::mm", "matmul")),
    ("activation", ("relu", "threshold")),
    ("resize and pooling", ("pool", "upsample", "interpolate")),
    ("loss", ("nll_loss", "log_softmax", "cross_entropy")),
)


def _keras_layer_kinds(model):
    """Layer name → kind, nested models included."""
    import keras

    kinds = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            kinds.update(_keras_layer_kinds(layer))
            continue
        kind = next(
            (
                k
                for k, classes in _KERAS_KINDS.items()
                if type(layer).__name__ in classes
            ),
            "other",
        )
        kinds[layer.name] = kind
    return kinds


def _keras_op(name, layer_kinds):
    """(phase, kind) of one TensorFlow operation, from its name: the
    gradient tape's ops are the backward pass, Adam's the optimizer, and
    the first path part that names a layer (Keras adds "_1" per call)
    gives its kind."""
    if name.startswith("adam/"):
        return "optimizer", "other"
    phase = "backward" if name.startswith("gradient_tape/") else "forward"
    if "compile_loss" in name:
        return phase, "loss"
    for part in name.split("/"):
        base = (
            part.rsplit("_", 1)[0]
            if part.rsplit("_", 1)[-1].isdigit()
            else part
        )
        if base in layer_kinds:
            return phase, layer_kinds[base]
    return phase, "other"


def _profile_keras(name, size, batch, steps):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if name.startswith("kerasseg"):
        # kerasseg before TensorFlow, as its users import it (oneDNN on
        # x86); a peer keeps TensorFlow's default, as its users get it.
        import kerasseg  # noqa: F401, I001
    import keras
    import numpy as np
    import tensorflow as tf
    from models import forward_flops
    from peers import _build_keras
    from tensorflow.python.profiler.internal import _pywrap_profiler_plugin

    from kerasseg import _tensorflow

    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 255, (batch, size, size, 3)), tf.float32)
    y = tf.constant(rng.integers(0, 2, (batch, size, size, 1)), tf.int32)
    model = _build_keras(name, size)
    flops = forward_flops(model, size, 3) * batch
    model.compile(
        keras.optimizers.Adam(),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=False,
    )
    for _ in range(2):
        model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    wall = (time.perf_counter() - start) / steps
    with tempfile.TemporaryDirectory() as folder:
        tf.profiler.experimental.start(folder)
        for _ in range(steps):
            model.train_on_batch(x, y)
        tf.profiler.experimental.stop()
        paths = glob.glob(f"{folder}/**/*.xplane.pb", recursive=True)
        data = _pywrap_profiler_plugin.xspace_to_tools_data(
            paths, "framework_op_stats", {}
        )[0]
    table = json.loads(data)[0]
    columns = [c["id"] for c in table["cols"]]
    layer_kinds = _keras_layer_kinds(model)
    times, operators, operations = {}, {}, []
    for row in table["rows"]:
        values = dict(zip(columns, [c["v"] if c else None for c in row["c"]]))
        if values["type"] == "IDLE":
            continue
        key = _keras_op(values["operation"], layer_kinds)
        ms = values["total_self_time"] / 1e3
        times[key] = times.get(key, 0.0) + ms
        operator = (key[0], values["type"])
        operators[operator] = operators.get(operator, 0.0) + ms
        operations.append((values["type"], values["operation"], ms / steps))
    result = _result(times, steps, wall, flops, operators)
    result["onednn"] = _tensorflow.onednn_enabled()
    # The single operations (one layer's op, by its graph name) with the
    # most self-time: which layers a costly operator type comes from.
    result["top_operations"] = sorted(operations, key=lambda o: -o[2])[:TOP]
    return result


def _torch_kind(op):
    return next(
        (
            kind
            for kind, words in _TORCH_KINDS
            if any(word in op for word in words)
        ),
        "other",
    )


def _profile_torch(name, size, batch, steps):
    import torch
    from peers import _build_torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile
    from torch.profiler import record_function
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = _build_torch(name)
    x = torch.rand(batch, 3, size, size) * 255
    y = torch.randint(0, 2, (batch, size, size))
    counter = FlopCounterMode(display=False)
    model.eval()
    with torch.inference_mode(), counter:
        model(x)
    flops = counter.get_total_flops()
    model.train()
    optimizer = torch.optim.Adam(model.parameters())
    loss = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        with record_function("forward"):
            value = loss(model(x), y)
        with record_function("backward"):
            value.backward()
        with record_function("optimizer"):
            optimizer.step()

    for _ in range(2):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    wall = (time.perf_counter() - start) / steps
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    times, operators = {}, {}
    for event in prof.events():
        phase, parent = None, event
        while parent is not None:  # the enclosing record_function range
            if parent.name in PHASES:
                phase = parent.name
                break
            parent = parent.cpu_parent
        if phase is None or event.name in PHASES:
            continue
        kind = "other" if phase == "optimizer" else _torch_kind(event.name)
        key = (phase, kind)
        ms = event.self_cpu_time_total / 1e3
        times[key] = times.get(key, 0.0) + ms
        operators[(phase, event.name)] = (
            operators.get((phase, event.name), 0) + ms
        )
    return _result(times, steps, wall, flops, operators)


def _result(times, steps, wall, flops, operators):
    top = sorted(operators.items(), key=lambda item: -item[1])[:TOP]
    return {
        "wall_ms": wall * 1e3,
        "forward_gflop": flops / 1e9,
        "ms": {f"{p}|{k}": v / steps for (p, k), v in times.items()},
        "top": [[p, op, ms / steps] for (p, op), ms in top],
    }


def worker(name, framework, size, batch, steps):
    out = sys.stdout
    sys.stdout = sys.stderr  # keep library prints off the answer channel
    profile = _profile_keras if framework == "keras" else _profile_torch
    out.write(json.dumps(profile(name, size, batch, steps)) + "\n")


def _rate(gflop, ms):
    return gflop / (ms / 1e3) if ms else float("nan")


def markdown(result):
    peak = result["peak_gflops"]
    names = list(result["implementations"])
    kernels = "".join(
        f" {n} ran on TensorFlow's "
        f"{'oneDNN' if r['onednn'] else 'Eigen'} kernels."
        for n, r in result["implementations"].items()
        if "onednn" in r
    )
    lines = [
        f"Machine: {result['machine']}; batch {result['batch']} at "
        f"{result['size']}×{result['size']}, float32, {result['steps']} "
        f"profiled steps; matmul peak {peak:.0f} GFLOP/s.{kernels}",
        "",
        "Milliseconds of operator self-time per training step:",
        "",
        "| phase | kind | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for phase in PHASES:
        for kind in KINDS:
            values = [
                result["implementations"][n]["ms"].get(f"{phase}|{kind}", 0.0)
                for n in names
            ]
            if max(values) < 0.5:
                continue
            cells = " | ".join(f"{v:.0f}" for v in values)
            lines.append(f"| {phase} | {kind} | {cells} |")
        totals = [
            sum(
                v
                for k, v in result["implementations"][n]["ms"].items()
                if k.startswith(f"{phase}|")
            )
            for n in names
        ]
        cells = " | ".join(f"**{v:.0f}**" for v in totals)
        lines.append(f"| **{phase}** | all | {cells} |")
    walls = " | ".join(
        f"{result['implementations'][n]['wall_ms']:.0f}" for n in names
    )
    lines.append(f"| step | wall time | {walls} |")
    lines += [
        "",
        "Convolutions against the matmul peak (forward GFLOP from each "
        "framework's counter, backward twice the forward):",
        "",
        "| implementation | forward GFLOP | forward GFLOP/s | % peak "
        "| backward GFLOP/s | % peak |",
        "|---|---|---|---|---|---|",
    ]
    for n in names:
        r = result["implementations"][n]
        forward = _rate(
            r["forward_gflop"], r["ms"].get("forward|convolution", 0)
        )
        backward = _rate(
            2 * r["forward_gflop"], r["ms"].get("backward|convolution", 0)
        )
        lines.append(
            f"| {n} | {r['forward_gflop']:.1f} | {forward:.0f} "
            f"| {100 * forward / peak:.0f} | {backward:.0f} "
            f"| {100 * backward / peak:.0f} |"
        )
    for n in names:
        lines += [
            "",
            f"The {TOP} operator types with the most self-time per step, {n}:",
            "",
            "| phase | operator | ms |",
            "|---|---|---|",
        ]
        lines += [
            f"| {phase} | `{op}` | {ms:.0f} |"
            for phase, op, ms in result["implementations"][n].get("top", [])
        ]
        operations = result["implementations"][n].get("top_operations")
        if operations:
            lines += [
                "",
                f"The {TOP} single operations with the most self-time per "
                f"step, {n}:",
                "",
                "| operator | operation | ms |",
                "|---|---|---|",
            ]
            lines += [
                f"| `{op_type}` | `{name}` | {ms:.0f} |"
                for op_type, name, ms in operations
            ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--group", choices=sorted(GROUPS), default="deeplabv3plus"
    )
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="PREFIX",
        help="profile only the implementations whose names start so "
        "(e.g. --only kerasseg KUC)",
    )
    parser.add_argument(
        "--torch-python",
        default=sys.executable,
        help="the Python that runs the PyTorch worker (one with torch and "
        "segmentation-models-pytorch, e.g. a virtualenv of its own)",
    )
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "FRAMEWORK"))
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "results")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker, args.size, args.batch, args.steps)
    from models import matmul_gflops
    from models import save

    from kerasseg.zoo.publish import machine

    result = {
        "machine": machine(),
        "size": args.size,
        "batch": args.batch,
        "steps": args.steps,
        "peak_gflops": matmul_gflops(),
        "implementations": {},
    }
    for name, framework, _ in GROUPS[args.group]:
        if args.only and not name.startswith(tuple(args.only)):
            continue
        print(f"profiling {name} …", flush=True)
        python = args.torch_python if framework == "torch" else sys.executable
        answer = subprocess.run(
            [
                python,
                __file__,
                *("--worker", name, framework),
                *("--size", str(args.size)),
                *("--batch", str(args.batch)),
                *("--steps", str(args.steps)),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=CALLER_ENVIRONMENT,
        )
        if answer.returncode:  # its traceback went to stderr
            print(f"  {name} failed (exit {answer.returncode})", flush=True)
            continue
        result["implementations"][name] = json.loads(
            answer.stdout.strip().splitlines()[-1]
        )
    save(
        result,
        args.out / f"profile_step_{args.group}_{args.size}",
        markdown(result),
    )


if __name__ == "__main__":
    main()
