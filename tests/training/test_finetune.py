"""Freezing and unfreezing encoders for two-stage fine-tuning."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg.encoders.applications import layer_strides


def _model():
    # A pretrained-style encoder with batch norm at every level.
    return kerasseg.models.deeplabv3plus(
        num_classes=2,
        encoder="mobilenetv2",
        encoder_options={"alpha": 0.35},
        filters=8,
        low_level_filters=4,
    )


def _fit(model, steps=3):
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 2, (4, 32, 32)).astype("int32")
    model.fit(x, y, batch_size=4, epochs=steps, verbose=0)


def _snapshot(model):
    return {
        w.path: keras.ops.convert_to_numpy(w)
        for w in model.get_layer("encoder").weights
    }


def _changed(before, model):
    after = _snapshot(model)
    return {
        path for path in before if not np.array_equal(before[path], after[path])
    }


def _is_bn_statistic(path):
    return path.endswith("moving_mean") or path.endswith("moving_variance")


@pytest.mark.slow  # second tier: an end-to-end run
def test_frozen_encoder_keeps_weights_and_batch_norm_statistics():
    model = kerasseg.freeze_encoder(_model())
    before = _snapshot(model)
    decoder = keras.ops.convert_to_numpy(
        model.get_layer("decoder_aspp_project_conv").kernel
    )
    _fit(model)
    assert _changed(before, model) == set()
    # ...while the rest of the model trained.
    after = keras.ops.convert_to_numpy(
        model.get_layer("decoder_aspp_project_conv").kernel
    )
    assert not np.array_equal(decoder, after)


@pytest.mark.slow
def test_unfreezing_from_a_level_trains_only_that_level_and_deeper():
    model = kerasseg.freeze_encoder(_model())
    model = kerasseg.unfreeze_encoder(model, from_level="P4")
    encoder = model.get_layer("encoder")
    strides = {
        w.path: stride
        for layer, stride in layer_strides(encoder)
        for w in layer.weights
    }
    before = _snapshot(model)
    _fit(model)
    changed = _changed(before, model)
    deep = {
        p for p, s in strides.items() if s >= 16 and not _is_bn_statistic(p)
    }
    trainable = {w.path for w in encoder.trainable_weights}
    assert changed and changed <= deep
    # Every trainable weight is deep, every deep kernel is trainable.
    assert trainable <= deep
    assert {p for p in deep if p.endswith("kernel")} <= trainable
    # Batch norm stays frozen by default: statistics fixed.
    assert not any(_is_bn_statistic(p) for p in changed)


@pytest.mark.slow
def test_unfreezing_batch_norm_updates_its_statistics():
    model = kerasseg.freeze_encoder(_model())
    model = kerasseg.unfreeze_encoder(model, batch_norm=True)
    before = _snapshot(model)
    _fit(model, steps=1)
    changed = _changed(before, model)
    assert any(_is_bn_statistic(p) for p in changed)
    encoder = model.get_layer("encoder")
    assert len(encoder.trainable_weights) == len(encoder.weights) - sum(
        _is_bn_statistic(w.path) for w in encoder.weights
    )


def test_unfreeze_names_the_levels_it_accepts():
    model = kerasseg.build("unet_tiny", num_classes=2)
    with pytest.raises(ValueError, match=r"\['P0', 'P1', 'P2', 'P3'\]"):
        kerasseg.unfreeze_encoder(model, from_level="P5")


def test_layer_strides_follow_pooling_in_the_conv_encoder():
    encoder = kerasseg.encoders.conv_encoder(depth=2, base_filters=2)
    strides = {layer.name: stride for layer, stride in layer_strides(encoder)}
    assert strides["block0_conv1"] == 1
    assert strides["block1_pool"] == 2
    assert strides["block2_conv2"] == 4


def _two_stage_config(images, masks, source):
    from tests.training.conftest import small_config

    config = small_config(images, masks, epochs=4, frozen_epochs=2)
    config["model"] = {
        "name": "unet",
        "num_classes": 2,
        "options": {"depth": 2, "base_filters": 4},
        "encoder_from": str(source),
    }
    config["train"]["unfrozen_learning_rate"] = 0.001
    return config


def test_two_stage_schedule_stages_and_rates(folder, tmp_path):
    from kerasseg.training import builders
    from kerasseg.training import config as config_module

    images, masks = folder
    kerasseg.models.unet(num_classes=2, depth=2, base_filters=4).save(
        tmp_path / "source.keras"
    )
    raw = _two_stage_config(images, masks, tmp_path / "source.keras")
    resolved = config_module.load(raw=raw)
    assert [config_module.stage_of(resolved, e) for e in range(4)] == [
        "frozen",
        "frozen",
        "unfrozen",
        "unfrozen",
    ]
    # Each stage at its own rate (a tenth of the first by default).
    assert builders.learning_rate(resolved, 10, "frozen") == 0.01
    assert builders.learning_rate(resolved, 10, "unfrozen") == 0.001
    raw["train"]["unfrozen_learning_rate"] = None
    default = config_module.load(raw=raw)
    assert builders.learning_rate(default, 10, "unfrozen") == 0.001
    # A cosine schedule spans each stage's own steps.
    raw["train"]["schedule"] = "cosine"
    cosine = config_module.load(raw=raw)
    second = builders.learning_rate(cosine, 10, "unfrozen")
    assert float(second(0)) == pytest.approx(0.001)
    assert float(second(20)) == pytest.approx(0.0, abs=1e-9)
    for changes, message in [
        ({"frozen_epochs": 4}, r"train.frozen_epochs \(4\) must be smaller"),
        (
            {"frozen_epochs": 0, "unfrozen_learning_rate": 0.1},
            r"set train.frozen_epochs too",
        ),
        ({"warmup_epochs": 2}, r"warmup is part of the frozen stage"),
    ]:
        bad = {**raw, "train": {**raw["train"], **changes}}
        with pytest.raises(config_module.ConfigError, match=message):
            config_module.load(raw=bad)


@pytest.mark.slow  # second tier: three short runs
def test_two_stage_schedule_in_one_config(folder, tmp_path):
    from kerasseg.training import builders
    from kerasseg.training import config as config_module
    from kerasseg.training import run

    images, masks = folder
    source = kerasseg.models.unet(
        num_classes=2, depth=2, base_filters=4, name="source"
    )
    source.save(tmp_path / "source.keras")
    raw = _two_stage_config(images, masks, tmp_path / "source.keras")
    resolved = config_module.load(raw=raw)

    def crash_at_the_switch(epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return builders.dataset(
            resolved,
            "train",
            seed=run.epoch_seed(resolved["train"]["seed"], epoch),
        )

    # Interrupted at the switch: the last checkpoint is the frozen stage's.
    with pytest.raises(KeyboardInterrupt):
        run.train(raw, tmp_path / "again", train_data=crash_at_the_switch)
    start = {w.path: np.asarray(w) for w in source.get_layer("encoder").weights}

    def encoder_at(run_dir, epoch):
        model = kerasseg.models.unet(num_classes=2, depth=2, base_filters=4)
        path = run_dir / "checkpoints" / f"epoch-{epoch:04d}"
        model.load_weights(path / "model.weights.h5")
        return {
            w.path: np.asarray(w) for w in model.get_layer("encoder").weights
        }

    # Frozen for two epochs: every encoder value, BatchNorm statistics
    # included, is still the source's.
    frozen = encoder_at(tmp_path / "again", 2)
    for path, value in start.items():
        np.testing.assert_array_equal(frozen[path], value, err_msg=path)
    # The same config resumes there, unfreezes, and ends where an
    # uninterrupted run does.
    resumed = run.train(raw, tmp_path / "again")
    assert resumed["resumed_from"] == 2
    result = run.train(raw, tmp_path / "run")
    for a, b in zip(
        keras.saving.load_model(result["model_path"]).weights,
        keras.saving.load_model(resumed["model_path"]).weights,
        strict=True,
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    # Then trained: the encoder's kernels moved, its BatchNorm statistics
    # did not (unfreeze_encoder keeps them frozen).
    trained = encoder_at(tmp_path / "run", 4)
    moved = [p for p in start if "kernel" in p]
    assert moved and all(
        not np.array_equal(trained[p], start[p]) for p in moved
    )
    for path in start:
        if "moving" in path:
            np.testing.assert_array_equal(trained[path], start[path])
    assert result["history"][-1]["loss"] < result["history"][0]["loss"]
