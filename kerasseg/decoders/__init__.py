"""Decoders: functions from a stride-keyed feature dict to a feature map."""

from kerasseg.decoders.unet import unet_decoder

__all__ = ["unet_decoder"]
