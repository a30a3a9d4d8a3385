"""Decoders: functions from a stride-keyed feature dict to a tensor."""

from kerasseg.decoders.deeplab import aspp
from kerasseg.decoders.deeplab import deeplabv3plus_decoder
from kerasseg.decoders.fcn import fcn_decoder
from kerasseg.decoders.unet import unet_decoder

__all__ = ["aspp", "deeplabv3plus_decoder", "fcn_decoder", "unet_decoder"]
