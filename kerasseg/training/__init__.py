"""Training recipes and helpers."""

from kerasseg.training import recipes
from kerasseg.training import xla
from kerasseg.training.finetune import freeze_encoder
from kerasseg.training.finetune import unfreeze_encoder
from kerasseg.training.transfer import copy_encoder_weights

__all__ = [
    "copy_encoder_weights",
    "freeze_encoder",
    "recipes",
    "unfreeze_encoder",
    "xla",
]
