"""kerasseg beside its peers, same architecture, input and batch, in one run.

Groups (random weights, float32, 2 classes):

- unet: kerasseg `unet` (batch norm, transposed convolutions) and
  keras-unet-collection `unet_2d` with the same filters, batch norm and
  transposed convolutions; segmentation_models.pytorch `Unet(vgg13_bn)`,
  its nearest U-Net, for reference;
- attention_unet: kerasseg `attention_unet` and keras-unet-collection
  `att_unet_2d` (additive attention, batch norm);
- deeplabv3plus: kerasseg `deeplabv3plus_resnet50` (output stride 16),
  keras-hub `DeepLabV3ImageSegmenter` over a ResNet50 built from config,
  and segmentation_models.pytorch `DeepLabV3Plus(resnet50)`;
- unet_resnet34, unet_resnet50: kerasseg's `unet_resnet34` /
  `unet_resnet50` and segmentation_models.pytorch's `Unet` over the same
  encoder (decoder widths 256 … 16, nearest upsampling; SMP's head is a
  3×3 convolution, kerasseg's 1×1);
- fpn_resnet50: kerasseg `fpn_resnet50` and SMP `FPN(resnet50)`;
- pspnet_resnet50: kerasseg `pspnet_resnet50` (pyramid pooling on the
  output-stride-8 map, as the paper) and SMP `PSPNet(resnet50)` with its
  encoder dilated to output stride 8 and all five stages
  (`encoder_depth=5, upsampling=8`; SMP's default stops at stride 8
  without dilation, after ResNet's second stage). SMP fuses the pyramid
  with a 1×1 convolution, kerasseg with the paper's 3×3.

Each implementation runs in a worker process of its own (TensorFlow and
PyTorch never share one); the workers take turns, round after round, so
a slow phase of the machine hits all of them. Reported per
implementation: parameters, forward GFLOP per image, batch-1 latency,
batch-8 inference images/s, training images/s (batch 8, Adam,
cross-entropy), each Keras figure with and without XLA, as ratios to
kerasseg and as a fraction of the machine's matmul peak, and for the
Keras rows which TensorFlow kernels ran (oneDNN or Eigen): kerasseg's
worker imports kerasseg first, as its users do, which turns oneDNN on on
x86 (`kerasseg._tensorflow.prefer_onednn`); the other Keras peers run
with TensorFlow's default for the CPU, or as the caller's
TF_ENABLE_ONEDNN_OPTS says (`TF_ENABLE_ONEDNN_OPTS=1` runs them all on
oneDNN). Peers that are not installed are skipped
(`pip install -e ".[peers]"`, plus PyTorch).

    python benchmarks/peers.py --groups unet attention_unet deeplabv3plus

A benchmark, not a test: nothing here asserts a speed.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# The environment as the caller gave it, before this process imports
# kerasseg (which sets TF_ENABLE_ONEDNN_OPTS for itself): the workers get
# it, so each Keras peer runs with TensorFlow's default or the caller's
# setting, and kerasseg's worker sets its own.
CALLER_ENVIRONMENT = dict(os.environ)

from timing import median_seconds  # noqa: E402

FILTERS = [64, 128, 256, 512, 1024]

# group → implementations: (name, framework, module that must be installed)
GROUPS = {
    "unet": [
        ("kerasseg unet", "keras", "kerasseg"),
        ("KUC unet_2d", "keras", "keras_unet_collection"),
        ("SMP Unet(vgg13_bn)", "torch", "segmentation_models_pytorch"),
    ],
    "attention_unet": [
        ("kerasseg attention_unet", "keras", "kerasseg"),
        ("KUC att_unet_2d", "keras", "keras_unet_collection"),
    ],
    "deeplabv3plus": [
        ("kerasseg deeplabv3plus_resnet50", "keras", "kerasseg"),
        ("KH DeepLabV3+ (ResNet50)", "keras", "keras_hub"),
        ("SMP DeepLabV3Plus(resnet50)", "torch", "segmentation_models_pytorch"),
    ],
    **{
        f"{decoder}_resnet{depth}": [
            (f"kerasseg {decoder}_resnet{depth}", "keras", "kerasseg"),
            (
                f"SMP {smp}(resnet{depth})",
                "torch",
                "segmentation_models_pytorch",
            ),
        ]
        for decoder, smp, depth in (
            ("unet", "Unet", 34),
            ("unet", "Unet", 50),
            ("fpn", "FPN", 50),
            ("pspnet", "PSPNet", 50),
        )
    },
}


# === Workers: build one model, then time it on request ===


def _build_keras(name, size):
    import kerasseg

    shape = (size, size, 3)
    if name.startswith("kerasseg "):  # "kerasseg <registered model>"
        return kerasseg.build(name.split()[1], input_shape=shape, num_classes=2)
    if name.startswith("KUC"):
        from keras_unet_collection import models

        build = models.unet_2d if "att" not in name else models.att_unet_2d
        return build(
            shape,
            FILTERS,
            n_labels=2,
            output_activation=None,
            batch_norm=True,
            pool="max",
            unpool=False,
            weights=None,
        )
    if name.startswith("KH"):
        import keras_hub

        resnet = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 128, 256, 512],
            stackwise_num_blocks=[3, 4, 6, 3],
            stackwise_num_strides=[1, 2, 2, 2],
            block_type="bottleneck_block",
            image_shape=shape,
        )
        backbone = keras_hub.models.DeepLabV3Backbone(
            image_encoder=resnet,
            # keras-hub's presets: ASPP on the stride-32 "P5", upsampled
            # ×8 to the stride-4 "P2".
            spatial_pyramid_pooling_key="P5",
            upsampling_size=8,
            dilation_rates=[6, 12, 18],
            low_level_feature_key="P2",
            image_shape=shape,
        )
        return keras_hub.models.DeepLabV3ImageSegmenter(
            backbone=backbone, num_classes=2
        )
    raise ValueError(f"unknown Keras implementation {name!r}")


def _build_torch(name):
    import segmentation_models_pytorch as smp

    if name == "SMP Unet(vgg13_bn)":
        return smp.Unet("vgg13_bn", encoder_weights=None, classes=2)
    if name == "SMP DeepLabV3Plus(resnet50)":
        return smp.DeepLabV3Plus("resnet50", encoder_weights=None, classes=2)
    if name == "SMP PSPNet(resnet50)":
        model = smp.PSPNet(
            "resnet50",
            encoder_weights=None,
            encoder_depth=5,
            upsampling=8,
            classes=2,
        )
        model.encoder.make_dilated(output_stride=8)
        return model
    for decoder in ("Unet", "FPN"):
        if name.startswith(f"SMP {decoder}(resnet"):
            depth = name[len(f"SMP {decoder}(") : -1]
            return getattr(smp, decoder)(depth, encoder_weights=None, classes=2)
    raise ValueError(f"unknown PyTorch implementation {name!r}")


def _keras_worker(name, size):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if name.startswith("kerasseg"):
        # As its users run it: `import kerasseg` comes before TensorFlow's
        # import and turns oneDNN on on x86 (`_tensorflow.prefer_onednn`).
        # The other Keras rows run with TensorFlow's own default unless
        # the environment sets TF_ENABLE_ONEDNN_OPTS.
        import kerasseg  # noqa: F401
    import keras
    import numpy as np
    import tensorflow as tf
    from models import forward_flops
    from models import matmul_gflops

    from kerasseg import _tensorflow

    rng = np.random.default_rng(0)
    x1 = tf.constant(rng.uniform(0, 255, (1, size, size, 3)), tf.float32)
    x8 = tf.constant(rng.uniform(0, 255, (8, size, size, 3)), tf.float32)
    # (batch, h, w, 1) labels: keras-hub's segmenter metrics need the axis.
    y8 = tf.constant(rng.integers(0, 2, (8, size, size, 1)), tf.int32)
    model = _build_keras(name, size)
    infos = {
        "params": model.count_params(),
        "gflop": forward_flops(model, size, 3) / 1e9,
        "peak": matmul_gflops(),
        "onednn": _tensorflow.onednn_enabled(),
    }
    if name.startswith("kerasseg"):
        # What `jit_compile: auto` (training) and `kerasseg predict`
        # (inference) would pick here, checked below against the timings.
        from kerasseg.training import xla

        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        infos["auto"] = {
            "train": xla.choose_jit_compile(model, x8, y8, loss=loss)[0],
            "b8": xla.choose_jit_compile(model, x8)[0],
        }
    steps = {}
    for xla in (False, True):
        tag = "xla" if xla else "graph"
        infer = tf.function(lambda x: model(x, training=False), jit_compile=xla)
        steps[f"b1_{tag}"] = lambda infer=infer: infer(x1).numpy()
        steps[f"b8_{tag}"] = lambda infer=infer: infer(x8).numpy()
        trainee = _build_keras(name, size)
        trainee.compile(
            keras.optimizers.Adam(),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=xla,
        )
        steps[f"train_{tag}"] = lambda t=trainee: t.train_on_batch(x8, y8)
    return infos, steps


def _torch_worker(name, size):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    torch.manual_seed(0)
    model = _build_torch(name)
    x1 = torch.rand(1, 3, size, size) * 255
    x8 = torch.rand(8, 3, size, size) * 255
    y8 = torch.randint(0, 2, (8, size, size))
    model.eval()
    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            model(x1)
    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    torch.mm(a, b)
    peak = 2 * 4096**3 / median_seconds(lambda: torch.mm(a, b), 5) / 1e9
    infos = {
        "params": sum(p.numel() for p in model.parameters()),
        "gflop": counter.get_total_flops() / 1e9,
        "peak": peak,
    }
    optimizer = torch.optim.Adam(model.parameters())
    loss = torch.nn.CrossEntropyLoss()

    def infer(x):
        model.eval()
        with torch.inference_mode():
            model(x)

    def train():
        model.train()
        optimizer.zero_grad()
        loss(model(x8), y8).backward()
        optimizer.step()

    steps = {
        "b1_graph": lambda: infer(x1),
        "b8_graph": lambda: infer(x8),
        "train_graph": train,
    }
    return infos, steps


def worker(name, framework, size, repeats):
    """Answers on stdout: one JSON line of facts, then one line of
    timings (seconds per call, medians) per 'round' line on stdin."""
    make = _keras_worker if framework == "keras" else _torch_worker
    out = sys.stdout
    sys.stdout = sys.stderr  # keep library prints off the answer channel
    infos, steps = make(name, size)
    out.write(json.dumps(infos) + "\n")
    out.flush()
    first = True
    for line in sys.stdin:
        if line.strip() != "round":
            break
        timings = {}
        for key, step in steps.items():
            for _ in range(2 if first else 1):  # warm-up (and compile)
                step()
            timings[key] = median_seconds(step, repeats)
        first = False
        out.write(json.dumps(timings) + "\n")
        out.flush()


# === The coordinator ===


def _start(name, framework, args):
    command = [
        args.torch_python if framework == "torch" else sys.executable,
        __file__,
        "--worker",
        name,
        framework,
        "--size",
        str(args.size),
        "--repeats",
        str(args.repeats),
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=CALLER_ENVIRONMENT,
    )
    line = process.stdout.readline()
    if not line:  # the worker failed; its traceback is on stderr
        process.wait()
        return None, None
    return process, json.loads(line)


def _installed(module, python):
    """Whether `python` (this interpreter or another) can import `module`."""
    if python == sys.executable:
        return importlib.util.find_spec(module) is not None
    check = (
        "import importlib.util, sys; "
        f"sys.exit(not importlib.util.find_spec({module!r}))"
    )
    return subprocess.run([python, "-c", check]).returncode == 0


def run_group(group, args):
    def python(framework):
        return args.torch_python if framework == "torch" else sys.executable

    wanted = [
        (name, framework, module)
        for name, framework, module in GROUPS[group]
        if not args.only or name.startswith(tuple(args.only))
    ]
    available = [
        (name, framework)
        for name, framework, module in wanted
        if _installed(module, python(framework))
        and (framework != "torch" or _installed("torch", python(framework)))
    ]
    skipped = [
        f"{name} (not installed)"
        for name, framework, _ in wanted
        if (name, framework) not in available
    ] + [
        f"{entry[0]} (not asked for: --only)"
        for entry in GROUPS[group]
        if entry not in wanted
    ]
    results = {}
    # Built one at a time (building also measures FLOPs and the peak),
    # then timed in turns.
    workers = {}
    for name, framework in available:
        print(f"  building {name} …", flush=True)
        process, infos = _start(name, framework, args)
        if process is None:
            skipped.append(f"{name} (failed to build, see stderr)")
            continue
        workers[name], results[name] = process, infos
        results[name]["framework"] = framework
        results[name]["rounds"] = []
    for r in range(args.rounds):
        for name, process in workers.items():
            print(f"  round {r + 1}: {name} …", flush=True)
            process.stdin.write("round\n")
            process.stdin.flush()
            results[name]["rounds"].append(
                json.loads(process.stdout.readline())
            )
    for process in workers.values():
        process.stdin.close()
        process.wait()
    for row in results.values():
        keys = row["rounds"][0]
        row["seconds"] = {
            k: statistics.median(t[k] for t in row["rounds"]) for k in keys
        }
    return {"implementations": results, "skipped": skipped}


# Environment variables that change how TensorFlow runs a step: its
# inter- and intra-op thread pools and oneDNN's graph rewrites.
THREAD_SETTINGS = (
    "TF_NUM_INTEROP_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_ENABLE_ONEDNN_OPTS",
)


def _best(seconds, kind):
    values = [v for k, v in seconds.items() if k.startswith(kind)]
    return min(values)


def _kernels(row):
    """The TensorFlow kernels a Keras row ran on; – for PyTorch rows."""
    if "onednn" not in row:
        return "–"
    return "oneDNN" if row["onednn"] else "Eigen"


def markdown(result):
    peak = result["peak"]
    settings = "".join(
        f"{k}={v}; " for k, v in result.get("settings", {}).items()
    )
    lines = [
        f"Machine: {result['machine']}; {result['versions']}; {settings}input "
        f"{result['size']}×{result['size']}×3, float32, 2 classes; "
        f"matmul peak {peak:.0f} GFLOP/s; medians of {result['rounds']} "
        f"interleaved rounds of {result['repeats']} timed calls.",
        "",
    ]
    for group, data in result["groups"].items():
        rows = data["implementations"]
        ours = next(r for n, r in rows.items() if n.startswith("kerasseg"))
        lines += [
            f"### {group}",
            "",
            "| implementation | params (M) | GFLOP/img | b1 ms | b1 ms XLA "
            "| b8 img/s | b8 img/s XLA | train img/s | train img/s XLA "
            "| best infer × kerasseg | best train × kerasseg "
            "| train % peak | TF kernels |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, r in rows.items():
            s = r["seconds"]

            def cell(key, scale, digits, s=s):
                return f"{scale(s[key]):.{digits}f}" if key in s else "–"

            train = 8 / _best(s, "train")
            infer = 8 / _best(s, "b8")
            ours_train = 8 / _best(ours["seconds"], "train")
            ours_infer = 8 / _best(ours["seconds"], "b8")
            lines.append(
                f"| {name} | {r['params'] / 1e6:.2f} | {r['gflop']:.2f} "
                f"| {cell('b1_graph', lambda v: v * 1e3, 1)} "
                f"| {cell('b1_xla', lambda v: v * 1e3, 1)} "
                f"| {cell('b8_graph', lambda v: 8 / v, 2)} "
                f"| {cell('b8_xla', lambda v: 8 / v, 2)} "
                f"| {cell('train_graph', lambda v: 8 / v, 2)} "
                f"| {cell('train_xla', lambda v: 8 / v, 2)} "
                f"| {infer / ours_infer:.2f} | {train / ours_train:.2f} "
                # A training step costs about three forward passes.
                f"| {100 * 3 * r['gflop'] * train / peak:.0f} "
                f"| {_kernels(r)} |"
            )
        if "auto" in ours:
            lines.append("")
            for kind, label in (("train", "training"), ("b8", "inference")):
                pick = "xla" if ours["auto"][kind] else "graph"
                seconds = ours["seconds"]
                slower = seconds[f"{kind}_{pick}"] / _best(seconds, kind) - 1
                lines.append(
                    f"kerasseg's measured auto choice for {label}: {pick}, "
                    f"{100 * slower:.1f} % slower than the faster setting "
                    "in the timings above."
                )
        if data["skipped"]:
            lines.append("")
            lines.append(f"Not run: {', '.join(data['skipped'])}.")
        lines.append("")
    return "\n".join(lines)


_LIST_VERSIONS = """
import importlib.metadata as md
for package in {packages!r}:
    try:
        print(package, md.version(package))
    except md.PackageNotFoundError:
        pass
"""


def _versions(torch_python):
    """The packages' versions, the PyTorch ones as `torch_python` has
    them."""
    found = []
    for python, packages in (
        (
            sys.executable,
            ("tensorflow", "keras", "kerasseg", "keras-unet-collection")
            + ("keras-hub",),
        ),
        (torch_python, ("torch", "segmentation-models-pytorch")),
    ):
        script = _LIST_VERSIONS.format(packages=packages)
        out = subprocess.run(
            [python, "-c", script], capture_output=True, text=True
        ).stdout
        found += out.splitlines()
    return ", ".join(found)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", nargs="+", default=list(GROUPS))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--worker", nargs=2, metavar=("NAME", "FRAMEWORK"))
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="PREFIX",
        help="time only the implementations whose names start so "
        "(e.g. --only kerasseg SMP)",
    )
    parser.add_argument(
        "--torch-python",
        default=sys.executable,
        help="the Python that runs the PyTorch workers (one with torch and "
        "segmentation-models-pytorch, e.g. a virtualenv of its own)",
    )
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "results")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(*args.worker, args.size, args.repeats)
    from models import save

    from kerasseg.zoo.publish import machine

    result = {
        "machine": machine(),
        "platform": platform.platform(),
        "versions": _versions(args.torch_python),
        "size": args.size,
        "rounds": args.rounds,
        "repeats": args.repeats,
        # TensorFlow's threading knobs, where the caller set them (the
        # workers inherit the environment).
        "settings": {
            k: CALLER_ENVIRONMENT[k]
            for k in THREAD_SETTINGS
            if k in CALLER_ENVIRONMENT
        },
        "groups": {},
    }
    for group in args.groups:
        print(f"{group}:", flush=True)
        result["groups"][group] = run_group(group, args)
    result["peak"] = max(
        r["peak"]
        for g in result["groups"].values()
        for r in g["implementations"].values()
    )
    save(result, args.out / f"peers_{args.size}", markdown(result))


if __name__ == "__main__":
    main()
