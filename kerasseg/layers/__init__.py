"""Custom layers. Each is registered, so `.keras` files reload after
`import kerasseg` with `safe_mode=True` and no `custom_objects`."""

from kerasseg.layers import atrous
from kerasseg.layers.attention import AttentionGate
from kerasseg.layers.gradient import GradientReversal
from kerasseg.layers.noise import RandomMasking
from kerasseg.layers.normalization import PercentileNormalization
from kerasseg.layers.output import HeadOutput
from kerasseg.layers.padding import CropToReference
from kerasseg.layers.padding import PadToMultiple
from kerasseg.layers.pooling import AdaptiveAveragePooling2D
from kerasseg.layers.preprocessing import ImageNetPreprocessing
from kerasseg.layers.resize import BilinearUpsample
from kerasseg.layers.resize import ResizeBy
from kerasseg.layers.resize import ResizeToReference
from kerasseg.layers.transformer import PositionEmbedding2D
from kerasseg.layers.transformer import TransformerBlock
from kerasseg.layers.tta import D4Transform
from kerasseg.layers.tta import MergeScores

__all__ = [
    "atrous",
    "AdaptiveAveragePooling2D",
    "AttentionGate",
    "BilinearUpsample",
    "CropToReference",
    "D4Transform",
    "GradientReversal",
    "HeadOutput",
    "ImageNetPreprocessing",
    "MergeScores",
    "PadToMultiple",
    "PercentileNormalization",
    "PositionEmbedding2D",
    "RandomMasking",
    "ResizeBy",
    "ResizeToReference",
    "TransformerBlock",
]
