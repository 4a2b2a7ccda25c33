"""Inference: saved models (``checkpoint``), the photo pipeline (``pipeline.Colorizer``), the
full-resolution merge (``render``), ONNX export (``export``) and the batch plan of folders
(``batch``)."""
