"""The model families. Importing this package registers them all."""

from . import classifier, cnn, gan, resnet_decoder, unet  # noqa: F401
from .base import ColorizationNet

__all__ = ["ColorizationNet"]
