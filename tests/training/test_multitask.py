"""`kerasseg train` for multi-task models: a mask and image-level labels."""

import json

import keras
import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import f1_score
from sklearn.metrics import jaccard_score

from kerasseg import cli
from kerasseg.training import builders
from kerasseg.training import config
from kerasseg.training import run

MODEL = {
    "name": "multitask_unet",
    "num_classes": 3,
    "input_channels": 1,
    "options": {"encoder_options": {"depth": 2, "base_filters": 4}},
}


def write_scenes(root, count=12, size=32, seed=0):
    """Grey images holding a bright square of class 1 and/or a dim one of
    class 2 (each present in about half of them)."""
    rng = np.random.default_rng(seed)
    images, masks = root / "images", root / "masks"
    images.mkdir(parents=True)
    masks.mkdir()
    for i in range(count):
        mask = np.zeros((size, size), "uint8")
        for cls in (1, 2):
            if rng.random() < 0.5:
                r, c = rng.integers(0, size - 10, 2)
                mask[r : r + 10, c : c + 10] = cls
        image = 40 + 80 * mask + rng.normal(0, 8, (size, size))
        Image.fromarray(np.clip(image, 0, 255).astype("uint8")).save(
            images / f"{i}.png"
        )
        Image.fromarray(mask).save(masks / f"{i}.png")
    return images, masks


def _raw(images, masks, **train):
    return {
        "model": MODEL,
        "data": {
            "train_images": str(images),
            "train_masks": str(masks),
            "val_images": str(images),
            "val_masks": str(masks),
            "class_names": ["background", "bright", "dim"],
        },
        "train": {
            "epochs": 4,
            "batch_size": 4,
            "learning_rate": 0.01,
            "jit_compile": "off",
            "verbose": 0,
            **train,
        },
        "export": {"saved_model": False},
    }


def test_multitask_defaults_and_loss_weights():
    raw = {"model": MODEL, "data": {"dataset": "nuclei"}}
    raw["model"] = {**MODEL, "num_classes": 2}
    resolved = config.load(raw=raw)
    assert resolved["train"]["monitor"] == "val_mask_mean_iou"
    assert config.num_labels(resolved) == 1
    assert config.multitask_outputs(resolved) == ["mask", "label"]
    assert config.loss_weights(resolved) == {"mask": 1.0, "label": 0.2}
    weighted = config.load(
        raw={**raw, "train": {"loss_weights": {"label": 0.5}}}
    )
    assert config.loss_weights(weighted) == {"mask": 1.0, "label": 0.5}
    tiny = config.load(
        raw={
            "model": {"name": "multitask_unet_tiny", "num_classes": 2},
            "data": {"dataset": "nuclei"},
        }
    )
    assert config.multitask_outputs(tiny) == ["mask", "label", "reconstruction"]


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            {
                "model": {
                    **MODEL,
                    "num_classes": 2,
                    "options": {"num_labels": 4},
                }
            },
            r"model.options.num_labels=4: .* has 1 units; leave num_labels out",
        ),
        (
            {"train": {"loss_weights": {"recon": 1.0}}},
            r"Unknown key 'train.loss_weights.recon': the outputs of "
            r"'multitask_unet' are \['mask', 'label'\]",
        ),
        (
            {"train": {"loss_weights": {"label": -1}}},
            r"train.loss_weights.label must be a number ≥ 0",
        ),
        (
            {"train": {"monitor": "val_mean_iou"}},
            r"train.monitor='val_mean_iou' is not computed: monitor one of "
            r"\['loss', 'mask_loss', 'mask_mean_iou'",
        ),
        (
            {
                "model": {"name": "unet_tiny", "num_classes": 2},
                "train": {"loss_weights": {"mask": 1.0}},
            },
            r"train.loss_weights weighs the outputs of a multi-task model",
        ),
    ],
)
def test_bad_multitask_configs_name_the_key(changes, message):
    raw = {
        "model": {**MODEL, "num_classes": 2},
        "data": {"dataset": "nuclei"},
        **changes,
    }
    with pytest.raises(config.ConfigError, match=message):
        config.load(raw=raw)


def test_label_targets_are_the_classes_each_image_holds(tmp_path):
    images, masks = write_scenes(tmp_path / "d", count=6)
    resolved = config.load(raw=_raw(images, masks))
    ((x, targets),) = builders.dataset(resolved, "val", val_batch_size=6)
    files = sorted(masks.iterdir())
    want = np.stack(
        [
            [(np.asarray(Image.open(p)) == c).any() for c in (1, 2)]
            for p in files
        ]
    )
    np.testing.assert_array_equal(targets["label"].numpy(), want.astype("f4"))
    assert 0 < want.sum() < want.size  # both present and absent labels
    np.testing.assert_array_equal(
        targets["mask"].numpy(),
        np.stack([np.asarray(Image.open(p)) for p in files]),
    )


@pytest.mark.slow  # second tier: an end-to-end run
def test_train_a_multitask_unet_and_score_both_outputs(tmp_path, capsys):
    images, masks = write_scenes(tmp_path / "d")
    result = run.train(_raw(images, masks), tmp_path / "run")
    last = result["history"][-1]
    for key in ("mask_mean_iou", "label_accuracy", "label_auc", "label_loss"):
        assert key in last and f"val_{key}" in last, key
    assert result["history"][-1]["loss"] < result["history"][0]["loss"]
    # The evaluation, recomputed from the reloaded file with scikit-learn.
    model = keras.saving.load_model(result["model_path"], safe_mode=True)
    files = sorted(images.iterdir())
    x = np.stack(
        [np.asarray(Image.open(p), "float32")[..., None] for p in files]
    )
    truth = np.stack([np.asarray(Image.open(masks / p.name)) for p in files])
    out = model.predict(x, verbose=0)
    saved = json.loads((tmp_path / "run" / "evaluation.json").read_text())
    labels = saved["labels"]
    present = np.stack([(truth == c).any(axis=(1, 2)) for c in (1, 2)], -1)
    guess = out["label"] > 0
    assert labels["accuracy"] == pytest.approx(
        (present == guess).mean(), abs=1e-4
    )
    assert labels["exact_match"] == pytest.approx(
        (present == guess).all(axis=1).mean(), abs=1e-4
    )
    f1 = f1_score(present, guess, average=None, zero_division=0)
    for i, name in enumerate(["bright", "dim"]):
        assert labels["per_label"][name]["f1"] == pytest.approx(f1[i], abs=1e-4)
        assert labels["per_label"][name]["support"] == int(present[:, i].sum())
    iou = jaccard_score(
        truth.ravel(), out["mask"].argmax(-1).ravel(), average=None
    )
    assert saved["mean"]["iou"] == pytest.approx(iou.mean(), abs=1e-4)
    assert (
        "| label | precision |"
        in (tmp_path / "run" / "evaluation.md").read_text()
    )
    # `kerasseg evaluate RUN` scores it again the same way.
    capsys.readouterr()
    assert cli.main(["evaluate", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr().out
    assert "| label | precision |" in printed
    assert f"{saved['mean']['iou']:.4f}" in printed


def _distance_raw(**data):
    return {
        "model": {
            **MODEL,
            "num_classes": 2,
            "options": {**MODEL["options"], "distance": True},
        },
        "data": {"dataset": "nuclei", "ignore_index": 255, **data},
        "train": {"batch_size": 2},
    }


def test_distance_targets_are_the_normalized_distance_of_the_instances():
    from kerasseg import postprocess
    from kerasseg.data.datasets import nuclei_pairs

    resolved = config.load(raw=_distance_raw(image_size=[96, 96]))
    assert config.multitask_outputs(resolved) == ["mask", "label", "distance"]
    assert config.loss_weights(resolved)["distance"] == 10.0
    ((x, targets), *_) = builders.dataset(resolved, "val", val_batch_size=1)
    # The first held-out image, whole and unaugmented, as validation reads
    # it: its instance label image from the source files.
    _, labels_path = nuclei_pairs("test", target="instances")[0]
    labels = np.asarray(Image.open(labels_path))
    mask = targets["mask"].numpy()[0]
    distance = targets["distance"].numpy()[0, ..., 0]
    np.testing.assert_array_equal(mask, (labels > 0).astype(mask.dtype))
    np.testing.assert_allclose(
        distance, postprocess.normalized_distance(labels), atol=1e-6
    )
    assert targets["label"].numpy()[0, 0] == 1.0


def test_augmented_distance_targets_stay_on_the_objects():
    resolved = config.load(
        raw=_distance_raw(
            image_size=[64, 64], augment={"scale": [0.5, 2.0], "rotation": 30.0}
        )
    )
    ((x, targets), *_) = builders.dataset(resolved, "train")
    mask = targets["mask"].numpy()
    distance = targets["distance"].numpy()[..., 0]
    assert x.shape[0] == 2 and distance.shape == mask.shape
    # Zero off the objects (background, ignored corners), in (0, 1] on them.
    assert (distance[mask != 1] == 0).all()
    assert (distance[mask == 1] > 0).all() and distance.max() <= 1.0
    assert set(np.unique(mask)) <= {0, 1, 255}


def test_a_distance_output_needs_a_dataset_with_instance_labels(tmp_path):
    images, masks = write_scenes(tmp_path / "d", count=2)
    raw = _raw(images, masks)
    raw["model"] = {
        **MODEL,
        "options": {**MODEL["options"], "distance": True},
    }
    with pytest.raises(
        config.ConfigError,
        match=r"model.options.distance=true .* data.dataset='folders' has "
        r"none. Datasets with instance labels: \['nuclei'\]",
    ):
        config.load(raw=raw)
