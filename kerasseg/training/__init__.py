"""Training recipes and helpers."""

from kerasseg.training.transfer import copy_encoder_weights

__all__ = ["copy_encoder_weights"]
