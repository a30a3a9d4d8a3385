"""TransUNet-style segmenter, scSE decoder blocks and the multi-task U-Net."""

import keras
import numpy as np
import pytest

import kerasseg


def test_transunet_runs_transformer_blocks_on_the_bottleneck():
    model = kerasseg.build("transunet_tiny", num_classes=2)
    blocks = [
        layer
        for layer in model.layers
        if isinstance(layer, kerasseg.layers.TransformerBlock)
    ]
    assert len(blocks) == 2
    # Tokens are the deepest level's pixels (stride 8 here): any size works
    # because the learned 4×4 position table is resized.
    for size in [(32, 32), (72, 40)]:
        y = model(np.zeros((1, *size, 3), "float32"))
        assert tuple(y.shape) == (1, *size, 2)


def test_transunet_sinusoidal_position_embedding_has_no_weights():
    learned = kerasseg.build("transunet_tiny", num_classes=2)
    fixed = kerasseg.build(
        "transunet_tiny", num_classes=2, position_embedding="sinusoidal"
    )
    # The learned table is grid 4 × 4 × hidden 16.
    assert learned.count_params() - fixed.count_params() == 4 * 4 * 16


def test_transunet_rejects_heads_that_do_not_divide():
    with pytest.raises(ValueError, match="hidden_dim=10, num_heads=4"):
        kerasseg.models.transunet(num_heads=4, hidden_dim=10)


def test_scse_adds_the_expected_parameters():
    base = kerasseg.build("unet_tiny", num_classes=2)
    scse = kerasseg.build("unet_tiny", num_classes=2, scse=True)
    # unet_tiny's decoder blocks have 16, 8 and 4 channels; each scSE has a
    # squeeze (c → max(1, c // 16)), an excitation back and a 1×1 → 1 map.
    expected = 0
    for c in (16, 8, 4):
        r = max(1, c // 16)
        expected += (c * r + r) + (r * c + c) + (c + 1)
    assert scse.count_params() - base.count_params() == expected


def test_multitask_trains_with_per_output_losses_and_weights():
    model = kerasseg.build("multitask_unet_tiny", num_classes=3, num_labels=4)
    model.compile(
        "adam",
        loss={
            "mask": kerasseg.losses.DiceCrossEntropy(num_classes=3),
            "label": keras.losses.BinaryCrossentropy(from_logits=True),
            "reconstruction": "mse",
        },
        loss_weights={"mask": 1.0, "label": 0.5, "reconstruction": 0.1},
        metrics={"mask": [kerasseg.metrics.MeanIoU(3)]},
        # The weighting is under test: eager steps skip the 20 s trace.
        run_eagerly=True,
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 32, 32, 3)).astype("float32")
    y = {
        "mask": rng.integers(0, 3, (4, 32, 32)).astype("int32"),
        "label": rng.integers(0, 2, (4, 4)).astype("float32"),  # multi-label
        "reconstruction": x,
    }
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    for key in ("loss", "mask_loss", "label_loss", "reconstruction_loss"):
        assert np.isfinite(logs[key]), key
    # The total is the weighted sum of the parts.
    evaluation = model.evaluate(x, y, verbose=0, return_dict=True)
    weighted = (
        evaluation["mask_loss"]
        + 0.5 * evaluation["label_loss"]
        + 0.1 * evaluation["reconstruction_loss"]
    )
    np.testing.assert_allclose(evaluation["loss"], weighted, rtol=1e-4)


def test_multitask_without_reconstruction_has_two_outputs():
    model = kerasseg.models.multitask_unet(
        num_classes=2,
        num_labels=3,
        encoder_options={"depth": 2, "base_filters": 4},
    )
    assert sorted(model.output) == ["label", "mask"]
    with pytest.raises(ValueError, match="num_labels=0"):
        kerasseg.models.multitask_unet(num_labels=0)
