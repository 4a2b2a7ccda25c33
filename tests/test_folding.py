"""BatchNorm folded into convolutions for inference (tinct.inference.folding)."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from tinct import Colorizer
from tinct.inference.checkpoint import load_pretrained
from tinct.inference.folding import fold_pairs, folded_for_inference


def _norms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


@pytest.mark.parametrize("fixture", ["tiny_classifier_dir", "tiny_model_dir"])
def test_loaded_models_are_folded_and_colour_the_same(request, fixture):
    from skimage import data

    gray_astronaut = np.asarray(data.astronaut()[::3, ::3].mean(2), dtype=np.uint8)
    folder = request.getfixturevalue(fixture)
    model, config = load_pretrained(folder)
    assert _norms(model) > 0
    plain = Colorizer(model, config, device="cpu")
    folded = Colorizer.from_pretrained(folder, device="cpu")
    assert _norms(folded.model) == 0
    a = np.asarray(plain.colorize(gray_astronaut)).astype(int)
    b = np.asarray(folded.colorize(gray_astronaut)).astype(int)
    assert np.abs(a - b).max() <= 1


class NormFirst(nn.Module):
    """Registers a convolution and then a BatchNorm, but normalizes before convolving."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.norm.running_mean.fill_(0.5)
        self.norm.running_var.fill_(4.0)

    def forward(self, x):
        return self.conv(self.norm(x))


def test_a_fold_that_changes_the_output_is_refused():
    model = NormFirst().eval()
    probe = torch.randn(1, 4, 8, 8)
    wrongly = NormFirst().eval()
    wrongly.load_state_dict(model.state_dict())
    assert fold_pairs(wrongly) == 1
    with torch.no_grad():
        assert (wrongly(probe) - model(probe)).abs().max() > 0.1  # the naive fold is wrong
    kept = folded_for_inference(model, probe)
    assert kept is model and _norms(kept) == 1
