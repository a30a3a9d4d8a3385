"""Custom layers. Each is registered, so `.keras` files reload after
`import kerasseg` with `safe_mode=True` and no `custom_objects`."""

from kerasseg.layers.attention import AttentionGate
from kerasseg.layers.noise import RandomMasking
from kerasseg.layers.padding import CropToReference
from kerasseg.layers.padding import PadToMultiple

__all__ = ["AttentionGate", "CropToReference", "PadToMultiple", "RandomMasking"]
