"""Decoders: functions from a stride-keyed feature dict to a tensor."""

from kerasseg.decoders.deeplab import aspp
from kerasseg.decoders.deeplab import deeplabv3_decoder
from kerasseg.decoders.deeplab import deeplabv3plus_decoder
from kerasseg.decoders.fcn import fcn_decoder
from kerasseg.decoders.fpn import fpn_decoder
from kerasseg.decoders.linknet import linknet_decoder
from kerasseg.decoders.pspnet import psp_decoder
from kerasseg.decoders.unet import unet_decoder
from kerasseg.decoders.unetplusplus import unetplusplus_decoder
from kerasseg.decoders.upernet import upernet_decoder

__all__ = [
    "aspp",
    "deeplabv3_decoder",
    "deeplabv3plus_decoder",
    "fcn_decoder",
    "fpn_decoder",
    "linknet_decoder",
    "psp_decoder",
    "unet_decoder",
    "unetplusplus_decoder",
    "upernet_decoder",
]
