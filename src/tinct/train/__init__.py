"""Training: config dataclasses, the loop, objectives, resume state and distributed set-up."""

from .config import TrainConfig, load_config
from .loop import train

__all__ = ["TrainConfig", "load_config", "train"]
