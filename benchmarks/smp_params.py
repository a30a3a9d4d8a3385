"""Trainable parameters of kerasseg's models beside segmentation_models.
pytorch's same configuration, counted by each library (random weights).

    python benchmarks/smp_params.py --torch-python PYTHON

PYTHON is an interpreter with torch and segmentation-models-pytorch (SMP
needs a torchvision that matches its torch; see docs/benchmarks.md). The
SMP side counts `parameters()` (BatchNorm's scale and shift, not its
running statistics), the kerasseg side `trainable_weights`: the same set.
The expected difference, from the two layouts, is printed beside each
pair; a count, not a benchmark.
"""

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# kerasseg model, classes → SMP constructor call, and the difference
# kerasseg − SMP the layouts predict, with its reason. keras.applications'
# ResNet50 has convolution biases (26,560 numbers) where torchvision's
# has none; SMP's U-Net head is a 3×3 convolution over 16 channels
# (16·9·c + c), kerasseg's a 1×1 (16·c + c).
PAIRS = [
    ("unet_resnet34", 1, "Unet('resnet34', classes=1)", -128, "3×3 head"),
    (
        "unet_resnet50",
        2,
        "Unet('resnet50', classes=2)",
        26560 - 256,
        "biases, head",
    ),
    ("fpn_resnet34", 2, "FPN('resnet34', classes=2)", 0, "same layout"),
    ("fpn_resnet50", 2, "FPN('resnet50', classes=2)", 26560, "biases"),
    ("linknet_resnet34", 2, "Linknet('resnet34', classes=2)", 0, "same layout"),
    (
        "deeplabv3plus_resnet50",
        2,
        "DeepLabV3Plus('resnet50', classes=2)",
        26560,
        "biases",
    ),
]

_SMP = """
import json, re, sys
import segmentation_models_pytorch as smp
counts = []
for call in json.loads(sys.argv[1]):
    pattern = r"(\\w+)\\('(\\w+)', classes=(\\d+)\\)"
    cls, encoder, classes = re.fullmatch(pattern, call).groups()
    build = getattr(smp, cls)
    model = build(encoder, encoder_weights=None, classes=int(classes))
    counts.append(sum(p.numel() for p in model.parameters()))
print(json.dumps(counts))
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--torch-python", default=sys.executable)
    args = parser.parse_args(argv)
    import numpy as np

    import kerasseg

    out = subprocess.run(
        [args.torch_python, "-c", _SMP, json.dumps([p[2] for p in PAIRS])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    smp_counts = json.loads(out.splitlines()[-1])
    print(
        "| kerasseg | trainable | SMP | parameters | kerasseg − SMP "
        "| expected | why |"
    )
    print("|---|---|---|---|---|---|---|")
    for (name, classes, call, expected, why), theirs in zip(PAIRS, smp_counts):
        model = kerasseg.build(name, num_classes=classes)
        ours = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
        print(
            f"| {name} ({classes} classes) | {ours:,} | {call} | {theirs:,} "
            f"| {ours - theirs:,} | {expected:,} | {why} |"
        )


if __name__ == "__main__":
    main()
