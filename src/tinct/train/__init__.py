"""Training: config dataclasses, the loop, objectives, resume state and distributed set-up."""

from tinct.train.config import TrainConfig, load_config
from tinct.train.loop import train

__all__ = ["TrainConfig", "load_config", "train"]
