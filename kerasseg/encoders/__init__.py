"""Encoders: `keras.Model`s mapping images to stride-keyed feature dicts."""

from kerasseg.encoders.base import level_of
from kerasseg.encoders.base import stride_of
from kerasseg.encoders.conv import conv_encoder

__all__ = ["conv_encoder", "level_of", "stride_of"]
