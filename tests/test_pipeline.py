"""Tests for tinct.inference.pipeline.Colorizer: sizes, modes, orientation, kept lightness,
batching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from tinct import Colorizer, color, create_model
from tinct.imageio import read_image
from tinct.inference import checkpoint


def lightness(image) -> np.ndarray:
    """CIE L* ``(H, W)`` float64 of an 8-bit RGB/L image (PIL or array)."""
    rgb = np.asarray(Image.fromarray(image) if isinstance(image, np.ndarray) else image)
    rgb = np.asarray(Image.fromarray(rgb).convert("RGB"), np.float64) / 255
    return color.rgb_to_lightness(torch.from_numpy(rgb).permute(2, 0, 1))[0].numpy()


def as_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


@pytest.fixture(scope="module")
def vivid(tmp_path_factory) -> Colorizer:
    """A Colorizer whose network asks for strongly out-of-gamut chroma (ab about +-105)."""
    torch.manual_seed(0)
    model = create_model("cnn", width=8, depth=2)
    with torch.no_grad():
        model.head.bias.copy_(torch.tensor([3.0, -3.0]))  # tanh(3) * 110 = 105
    folder = checkpoint.save_pretrained(model, tmp_path_factory.mktemp("m") / "vivid",
                                        working_size=48)
    return Colorizer.from_pretrained(folder, device="cpu", precision="fp32")


@pytest.mark.parametrize("size", [(37, 53), (53, 37), (1, 9), (65, 64)])
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA"])
def test_output_size_and_mode_follow_the_input(colorizer, photo_of, size, mode):
    image = Image.fromarray(photo_of("coffee", size)).convert(mode)
    out = colorizer.colorize(image)
    assert out.size == size
    assert out.mode == ("RGBA" if "A" in mode else "RGB")


def test_alpha_is_kept(colorizer, rgb_photo):
    h, w = rgb_photo.shape[:2]
    alpha = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    out = colorizer.colorize(Image.fromarray(np.dstack([rgb_photo, alpha]), "RGBA"))
    assert np.array_equal(np.asarray(out)[..., 3], alpha)


@pytest.mark.parametrize("source", ["gray", "colour", "noise"])
def test_output_keeps_the_input_lightness(colorizer, vivid, rgb_photo, gray_image, source):
    """The output's L* differs from the input's by at most 1 unit (8-bit in, 8-bit out)."""
    rng = np.random.default_rng(0)
    image = {"gray": gray_image, "colour": rgb_photo,
             "noise": rng.integers(0, 256, (41, 57), dtype=np.uint8)}[source]
    expected = lightness(image)
    for model in (colorizer, vivid):
        out = model.colorize(image)
        assert np.abs(lightness(out) - expected).max() <= 1.0


def test_vivid_model_really_adds_colour(vivid, gray_image):
    """Guards the lightness test above: the vivid model does produce strong colour."""
    out = np.asarray(vivid.colorize(gray_image), np.float64) / 255
    lab = color.rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1))
    assert lab[1:].abs().mean() > 15


def test_colour_input_is_treated_as_its_lightness(colorizer, rgb_photo):
    gray_version = color.lab_to_rgb(torch.cat([
        torch.from_numpy(lightness(rgb_photo))[None], torch.zeros(2, *rgb_photo.shape[:2],
                                                                   dtype=torch.float64)]))
    gray8 = (gray_version.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    diff = as_array(colorizer.colorize(rgb_photo)) - as_array(colorizer.colorize(gray8))
    assert np.abs(diff).max() <= 2


def test_exif_rotated_input_gives_upright_output(colorizer, photo_of, tmp_path):
    stored = Image.fromarray(photo_of("astronaut", (40, 24))).convert("L")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif, quality=95)
    with Image.open(path) as im:
        upright = ImageOps.exif_transpose(im)
    out = colorizer.colorize(path)
    assert out.size == (24, 40) == upright.size
    assert np.abs(lightness(out) - lightness(upright)).max() <= 1.0


def test_colorize_batch_equals_one_by_one(colorizer, photo_of):
    images = [photo_of(name, (48, 36)) for name in ("astronaut", "coffee", "chelsea")]
    batch = colorizer.colorize_batch(images, batch_size=3)
    for image, got in zip(images, batch, strict=True):
        single = colorizer.colorize(image)
        assert np.abs(as_array(got) - as_array(single)).max() <= 1


def test_mixed_sizes_in_one_batch(colorizer, photo_of):
    # the first two share a working shape (64x48) but not their full size
    sizes = [(64, 48), (128, 96), (30, 50), (17, 17)]
    images = [photo_of("rocket", s) for s in sizes]
    batch = colorizer.colorize_batch(images, batch_size=4)
    assert [im.size for im in batch] == sizes
    for image, got in zip(images, batch, strict=True):
        single = colorizer.colorize(image)
        assert np.abs(as_array(got) - as_array(single)).max() <= 1


def test_colorize_batch_returns_float_arrays_when_asked(colorizer, rgb_photo):
    loaded = [read_image(rgb_photo), read_image(rgb_photo[:20, :30])]
    results = colorizer.colorize_batch(loaded, dtype=np.float32)
    assert [r.shape for r in results] == [(48, 64, 3), (20, 30, 3)]
    assert all(r.dtype == np.float32 and r.min() >= 0 and r.max() <= 1 for r in results)


def test_predict_chroma_shapes(colorizer):
    L = torch.rand(2, 1, 37, 53) * 100
    chroma = colorizer.predict_chroma(L)
    assert chroma.shape == (2, 2, 37, 53) and chroma.dtype == torch.float32
    assert torch.isfinite(chroma).all()
    small = colorizer.predict_chroma(L, size=32, out_size=(10, 12))
    assert small.shape == (2, 2, 10, 12)
    with pytest.raises(ValueError, match="at least 8"):
        colorizer.predict_chroma(L, size=4)


def test_working_size_changes_the_result(colorizer, rgb_photo):
    a = as_array(colorizer.colorize(rgb_photo, size=32))
    b = as_array(colorizer.colorize(rgb_photo, size=64))
    assert a.shape == b.shape and np.abs(a - b).max() > 0


def test_paths_pil_and_numpy_inputs_agree(colorizer, rgb_photo, tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(rgb_photo).save(path)
    results = [colorizer.colorize(x) for x in (path, str(path), Image.fromarray(rgb_photo),
                                               rgb_photo, read_image(rgb_photo))]
    for got in results[1:]:
        assert np.array_equal(np.asarray(got), np.asarray(results[0]))


def test_the_three_stages_compose_to_colorize(colorizer, rgb_photo):
    """lightness -> predict_chroma -> render is what colorize does (stage API)."""
    L = colorizer.lightness(rgb_photo)
    assert L.shape == (1, 48, 64) and float(L.min()) >= 0 and float(L.max()) <= 100
    chroma = colorizer.predict_chroma(L[None])
    staged = colorizer.render(L, chroma[0])
    assert staged.shape == (48, 64, 3) and staged.dtype == np.uint8
    assert np.abs(staged.astype(np.int16) - as_array(colorizer.colorize(rgb_photo))).max() <= 1


def test_video_frames_go_through_the_pipeline_stages(colorizer, photo_of):
    """The film path (no temporal step) gives what colorize gives for each frame."""
    from tinct.video.colorize import FrameColorizer

    frames = np.stack([photo_of("astronaut", (48, 32)), photo_of("coffee", (48, 32))])
    out = FrameColorizer(colorizer, None, None)(frames)
    assert out.shape == frames.shape and out.dtype == np.uint8
    for frame, got in zip(frames, out, strict=True):
        assert np.abs(got.astype(np.int16) - as_array(colorizer.colorize(frame))).max() <= 1


def test_colorizer_carries_the_model_settings(colorizer, tiny_model_dir):
    assert colorizer.working_size == 64
    assert colorizer.space == "lab"
    assert colorizer.name == tiny_model_dir.name
    assert colorizer.device.type == "cpu"


def test_cpu_inference_defaults_to_float32(tiny_model_dir):
    """bf16 autocast cost quality and no speed on CPU (bench/infer_speed.py): it runs only when
    asked for; float32 CPU output is what the ONNX export and the eval tables reproduce."""
    default = Colorizer.from_pretrained(tiny_model_dir, device="cpu")
    assert default.amp_dtype is None
    asked = Colorizer.from_pretrained(tiny_model_dir, device="cpu", precision="bf16")
    assert asked.amp_dtype == torch.bfloat16
    L = torch.rand(1, 1, 40, 56) * 100
    exact = Colorizer.from_pretrained(tiny_model_dir, device="cpu", precision="fp32")
    assert torch.equal(default.predict_chroma(L), exact.predict_chroma(L))


def test_with_decode_changes_the_copy_only(tiny_classifier_dir, colorizer):
    base = Colorizer.from_pretrained(tiny_classifier_dir, device="cpu", precision="fp32")
    L = torch.rand(2, 1, 64, 80) * 100
    plain = base.predict_chroma(L)
    vivid = base.with_decode(boost=1.5)
    assert vivid.decode_settings() == {"temperature": 0.38, "boost": 1.5}
    assert vivid.model.classifier is base.model  # the weights are shared, not copied
    more = vivid.predict_chroma(L)
    assert more.norm(dim=1).mean() > plain.norm(dim=1).mean() + 1  # rare colours weigh more
    # the original is unchanged, and a view of a view starts from the view's settings
    assert base.decode_settings() == {"temperature": 0.38, "boost": 0.0}
    assert torch.equal(base.predict_chroma(L), plain)
    warmer = vivid.with_decode(temperature=1.0)
    assert warmer.decode_settings() == {"temperature": 1.0, "boost": 1.5}
    assert torch.allclose(warmer.predict_chroma(L),
                          base.with_decode(1.0, 1.5).predict_chroma(L))
    with pytest.raises(ValueError, match="0 or more"):
        base.with_decode(boost=-0.1)
    with pytest.raises(ValueError, match="positive"):
        base.with_decode(temperature=float("inf"))
    assert colorizer.decode_settings() is None  # a regression model
    with pytest.raises(ValueError, match="predicts colour directly"):
        colorizer.with_decode(boost=1.0)


def test_flip_averaging_is_mirror_equivariant(tiny_classifier_dir, tmp_path):
    plain = Colorizer.from_pretrained(tiny_classifier_dir, device="cpu", precision="fp32")
    assert plain.flip is False  # off unless the model's config or the caller asks
    flipped = Colorizer.from_pretrained(tiny_classifier_dir, device="cpu", precision="fp32")
    flipped.flip = True
    torch.manual_seed(1)
    L = torch.rand(1, 1, 64, 96) * 100  # sides that need no padding: exact symmetry
    mirror = L.flip(-1)
    # one pass is not mirror-equivariant (a random network); the flip average is, exactly
    assert (plain.predict_chroma(mirror) - plain.predict_chroma(L).flip(-1)).abs().max() > 0.1
    torch.testing.assert_close(flipped.predict_chroma(mirror),
                               flipped.predict_chroma(L).flip(-1), atol=1e-4, rtol=0)
    # and it is close to the mean of the two passes' colours (the logits are averaged)
    expected = (plain.predict_chroma(L) + plain.predict_chroma(mirror).flip(-1)) / 2
    torch.testing.assert_close(flipped.predict_chroma(L), expected, atol=0.05, rtol=0)
    # widths that are not a multiple of the output stride keep their shape
    odd = torch.rand(2, 1, 61, 90) * 100
    assert flipped.predict_chroma(odd, size=90).shape == (2, 2, 61, 90)  # padded to 92
    # a saved model can ask for it
    config = checkpoint.read_config(tiny_classifier_dir)
    folder = tmp_path / "flipping"
    folder.mkdir()
    (folder / "model.safetensors").symlink_to(tiny_classifier_dir / "model.safetensors")
    checkpoint.write_config(folder, config.replace(flip=True))
    assert Colorizer.from_pretrained(folder, device="cpu").flip is True
