"""Every shipped zoo entry: its record, its file, its figures, its exports.

Parametrized over the records, so a new entry gets these tests for free.
"""

import numpy as np
import pytest
import tensorflow as tf

import kerasseg
from kerasseg import export
from kerasseg import zoo
from kerasseg.zoo import cards
from kerasseg.zoo import evaluate
from kerasseg.zoo import records
from tests.export.test_convert import _match
from tests.export.test_convert import assert_converted_close
from tests.export.test_convert import run_onnx
from tests.export.test_convert import run_tflite
from tests.export.test_saved_model import _assert_answer
from tests.export.test_saved_model import expected

ENTRIES = sorted(records.read())


def _params(names, default=None):
    """`names` as parameters: outside `default` (when given) marked slow,
    and an entry evaluated on fashion scenes skipped, saying so, on a
    machine with neither the Debian package nor Keras' cached download of
    Fashion-MNIST (no internet here to fetch it)."""
    from kerasseg.data.datasets import fashion_mnist_on_disk

    missing = pytest.mark.skip(
        reason="Fashion-MNIST not on this machine: apt-get install "
        "dataset-fashion-mnist (or download it once with "
        "keras.datasets.fashion_mnist.load_data())"
    )
    on_disk = fashion_mnist_on_disk()
    params = []
    for name in names:
        marks = []
        if default is not None and name not in default:
            marks.append(pytest.mark.slow)
        data = records.get(name)["config"]["data"]["dataset"]
        if data == "fashion_scenes" and not on_disk:
            marks.append(missing)
        params.append(pytest.param(name, marks=marks))
    return params


# The figures of a record that an evaluation must reproduce, by task.
_FIGURES = {
    "segmentation": ("mean_iou", "mean_dice", "pixel_accuracy"),
    "reconstruction": ("psnr", "mae"),
    "multitask": ("mean_iou", "mean_dice", "pixel_accuracy", "label_accuracy"),
}


def test_the_zoo_ships_its_promised_entries():
    # The entries the README and docs/zoo.md promise.
    assert {"unet.nuclei_bbbc007", "unet.fashion_scenes"} <= set(ENTRIES)


@pytest.mark.parametrize("name", ENTRIES)
def test_record_matches_the_architecture_and_the_file(name):
    record = records.get(name)
    model = kerasseg.build(record.model, **zoo.build_args(record))
    assert model.count_params() == record["params"]
    assert records.layout_sha256(model) == record["layout_sha256"]
    path = record.folder / record["weights_file"]
    assert path.stat().st_size == record["size"]
    assert records.sha256_of(path) == record["sha256"]
    # The training config in the record is the one committed beside it
    # (both resolved: keys added to the schema since get their defaults).
    from kerasseg.training import config

    assert config.load(record.folder / "config.yaml") == config.load(
        raw=record["config"]
    )


# The default tier evaluates the two entries the README promises (1–4 s
# each); the second tier every entry.
_DEFAULT_EVALUATED = {"unet.fashion_scenes", "unet.nuclei_bbbc007"}


@pytest.mark.parametrize("name", _params(ENTRIES, _DEFAULT_EVALUATED))
def test_subset_reproduces_the_recorded_figures(name):
    record = records.get(name)
    subset = record["metrics"]["subset"]
    result = evaluate.summary(
        evaluate.evaluate(name, batches=subset["batches"])
    )
    for key in _FIGURES[record["task"]]:
        assert result[key] == pytest.approx(subset[key], abs=0.01), key
    _same_objects(result, subset)


_OBJECT_FIGURES = ("f1@0.5", "dsb_score", "pq", "boundary_f1")


def _same_objects(result, recorded):
    # An entry whose held-out data have instance labels records object
    # and boundary scores; they reproduce too.
    assert ("objects" in result) == ("objects" in recorded)
    for key in _OBJECT_FIGURES if "objects" in result else ():
        assert result["objects"][key] == pytest.approx(
            recorded["objects"][key], abs=0.01
        ), key


@pytest.mark.large
@pytest.mark.parametrize("name", _params(ENTRIES))
def test_held_out_split_reproduces_the_card(name):
    record = records.get(name)
    held = record["metrics"]["held_out"]
    result = evaluate.summary(evaluate.evaluate(name))
    for key in _FIGURES[record["task"]]:
        assert result[key] == pytest.approx(held[key], abs=0.01), key
    _same_objects(result, held)


RECONSTRUCTIONS = [
    n for n in ENTRIES if records.get(n)["task"] == "reconstruction"
]


@pytest.mark.parametrize("name", RECONSTRUCTIONS)
def test_an_autoencoder_entry_starts_a_unet(name):
    # The autoencoder-pretraining recipe's first step: the entry's encoder
    # goes into a U-Net of the same encoder settings, whose encoder then
    # computes exactly what the autoencoder's does.
    autoencoder = kerasseg.load(name)
    options = records.get(name)["config"]["model"]["options"]
    unet = kerasseg.models.unet(
        (None, None, records.get(name)["input_channels"]),
        num_classes=3,
        depth=options["depth"],
        base_filters=options["base_filters"],
    )
    kerasseg.copy_encoder_weights(autoencoder, unet)
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 1))
    ours = unet.get_layer("encoder")(images)
    theirs = autoencoder.get_layer("encoder")(images)
    for key in theirs:
        np.testing.assert_allclose(ours[key], theirs[key], atol=1e-5)


def test_cards_and_the_zoo_page_are_not_stale():
    for path, text in cards.render_all().items():
        assert path.read_text() == text, (
            f"{path} is stale: run python -m kerasseg.zoo.cards"
        )


# One entry of each task (for segmentation the nuclei model, whose
# percentile normalization must convert too): the loaded model exports
# like a fresh one.
_FIRST = {records.get(n)["task"]: n for n in reversed(ENTRIES)}
EXPORTED = sorted({**_FIRST, "segmentation": "unet.nuclei_bbbc007"}.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPORTED)
def test_a_loaded_entry_exports_with_parity(name, tmp_path):
    model = kerasseg.load(name)
    record = records.get(name)
    channels = record["input_channels"]
    pixels = (
        np.random.default_rng(0)
        .integers(0, 256, (2, 48, 56, channels))
        .astype("uint8")
    )
    # kerasseg train teaches a multi-task label output which classes an
    # image holds: independent labels.
    multilabel = ("label",) if record["task"] == "multitask" else ()
    reference = expected(
        model, pixels.astype("float32"), record["task"], multilabel
    )
    loaded = tf.saved_model.load(export.saved_model(model, tmp_path / "sm"))
    answer = loaded.signatures["serving_default"](
        images=tf.constant(pixels, tf.float32)
    )
    _assert_answer(answer, reference, atol=1e-4)
    want = model.predict(pixels.astype("float32"), verbose=0)
    if not isinstance(want, dict):
        want = {None: want}
    for fmt, run in (("tflite", run_tflite), ("onnx", run_onnx)):
        path = export.export(model, tmp_path, format=fmt)
        got = _match(run(path, pixels.astype("float32")), want)
        for key, value in want.items():
            assert_converted_close(got[key], value, err_msg=f"{fmt} {key}")


CONFIGS = sorted(
    p.parent.name for p in records.entries_dir().glob("*/config.yaml")
)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_committed_config_is_valid_for_its_entry_name(name):
    from kerasseg.training import builders
    from kerasseg.training import config

    resolved = config.load(records.entries_dir() / name / "config.yaml")
    # The name's first part is the registered model the config builds.
    assert resolved["model"]["name"] == name.split(".")[0]
    assert builders.model(resolved).count_params() > 0


def test_machine_names_the_vector_extensions_that_decide_speed():
    from kerasseg.zoo.publish import vector_extensions

    avx2 = "fpu sse4_2 avx avx2 fma bmi2".split()
    assert vector_extensions(avx2) == ["AVX2", "FMA", "no AVX-512", "no AMX"]
    sapphire = (
        " ".join(avx2) + " avx512f avx512bw avx512_vnni avx512_bf16 amx_tile"
    )
    assert vector_extensions(sapphire.split()) == [
        "AVX2",
        "FMA",
        "AVX-512",
        "VNNI",
        "BF16",
        "AMX",
    ]
