"""Model builders: functions returning Functional `keras.Model`s."""

from kerasseg.models.autoencoder import conv_autoencoder
from kerasseg.models.deeplab import deeplabv3
from kerasseg.models.deeplab import deeplabv3plus
from kerasseg.models.fcn import fcn8s
from kerasseg.models.fcn import fcn16s
from kerasseg.models.fcn import fcn32s
from kerasseg.models.fpn import fpn
from kerasseg.models.linknet import linknet
from kerasseg.models.multitask import multitask_unet
from kerasseg.models.pspnet import pspnet
from kerasseg.models.transunet import transunet
from kerasseg.models.unet import attention_unet
from kerasseg.models.unet import unet
from kerasseg.models.unetplusplus import unetplusplus
from kerasseg.models.upernet import upernet

__all__ = [
    "attention_unet",
    "conv_autoencoder",
    "deeplabv3",
    "deeplabv3plus",
    "fcn16s",
    "fcn32s",
    "fcn8s",
    "fpn",
    "linknet",
    "multitask_unet",
    "pspnet",
    "transunet",
    "unet",
    "unetplusplus",
    "upernet",
]
