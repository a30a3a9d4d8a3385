"""Domain-adversarial (DANN) and adversarial training: the gradient
reversal, the training models' steps, `kerasseg train` with
`train.recipe`, and the configs a recipe refuses."""

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml
from PIL import Image

import kerasseg
from kerasseg.training import config as config_module
from kerasseg.training import recipes
from kerasseg.training import run
from tests.training.conftest import small_config


def test_gradient_reversal_is_the_identity_forward_and_minus_lambda_back():
    layer = kerasseg.layers.GradientReversal(0.7)
    x = tf.constant(
        np.random.default_rng(0).normal(size=(2, 3, 3, 4)), "float32"
    )
    upstream = tf.constant(
        np.random.default_rng(1).normal(size=(2, 3, 3, 4)), "float32"
    )
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        # d/dx of sum(upstream * y) is the gradient the layer passes back.
        total = tf.reduce_sum(upstream * y)
    np.testing.assert_array_equal(np.asarray(y), np.asarray(x))
    np.testing.assert_allclose(
        tape.gradient(total, x), -0.7 * np.asarray(upstream), rtol=1e-6
    )
    layer.reversal_weight.assign(0.0)  # λ = 0 stops the gradient
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(upstream * layer(x))
    np.testing.assert_array_equal(
        tape.gradient(total, x), np.zeros((2, 3, 3, 4))
    )


def test_gradient_reversal_refuses_a_negative_weight():
    with pytest.raises(ValueError, match="weight"):
        kerasseg.layers.GradientReversal(-0.1)


def test_dann_weight_is_the_papers_schedule():
    for p in (0.0, 0.1, 0.5, 1.0):
        assert recipes.dann_weight(p, 2.0) == pytest.approx(
            2.0 * (2 / (1 + math.exp(-10 * p)) - 1)
        )
    assert recipes.dann_weight(0.0) == 0.0
    assert recipes.dann_weight(3.0) == recipes.dann_weight(1.0)


def _problem(seed=0, count=16, size=32, offset=0.0):
    """Bright squares on noise (source), or the same under a brightness
    offset (target): a learnable mask and a domain shift."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((count, size, size), "int32")
    for n in range(count):
        r, c = rng.integers(0, size - 10, 2)
        masks[n, r : r + 10, c : c + 10] = 1
    images = (
        60 + 120 * masks[..., None] + rng.normal(0, 20, (count, size, size, 1))
    )
    return (images + offset).astype("float32"), masks


def _segmenter():
    return kerasseg.build(
        "unet_tiny", num_classes=2, input_shape=(None, None, 1)
    )


def _loss():
    return kerasseg.losses.CrossEntropy(mode="multiclass", num_classes=2)


def _saved_segmenter_is_alone(trainer, tmp_path):
    path = tmp_path / "segmenter.keras"
    trainer.segmenter.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)
    fresh = _segmenter()
    assert reloaded.count_params() == fresh.count_params()
    names = {layer.name for layer in reloaded.layers}
    assert not names & {"domain_classifier", "discriminator"}
    x, _ = _problem(5, count=2)
    np.testing.assert_allclose(
        reloaded.predict(x, verbose=0),
        trainer.segmenter.predict(x, verbose=0),
        atol=1e-5,
    )


@pytest.mark.slow
def test_dann_lowers_its_loss_ramps_lambda_and_saves_the_segmenter_alone(
    tmp_path,
):
    images, masks = _problem()
    target, _ = _problem(1, offset=60.0)
    trainer = recipes.DomainAdversarial(_segmenter(), weight=0.5, total_steps=8)
    assert len(trainer.trainable_weights) == len(
        trainer.segmenter.trainable_weights
    ) + len(trainer.domain_classifier.trainable_weights)
    trainer.compile(
        optimizer=keras.optimizers.Adam(0.01), loss=_loss(), jit_compile=True
    )
    history = trainer.fit(
        {"image": images, "target": target},
        masks,
        batch_size=8,
        epochs=6,
        verbose=0,
    ).history["loss"]
    assert history[-1] < history[0]
    # 12 steps: λ ramped over 8, then held at the largest weight.
    assert float(trainer.step) == 12.0
    assert float(trainer.reversal.reversal_weight) == pytest.approx(
        recipes.dann_weight(1.0, 0.5), rel=1e-5
    )
    _saved_segmenter_is_alone(trainer, tmp_path)


def test_dann_domain_loss_reaches_the_encoder_reversed():
    # A loss of the domain logits alone: the encoder's gradient is -λ times
    # the one it gets with the reversal's weight at -1 (no reversal).
    images, _ = _problem(count=4)
    target, _ = _problem(1, count=4, offset=60.0)
    trainer = recipes.DomainAdversarial(_segmenter(), weight=0.3)
    inputs = {"image": images, "target": target}

    def encoder_gradient():
        variables = trainer.segmenter.get_layer("encoder").trainable_variables
        with tf.GradientTape() as tape:
            out = trainer(inputs, training=True)
            loss = tf.reduce_mean(out["source_domain"]) - tf.reduce_mean(
                out["target_domain"]
            )
        return tape.gradient(loss, variables[0])

    reversed_ = encoder_gradient()
    trainer.reversal.reversal_weight.assign(-1.0)
    plain = encoder_gradient()
    np.testing.assert_allclose(
        reversed_, -0.3 * np.asarray(plain), rtol=1e-4, atol=1e-7
    )


@pytest.mark.slow
def test_adversarial_lowers_its_loss_trains_both_and_saves_the_segmenter_alone(
    tmp_path,
):
    images, masks = _problem()
    trainer = recipes.AdversarialSegmenter(_segmenter(), weight=0.1)
    trainer.compile(
        optimizer=keras.optimizers.Adam(0.01), loss=_loss(), jit_compile=True
    )
    before = [np.asarray(w) for w in trainer.discriminator.weights]
    history = trainer.fit(
        images,
        masks,
        batch_size=8,
        epochs=6,
        verbose=0,
        validation_data=(images, masks),
    ).history
    assert history["loss"][-1] < history["loss"][0]
    assert "val_adversarial_loss" not in history
    assert all(np.isfinite(history["discriminator_loss"]))
    assert int(trainer.discriminator_optimizer.iterations) == 12
    after = [np.asarray(w) for w in trainer.discriminator.weights]
    assert any(not np.allclose(a, b) for a, b in zip(before, after))
    _saved_segmenter_is_alone(trainer, tmp_path)


def test_adversarial_label_maps_hide_ignored_pixels():
    trainer = recipes.AdversarialSegmenter(_segmenter(), ignore_index=255)
    images = np.zeros((1, 2, 2, 1), "float32")
    masks = np.array([[[0, 1], [255, 1]]], "int32")
    logits = np.array(
        [[[[2.0, 0.0], [0.0, 1.0]], [[0.5, 0.0], [1.0, 1.0]]]], "float32"
    )
    true, fake = (
        np.asarray(t) for t in trainer.label_maps(images, masks, logits)
    )
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(fake[..., 1:], probs, rtol=1e-6)
    np.testing.assert_array_equal(true[0, 0, :, 1:], [[1, 0], [0, 1]])
    np.testing.assert_allclose(true[0, 1, 0, 1:], probs[0, 1, 0], rtol=1e-6)
    np.testing.assert_array_equal(true[0, 1, 1, 1:], [0, 1])


# --- kerasseg train with train.recipe -------------------------------------


def _target_folder(root, count=8, size=32):
    root.mkdir(parents=True)
    images, _ = _problem(3, count=count, size=size, offset=50.0)
    for i, image in enumerate(images):
        rgb = np.repeat(np.clip(image, 0, 255).astype("uint8"), 3, axis=-1)
        Image.fromarray(rgb).save(root / f"t{i}.png")
    return root


def _recipe_config(folder, tmp_path, recipe, **options):
    images, masks = folder
    config = small_config(images, masks, epochs=2, recipe=recipe)
    config["train"]["recipe_options"] = options
    config["data"]["image_size"] = [32, 32]
    if recipe == "dann":
        config["data"]["target_images"] = str(
            _target_folder(tmp_path / "target")
        )
    return config


def test_dann_batches_are_full_with_fewer_target_images_than_a_batch(
    folder, tmp_path
):
    # 3 target images, batches of 4: each batch holds 4 target crops, not
    # the short remainder of a pass (3, then 3 again, before the fix).
    from kerasseg.training import builders

    config = _recipe_config(folder, tmp_path, "dann")
    shutil.rmtree(config["data"]["target_images"])
    config["data"]["target_images"] = str(
        _target_folder(tmp_path / "few", count=3)
    )
    config["data"].update(
        augment={"scale": [0.5, 2.0]}, ignore_index=255, repeat=True
    )
    config["train"]["steps_per_epoch"] = 5
    resolved = config_module.resolve(config)
    batches = builders.dataset(resolved, "train").take(5)
    shapes = []
    for inputs, masks in batches:
        shapes.append(inputs["target"].shape[0])
        assert inputs["image"].shape[0] == masks.shape[0]
    assert shapes == [4] * 5


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["dann", "adversarial"])
def test_kerasseg_train_runs_a_recipe_and_saves_the_segmenter(
    recipe, folder, tmp_path
):
    config = _recipe_config(folder, tmp_path, recipe, weight=0.2)
    result = run.train(config, tmp_path / "run")
    assert len(result["history"]) == 2
    assert all(math.isfinite(row["loss"]) for row in result["history"])
    model = keras.saving.load_model(result["model_path"], safe_mode=True)
    fresh = kerasseg.build("unet_classic_tiny", num_classes=2)
    assert model.count_params() == fresh.count_params()
    assert 0.0 <= result["evaluation"]["mean"]["iou"] <= 1.0


@pytest.mark.slow
def test_an_adversarial_run_resumes_with_the_discriminator_state(
    folder, tmp_path
):
    config = _recipe_config(folder, tmp_path, "adversarial")
    config["train"].update(deterministic=True, epochs=3)
    whole = run.train(config, tmp_path / "whole")
    # The same run as if stopped during epoch 3: its last checkpoint and
    # model gone, the same command resumes it after epoch 2.
    cut = tmp_path / "cut"
    run.train(config, cut)
    shutil.rmtree(cut / "checkpoints" / "epoch-0003")
    (cut / "model.keras").unlink()
    resumed = run.train(config, cut)
    assert resumed["resumed_from"] == 2
    for ours, theirs in zip(whole["history"], resumed["history"], strict=True):
        for key in ("loss", "discriminator_loss", "adversarial_loss"):
            assert ours[key] == pytest.approx(theirs[key], abs=1e-5), key


@pytest.mark.slow
def test_recipes_under_mirrored_strategy_equal_one_device(folder, tmp_path):
    # Two logical CPUs; no BatchNorm in the models (unet_classic_tiny, the
    # domain classifier, the discriminator), cross-entropy averaged per
    # pixel: the replicas' scaled losses give the one-device weights.
    configs = {}
    for recipe in ("dann", "adversarial"):
        for strategy in ("mirrored", "default"):
            config = _recipe_config(
                folder, tmp_path / recipe / strategy, recipe, weight=0.1
            )
            config["data"]["augment"] = False
            config["train"].update(
                strategy=strategy, loss="cross_entropy", deterministic=True
            )
            path = tmp_path / f"{recipe}-{strategy}.yaml"
            path.write_text(yaml.safe_dump(config))
            configs[recipe, strategy] = path
    # One process per recipe (MirroredStrategy's collectives are set up
    # once per process; a second strategy in the same one can clash).
    for recipe in ("dann", "adversarial"):
        jobs = [
            (str(configs[recipe, s]), str(tmp_path / f"run-{recipe}-{s}"))
            for s in ("mirrored", "default")
        ]
        script = textwrap.dedent(
            f"""
            import tensorflow as tf
            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
            from kerasseg.training import run
            for config, run_dir in {jobs!r}:
                run.train(config, run_dir)
            """
        )
        done = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    for recipe in ("dann", "adversarial"):
        runs = [tmp_path / f"run-{recipe}-{s}" for s in ("mirrored", "default")]
        history = [json.loads((r / "history.json").read_text()) for r in runs]
        for ours, theirs in zip(*history, strict=True):
            assert ours["loss"] == pytest.approx(theirs["loss"], abs=1e-4)
        weights = [
            keras.saving.load_model(r / "model.keras").get_weights()
            for r in runs
        ]
        for x, y in zip(*weights, strict=True):
            np.testing.assert_allclose(x, y, atol=1e-4)


# --- Configs a recipe refuses ---------------------------------------------


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["data"].pop("target_images"), "needs data.target_images"),
        (
            lambda c: c["train"].update(recipe="cyclegan"),
            "train.recipe must be one of",
        ),
        (
            lambda c: c["train"]["recipe_options"].update(weight=-1.0),
            "train.recipe_options.weight must be a number >= 0",
        ),
        (
            lambda c: c["train"]["recipe_options"].update(lambda_=1.0),
            "train.recipe_options.lambda_ is not an option of the 'dann'",
        ),
        (
            lambda c: c["train"].update(recipe="adversarial"),
            "data.target_images are the unlabelled target-domain images",
        ),
        (
            lambda c: c["train"].update(recipe="none"),
            "train.recipe_options sets a recipe's options",
        ),
        (
            lambda c: c["data"].update(target_images="/no/such/folder"),
            "is not a folder",
        ),
        (lambda c: c["data"].update(image_size=None), "need data.image_size"),
    ],
)
def test_bad_recipe_configs_stop_before_training(
    change, message, folder, tmp_path
):
    config = _recipe_config(folder, tmp_path, "dann", weight=0.5)
    change(config)
    with pytest.raises(config_module.ConfigError, match=message):
        run.train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_recipe_refuses_a_model_that_is_not_a_segmenter(folder, tmp_path):
    config = _recipe_config(folder, tmp_path, "adversarial")
    config["model"] = {"name": "conv_autoencoder"}
    config["data"].pop("train_masks")
    config["data"].pop("val_masks")
    config["data"].pop("class_names")
    config["train"].update(loss="mse", metrics=["mae"], monitor="val_loss")
    with pytest.raises(
        config_module.ConfigError, match="trains a segmentation model"
    ):
        config_module.load(raw=config)
