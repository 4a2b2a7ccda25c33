"""The networks: the registry, the base class, the model families and the colour quantization
of the classifiers. Importing this package registers every family.
"""

from tinct.models import classifier, cnn, ensemble, gan, resnet_decoder, unet  # noqa: F401
from tinct.models.base import ColorizationNet  # noqa: I001 - after the registry, on purpose
from tinct.models.registry import (
    UnknownModelError,
    create_model,
    list_models,
    model_doc,
    model_signature,
    register_model,
)

__all__ = ["ColorizationNet", "UnknownModelError", "create_model", "list_models", "model_doc",
           "model_signature", "register_model"]
