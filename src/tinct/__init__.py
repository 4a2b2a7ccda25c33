"""tinct: colorize black-and-white photographs and films with deep networks.

>>> from tinct import Colorizer
>>> Colorizer.from_pretrained().colorize("photo.jpg").save("photo-colour.png")
"""

__version__ = "0.1.0"

from .pipeline import Colorizer  # noqa: E402
from .registry import create_model, list_models  # noqa: E402

__all__ = ["Colorizer", "create_model", "list_models", "__version__"]
