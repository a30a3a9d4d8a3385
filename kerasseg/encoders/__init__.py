"""Encoders: `keras.Model`s mapping images to stride-keyed feature dicts.

`get_encoder(name, input_shape, **options)` builds any of them by name;
model builders take that name as their `encoder` argument.
"""

from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import stride_of
from kerasseg.encoders.conv import conv_encoder
from kerasseg.encoders.convnext import convnextbase_encoder
from kerasseg.encoders.convnext import convnextlarge_encoder
from kerasseg.encoders.convnext import convnextsmall_encoder
from kerasseg.encoders.convnext import convnexttiny_encoder
from kerasseg.encoders.convnext import convnextxlarge_encoder
from kerasseg.encoders.densenet import densenet121_encoder
from kerasseg.encoders.densenet import densenet169_encoder
from kerasseg.encoders.densenet import densenet201_encoder
from kerasseg.encoders.efficientnet import efficientnetb0_encoder
from kerasseg.encoders.efficientnet import efficientnetb1_encoder
from kerasseg.encoders.efficientnet import efficientnetb2_encoder
from kerasseg.encoders.efficientnet import efficientnetb3_encoder
from kerasseg.encoders.efficientnet import efficientnetb4_encoder
from kerasseg.encoders.efficientnet import efficientnetb5_encoder
from kerasseg.encoders.efficientnet import efficientnetb6_encoder
from kerasseg.encoders.efficientnet import efficientnetb7_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2b0_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2b1_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2b2_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2b3_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2l_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2m_encoder
from kerasseg.encoders.efficientnet_v2 import efficientnetv2s_encoder
from kerasseg.encoders.hub import hub_encoder
from kerasseg.encoders.mobilenet_v2 import mobilenetv2_encoder
from kerasseg.encoders.mobilenet_v3 import mobilenetv3large_encoder
from kerasseg.encoders.mobilenet_v3 import mobilenetv3small_encoder
from kerasseg.encoders.registry import ENCODERS
from kerasseg.encoders.registry import get_encoder
from kerasseg.encoders.resnet import resnet18_encoder
from kerasseg.encoders.resnet import resnet34_encoder
from kerasseg.encoders.resnet import resnet50_encoder
from kerasseg.encoders.resnet import resnet101_encoder
from kerasseg.encoders.resnet import resnet152_encoder
from kerasseg.encoders.resnet_v2 import resnet50v2_encoder
from kerasseg.encoders.resnet_v2 import resnet101v2_encoder
from kerasseg.encoders.resnet_v2 import resnet152v2_encoder
from kerasseg.encoders.vgg import vgg16_encoder

__all__ = [
    "ENCODERS",
    "conv_encoder",
    "convnextbase_encoder",
    "convnextlarge_encoder",
    "convnextsmall_encoder",
    "convnexttiny_encoder",
    "convnextxlarge_encoder",
    "densenet121_encoder",
    "densenet169_encoder",
    "densenet201_encoder",
    "efficientnetb0_encoder",
    "efficientnetb1_encoder",
    "efficientnetb2_encoder",
    "efficientnetb3_encoder",
    "efficientnetb4_encoder",
    "efficientnetb5_encoder",
    "efficientnetb6_encoder",
    "efficientnetb7_encoder",
    "efficientnetv2b0_encoder",
    "efficientnetv2b1_encoder",
    "efficientnetv2b2_encoder",
    "efficientnetv2b3_encoder",
    "efficientnetv2s_encoder",
    "efficientnetv2m_encoder",
    "efficientnetv2l_encoder",
    "get_encoder",
    "level_of",
    "hub_encoder",
    "mobilenetv2_encoder",
    "mobilenetv3large_encoder",
    "mobilenetv3small_encoder",
    "resnet101_encoder",
    "resnet152_encoder",
    "resnet18_encoder",
    "resnet34_encoder",
    "resnet50_encoder",
    "resnet50v2_encoder",
    "resnet101v2_encoder",
    "resnet152v2_encoder",
    "stride_of",
    "vgg16_encoder",
]
