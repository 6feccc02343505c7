import io
import struct
import zlib

import numpy as np
import pytest
import soundfile
from PIL import Image

from mmdemo.errors import MediaError
from mmdemo.media import MediaLimits, clean_text, load_audio, load_image

RED = (255, 0, 0)


def _save(image: Image.Image, path, **kwargs):
    image.save(path, **kwargs)
    return path


def test_rgba_is_composited_on_white(tmp_path):
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    image.putpixel((0, 0), (0, 0, 255, 255))
    out = load_image(_save(image, tmp_path / "a.png"))
    assert out.mode == "RGB"
    assert out.getpixel((1, 1)) == (255, 255, 255) and out.getpixel((0, 0)) == (0, 0, 255)


def test_palette_with_transparency_grey_cmyk_and_16_bit(tmp_path):
    palette = Image.new("P", (3, 3), 0)
    palette.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putpixel((1, 1), 1)
    palette.info["transparency"] = 0
    out = load_image(_save(palette, tmp_path / "p.png", transparency=0))
    assert out.getpixel((0, 0)) == (255, 255, 255) and out.getpixel((1, 1)) == (0, 255, 0)

    assert load_image(Image.new("L", (2, 2), 128)).getpixel((0, 0)) == (128, 128, 128)
    cmyk = load_image(_save(Image.new("CMYK", (2, 2), (0, 255, 255, 0)), tmp_path / "c.jpg"))
    r, g, b = cmyk.getpixel((0, 0))
    assert r > 200 and g < 60 and b < 60  # CMYK (0, 100%, 100%, 0) is red

    deep = np.array([[0, 1000], [30000, 60000]], dtype=np.uint16)
    path = tmp_path / "d.png"
    Image.fromarray(deep).save(path)
    grey = load_image(path)
    assert Image.open(path).mode.startswith("I")
    assert grey.getpixel((0, 0)) == (0, 0, 0) and grey.getpixel((1, 1)) == (255, 255, 255)
    assert 120 < grey.getpixel((0, 1))[0] < 135  # 30000 of 60000 -> mid grey, not clipped to 255


def test_exif_rotation_is_applied(tmp_path):
    image = Image.new("RGB", (4, 2), RED)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "r.jpg"
    image.save(path, exif=exif)
    assert load_image(path).size == (2, 4)


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (3, 3), RED), Image.new("RGB", (3, 3), (0, 0, 255))]
    path = tmp_path / "a.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    r, g, b = load_image(path).getpixel((1, 1))
    assert r > 200 and b < 60


def test_numpy_arrays_and_bytes():
    array = np.zeros((2, 3, 3), dtype=np.uint8)
    array[..., 1] = 255
    assert load_image(array).getpixel((0, 0)) == (0, 255, 0)
    assert load_image(np.full((2, 2), 0.5)).getpixel((0, 0)) == (128, 128, 128)
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2), RED).save(buffer, format="PNG")
    assert load_image(buffer.getvalue()).getpixel((0, 0)) == RED
    with pytest.raises(MediaError, match="shape"):
        load_image(np.zeros((2, 2, 5)))


def _bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels (the data is a few bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    data = _bomb_png(50_000, 50_000)
    assert len(data) < 100
    with pytest.raises(MediaError, match="pixels, over the limit|decompression bomb"):
        load_image(data)


def test_corrupt_truncated_and_fake_images(tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("this is not an image")
    with pytest.raises(MediaError, match="not an image"):
        load_image(fake)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), RED).save(buffer, format="JPEG")
    with pytest.raises(MediaError, match="truncated or corrupt"):
        load_image(buffer.getvalue()[:200])
    with pytest.raises(MediaError, match="not found"):
        load_image(tmp_path / "missing.png")


def test_tiny_and_elongated_images_are_usable():
    assert load_image(Image.new("RGB", (1, 1), RED)).size == (1, 1)
    long = load_image(Image.new("RGB", (4000, 2), RED), MediaLimits(max_aspect_ratio=8))
    assert long.size == (4000, 500)
    assert long.getpixel((2000, 250)) == RED and long.getpixel((0, 0)) == (255, 255, 255)


# ---------------------------------------------------------------------------------------- audio


def _tone(seconds=0.5, rate=16_000, freq=440.0, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


@pytest.mark.parametrize("fmt", ["wav", "flac", "ogg"])
def test_audio_formats_read_to_mono_float(tmp_path, fmt):
    path = tmp_path / f"a.{fmt}"
    soundfile.write(path, _tone(channels=2), 16_000)
    samples = load_audio(path, 16_000)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - 8000) < 200
    assert 0.4 < np.abs(samples).max() <= 0.6


def test_resampling_and_downmix_keep_pitch(tmp_path):
    path = tmp_path / "hi.wav"
    soundfile.write(path, _tone(seconds=1.0, rate=96_000, freq=1000.0, channels=8), 96_000)
    samples = load_audio(path, 16_000)
    assert len(samples) == 16_000
    spectrum = np.abs(np.fft.rfft(samples))
    assert abs(np.argmax(spectrum) - 1000) <= 2  # 1 Hz bins over one second


def test_int16_tuple_from_gradio_is_scaled():
    samples = (np.array([0, 16384, -32768, 32767], dtype=np.int16))
    out = load_audio((16_000, samples), 16_000)
    assert np.allclose(out, [0.0, 0.5, -1.0, 32767 / 32768], atol=1e-4)


def test_audio_failures_have_clear_messages(tmp_path):
    with pytest.raises(MediaError, match="empty"):
        load_audio(np.zeros(0, dtype=np.float32), 16_000)
    with pytest.raises(MediaError, match="NaN"):
        load_audio(np.full(100, np.nan, dtype=np.float32), 16_000)
    with pytest.raises(MediaError, match="over the limit"):
        load_audio(np.zeros(16_000 * 3, dtype=np.float32), 16_000, MediaLimits(max_audio_seconds=2))
    long = tmp_path / "long.wav"
    soundfile.write(long, np.zeros(16_000 * 3, dtype=np.float32), 16_000)
    with pytest.raises(MediaError, match="3.0 s long"):
        load_audio(long, 16_000, MediaLimits(max_audio_seconds=2))
    bad = tmp_path / "bad.mp3x"
    bad.write_bytes(b"definitely not audio")
    with pytest.raises(MediaError, match="Supported formats"):
        load_audio(bad, 16_000)


def test_one_sample_and_silence_are_valid():
    assert load_audio(np.zeros(1, dtype=np.float32), 16_000).shape == (1,)
    assert not load_audio(np.zeros(1600, dtype=np.float32), 16_000).any()


# ----------------------------------------------------------------------------------------- text


def test_clean_text():
    assert clean_text("  a  red\n circle ") == "a red circle"
    assert clean_text("un chat 猫 кошка") == "un chat 猫 кошка"
    with pytest.raises(MediaError, match="empty"):
        clean_text(" \n\t ")
    with pytest.raises(MediaError, match="100,000 characters"):
        clean_text("x" * 100_000)


def test_image_over_the_configured_pixel_limit_is_refused_from_its_header():
    data = _bomb_png(3000, 3000)
    with pytest.raises(MediaError, match="9,000,000 pixels, over the limit of 1,000,000"):
        load_image(data, MediaLimits(max_pixels=1_000_000))
