"""Studies with people: the colorization Turing test (``turing``)."""
