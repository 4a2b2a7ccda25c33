"""tinct: colorize black-and-white photographs and films with deep networks.

>>> from tinct import Colorizer
>>> Colorizer.from_pretrained().colorize("photo.jpg").save("photo-colour.png")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Colorizer", "create_model", "list_models", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from tinct.inference.pipeline import Colorizer
    from tinct.models import create_model, list_models


def __getattr__(name: str):
    """Imports lazily, so ``tinct --help`` does not load torch."""
    if name == "Colorizer":
        from tinct.inference.pipeline import Colorizer

        return Colorizer
    if name in ("create_model", "list_models"):
        from tinct import models

        return getattr(models, name)
    raise AttributeError(f"module 'tinct' has no attribute {name!r}")
