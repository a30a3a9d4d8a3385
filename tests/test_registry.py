import pytest

import kerasseg
from kerasseg import registry


def test_required_names_are_registered():
    names = kerasseg.list_models()
    for name in [
        "unet",
        "unet_classic",
        "attention_unet",
        "conv_autoencoder",
        "unet_tiny",
        "attention_unet_tiny",
        "conv_autoencoder_tiny",
    ]:
        assert name in names


def test_list_models_filters_by_pattern():
    assert kerasseg.list_models("*unet*_tiny") == [
        "attention_unet_tiny",
        "multitask_unet_tiny",
        "transunet_tiny",
        "unet_classic_tiny",
        "unet_tiny",
        "unetplusplus_tiny",
    ]
    assert kerasseg.list_models("deeplab*") == [
        "deeplabv3_mobilenetv2",
        "deeplabv3_resnet34",
        "deeplabv3_resnet50",
        "deeplabv3_tiny",
        "deeplabv3plus_efficientnetb0",
        "deeplabv3plus_mobilenetv2",
        "deeplabv3plus_resnet50",
        "deeplabv3plus_tiny",
    ]
    assert kerasseg.list_models("nothing*") == []


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError, match="Did you mean: unet_classic"):
        kerasseg.build("unet_clasic")
    with pytest.raises(ValueError, match="list_models"):
        kerasseg.build("segformer_b9")


def test_built_model_is_named_after_its_configuration():
    assert kerasseg.build("unet_tiny").name == "unet_tiny"
    assert kerasseg.build("unet_tiny", name="mine").name == "mine"


def test_registering_twice_is_refused():
    with pytest.raises(ValueError, match="already registered"):
        registry.register_model(
            "unet", kerasseg.models.unet, task="segmentation", description=""
        )


def test_unknown_task_is_refused():
    with pytest.raises(ValueError, match="task='detection'"):
        registry.register_model(
            "x", kerasseg.models.unet, task="detection", description=""
        )
