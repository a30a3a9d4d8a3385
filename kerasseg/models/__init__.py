"""Model builders: functions returning Functional `keras.Model`s."""

from kerasseg.models.autoencoder import conv_autoencoder
from kerasseg.models.unet import attention_unet
from kerasseg.models.unet import unet

__all__ = ["attention_unet", "conv_autoencoder", "unet"]
