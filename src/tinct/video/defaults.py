"""Torch-free defaults of the video tools, read by the command line when it builds ``--help``."""

DEFAULT_STATIC_THRESHOLD = 4.0
"""Flicker: a pixel is static when its ground-truth RGB changes by less than this many 0-255
levels between frames; above the codec noise of a well-encoded clip."""
