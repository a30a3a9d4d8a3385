"""kerasseg.outputs: what each output means, read from the heads, shared
by prediction, tiling and the export signatures."""

import keras
import numpy as np
import pytest

import kerasseg
from kerasseg import outputs
from kerasseg.training import predict


def _describe(model):
    return [
        (o.key, o.kind, o.activation, o.multilabel)
        for o in outputs.describe(model)
    ]


def test_every_registered_head_marks_its_output():
    for name in kerasseg.list_models("*_tiny"):
        model = kerasseg.build(
            name,
            **({} if "autoencoder" in name else {"num_classes": 3}),
            **({"num_labels": 2} if "multitask" in name else {}),
        )
        for key, _tensor, layer in outputs._heads(model):
            assert isinstance(layer, kerasseg.layers.HeadOutput), (name, key)


def test_label_mode_decides_the_label_probabilities():
    single = kerasseg.models.multitask_unet(
        num_classes=3,
        num_labels=4,
        encoder_options={"depth": 2, "base_filters": 4},
    )
    several = kerasseg.models.multitask_unet(
        num_classes=3,
        num_labels=4,
        label_mode="multilabel",
        encoder_options={"depth": 2, "base_filters": 4},
    )
    assert _describe(single)[1] == ("label", "labels", "softmax", False)
    assert _describe(several)[1] == ("label", "labels", "sigmoid", True)
    logits = np.array([[2.0, -1.0, 0.5, 0.0]])
    (label,) = [o for o in outputs.describe(several) if o.key == "label"]
    np.testing.assert_allclose(
        np.asarray(outputs.probabilities(label, logits)),
        1 / (1 + np.exp(-logits)),
        rtol=1e-6,
    )
    np.testing.assert_array_equal(
        np.asarray(outputs.class_ids(label, 1 / (1 + np.exp(-logits)))),
        [[1, 0, 1, 0]],
    )
    with pytest.raises(ValueError, match="label_mode"):
        kerasseg.models.multitask_unet(
            num_classes=3, num_labels=4, label_mode="x"
        )


def test_models_saved_before_heads_marked_their_outputs_are_read_by_name():
    # kerasseg 0.1 heads: a plain Activation, the autoencoder's named
    # "reconstruction_activation".
    x = keras.Input((None, None, 1))
    scores = keras.layers.Activation("linear", name="head_activation")(
        keras.layers.Conv2D(3, 1)(x)
    )
    image = keras.layers.Activation("linear", name="reconstruction_activation")(
        keras.layers.Conv2D(1, 1)(x)
    )
    model = keras.Model(x, {"mask": scores, "reconstruction": image})
    assert _describe(model) == [
        ("mask", "segmentation", "softmax", False),
        ("reconstruction", "reconstruction", None, False),
    ]


def test_tiled_prediction_of_a_multitask_model_is_its_mask():
    model = kerasseg.models.multitask_unet(
        (None, None, 1),
        num_classes=3,
        num_labels=2,
        encoder_options={"depth": 2, "base_filters": 4},
    )
    image = np.random.default_rng(0).uniform(0, 255, (24, 20, 1))
    probs = predict.predict_tiled(model, image, tile=64)
    logits = np.asarray(model(image[None])["mask"])[0]
    want = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    np.testing.assert_allclose(probs, want, atol=1e-5)
    autoencoder = kerasseg.build(
        "conv_autoencoder_tiny", input_shape=(None, None, 1)
    )
    with pytest.raises(ValueError, match=r"0 per-pixel class-score outputs"):
        predict.predict_tiled(autoencoder, image)


def test_predict_files_refuses_multilabel_masks_before_writing(tmp_path):
    x = keras.Input((None, None, 1))
    head = kerasseg.layers.HeadOutput(
        "sigmoid", meaning="segmentation", multilabel=True
    )(keras.layers.Conv2D(3, 1)(x))
    model = keras.Model(x, head)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="multi-label masks"):
        predict.predict_files(model, [tmp_path], out, jit_compile=False)
    assert not out.exists()
    probs = np.array([[[0.7, 0.2, 0.9]]])
    np.testing.assert_array_equal(
        predict.class_ids(probs, multilabel=True), [[[1, 0, 1]]]
    )
