"""Bad input across the API and the CLI: each case gives an error that
names the thing, says what was wrong and what is accepted, before any
work is done. One table, so a new kind of bad input is one more row."""

import numpy as np
import pytest
import yaml
from PIL import Image

import kerasseg
from kerasseg import cli
from kerasseg import export
from kerasseg.training import config


def _tiny():
    return kerasseg.build(
        "unet_tiny", input_shape=(None, None, 1), num_classes=2
    )


API = {
    "unknown model name": (
        lambda p: kerasseg.build("unet_tiniest"),
        r"Unknown model name 'unet_tiniest'.*Did you mean: unet_tiny",
    ),
    "overriding a fixed setting": (
        lambda p: kerasseg.build("unet_classic", base_filters=8),
        r"'unet_classic' fixes \{'base_filters': 64\}.*received",
    ),
    "zero classes": (
        lambda p: kerasseg.models.unet(num_classes=0),
        r"`num_classes` must be an integer >= 1\. Received: num_classes=0",
    ),
    "input shape without channels": (
        lambda p: kerasseg.models.unet(input_shape=(None, None)),
        r"input_shape",
    ),
    "unknown upsampling": (
        lambda p: kerasseg.models.unet(upsampling="cubic"),
        r"`upsampling` must be one of .*Received: upsampling='cubic'",
    ),
    "softmax over one channel": (
        lambda p: kerasseg.models.unet(num_classes=1, activation="softmax"),
        r"activation='softmax' over a single output channel always outputs",
    ),
    "unknown input normalization": (
        lambda p: kerasseg.models.unet(input_normalization="zscore"),
        r"`input_normalization` must be None, 'percentile' or a dict",
    ),
    "a 0×0 image into a model": (
        lambda p: _tiny().predict(np.zeros((1, 0, 0, 1)), verbose=0),
        r"kerasseg models take images of at least 1×1 pixels; received a "
        r"batch of shape \(1, 0, 0, 1\)",
    ),
    "an autoencoder config with classes": (
        lambda p: config.load(
            raw={
                "model": {"name": "conv_autoencoder_tiny", "num_classes": 2},
                "data": {"dataset": "nuclei"},
            }
        ),
        r"model.num_classes is set, but 'conv_autoencoder_tiny' is a "
        r"reconstruction model",
    ),
    "unknown loss name": (
        lambda p: kerasseg.losses.get("dicee"),
        r"Unknown loss 'dicee'\. Did you mean 'dice'\? Losses: ",
    ),
    "unknown metric name": (
        lambda p: kerasseg.metrics.get("miou"),
        r"Unknown metric 'miou'.*Metrics: mean_iou",
    ),
    "unknown loss mode": (
        lambda p: kerasseg.losses.DiceCrossEntropy(mode="binaryy"),
        r"mode.*'binaryy'",
    ),
    "reversed gamma range": (
        lambda p: kerasseg.data.Augment(gamma=(2.0, 1.0)),
        r"Augment\.gamma must be None or \(low, high\) with 0 < low <= high",
    ),
    "whole images of two sizes in one batch": (
        lambda p: kerasseg.data.nuclei(),
        r"Images differ in size .*Pass image_size=\(height, width\)",
    ),
    "unknown split": (
        lambda p: kerasseg.data.nuclei("val"),
        r"`split` must be one of .*Received: split='val'",
    ),
    "missing image folder": (
        lambda p: kerasseg.data.from_folders(
            p / "none", p / "none", num_classes=2
        ),
        r"The images folder does not exist: .*none",
    ),
    "unknown zoo entry": (
        lambda p: kerasseg.load("unet.nuclei_bbbc07"),
        r"Unknown zoo entry.*Did you mean: unet\.nuclei_bbbc007",
    ),
    "zoo entry with another class count": (
        lambda p: kerasseg.load("unet.nuclei_bbbc007", num_classes=3),
        r"does not have the variable layout of zoo entry",
    ),
    "missing weights file": (
        lambda p: kerasseg.zoo.load_weights(_tiny(), str(p / "w.weights.h5")),
        r"no such file.*zoo entry name",
    ),
    "percentiles out of order": (
        lambda p: kerasseg.layers.PercentileNormalization(low=50, high=10),
        r"0 ≤ low < high ≤ 100.*low=50",
    ),
    "unknown export format": (
        lambda p: export.export(_tiny(), p, format="coreml"),
        r"format",
    ),
    "TFLite file without its suffix": (
        lambda p: export.tflite(_tiny(), p / "model.bin"),
        r"\.tflite",
    ),
    "unknown config key": (
        lambda p: config.load(
            raw={
                "model": {"name": "unet_tiny", "num_classes": 2},
                "data": {"dataset": "nuclei"},
                "train": {"epohcs": 3},
            }
        ),
        r"Unknown key 'train\.epohcs'\. Did you mean 'epochs'\?",
    ),
    "unknown dataset option": (
        lambda p: config.load(
            raw={
                "model": {"name": "unet_tiny", "num_classes": 11},
                "data": {"dataset": "fashion_scenes", "options": {"scenes": 9}},
            }
        ),
        r"Unknown key 'data\.options\.scenes'.*Options: num_scenes",
    ),
}


@pytest.mark.parametrize("case", sorted(API))
def test_api_errors_name_the_problem(case, tmp_path):
    call, message = API[case]
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        call(tmp_path)
    assert not list(tmp_path.iterdir())  # nothing written


def _bad_mask_folder(path):
    for folder in ("images", "masks"):
        (path / folder).mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8), "uint8")).save(path / "images/a.png")
    Image.fromarray(np.full((8, 8), 7, "uint8")).save(path / "masks/a.png")
    return path


def _cli_cases(p):
    model = p / "m.keras"
    _tiny().save(model)
    data = _bad_mask_folder(p / "data")
    config_file = p / "bad.yaml"
    config_file.write_text(
        yaml.safe_dump(
            {
                "model": {"name": "unet_tiny", "num_classes": 2},
                "data": {"dataset": "nuclei"},
                "train": {"epohcs": 1},
            }
        )
    )
    return {
        "missing config file": (
            ["train", str(p / "none.yaml")],
            r"Config file not found",
        ),
        "config with an unknown key": (
            ["train", str(config_file)],
            r"Unknown key 'train\.epohcs'",
        ),
        "bare model without data": (
            ["evaluate", str(model)],
            r"needs --images and --masks",
        ),
        "mask with undeclared values": (
            [
                "evaluate",
                str(model),
                "--images",
                str(data / "images"),
                "--masks",
                str(data / "masks"),
            ],
            r"masks/a\.png has values \[7\] outside the declared classes",
        ),
        "missing input images": (
            ["predict", str(model), str(p / "none"), "--out", str(p / "o")],
            r"No such file or folder",
        ),
        "unknown model for predict": (
            ["predict", "unet.nucleii", str(p), "--out", str(p / "o")],
            r"a \.keras file, a run folder or a zoo entry name",
        ),
        "unknown zoo entry": (["zoo", "info", "unet.nucleii"], r"Did you mean"),
        "TFLite option on a SavedModel export": (
            [
                "export",
                str(model),
                "--quantization",
                "float16",
                "--out",
                str(p / "o"),
            ],
            r"--quantization only applies to --format tflite",
        ),
    }


def test_cli_errors_exit_2_naming_the_problem(tmp_path, capsys):
    cases = _cli_cases(tmp_path)
    assert len(API) + len(cases) >= 25
    import re

    for case, (argv, message) in cases.items():
        assert cli.main(argv) == 2, case
        error = capsys.readouterr().err
        assert re.search(message, error), (case, error)
        assert "Traceback" not in error, case
    assert not (tmp_path / "o").exists()
