"""Loading and validating the media people upload: images, audio clips and text.

Every loader accepts the forms the app, the CLI and scripts pass around (a path, bytes, a PIL image
or numpy array, Gradio's ``(sample_rate, samples)`` tuple), converts them to one canonical form, and
raises :class:`~mmdemo.errors.MediaError` with a message a person can act on when it cannot.

Canonical forms:
- image: a PIL ``RGB`` image, EXIF orientation applied, transparency composited on white;
- audio: a 1-D ``float32`` numpy array in [-1, 1], mono, at the requested sample rate;
- text: a stripped ``str`` no longer than the limit.
"""

from __future__ import annotations

import io
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import soundfile
import torch
import torchaudio.functional as AF
from PIL import Image, ImageOps, UnidentifiedImageError

from mmdemo.errors import MediaError

logger = logging.getLogger(__name__)

ImageInput = Union[str, os.PathLike, bytes, Image.Image, np.ndarray]
AudioInput = Union[str, os.PathLike, bytes, tuple, np.ndarray, torch.Tensor]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class MediaLimits:
    """Limits on what one request may carry. Every limit is checked before the expensive work.

    Attributes:
        max_pixels: most decoded pixels (width x height) of one image; checked from the header,
            before decoding, so a decompression bomb is refused without being decoded.
        max_aspect_ratio: images longer than this ratio on one side are padded (white) to it, so
            resizing to a model's input never produces a gigantic intermediate image; an image so
            elongated that the padded canvas would exceed ``max_pixels`` is first shrunk to fit.
        max_audio_seconds: longest audio clip, in seconds.
        max_audio_channels: most channels in one audio file.
        max_text_chars: longest text, in characters.
    """

    max_pixels: int = 40_000_000
    max_aspect_ratio: float = 8.0
    max_audio_seconds: float = 60.0
    max_audio_channels: int = 16
    max_text_chars: int = 2_000


DEFAULT_LIMITS = MediaLimits()


# ---------------------------------------------------------------------------------------- images


def _describe(src: Any) -> str:
    if isinstance(src, (str, os.PathLike)):
        return f"'{Path(src).name}'"
    return f"the {type(src).__name__} input"


def _open_image(src: ImageInput) -> Image.Image:
    """Open ``src`` lazily (header only) as a PIL image, or raise MediaError."""
    if isinstance(src, Image.Image):
        return src
    if isinstance(src, np.ndarray):
        return _image_from_array(src)
    if isinstance(src, (bytes, bytearray)):
        stream: Any = io.BytesIO(src)
    elif isinstance(src, (str, os.PathLike)):
        path = Path(src)
        if not path.is_file():
            raise MediaError(f"Image file not found: {path}")
        stream = path
    else:
        raise MediaError(
            f"Unsupported image input of type {type(src).__name__}; "
            "pass a file path, bytes, a PIL image or a numpy array"
        )
    try:
        return Image.open(stream)
    except Image.DecompressionBombError as err:
        raise MediaError(
            f"Image {_describe(src)} declares more pixels than any limit allows ({err}); "
            "it looks like a decompression bomb"
        ) from err
    except UnidentifiedImageError as err:
        raise MediaError(
            f"{_describe(src)} is not an image this app can read "
            f"(supported: {', '.join(IMAGE_EXTENSIONS)})"
        ) from err
    except (OSError, ValueError) as err:
        raise MediaError(f"Image {_describe(src)} is truncated or corrupt: {err}") from err


def _image_from_array(array: np.ndarray) -> Image.Image:
    """A PIL image from an HxW, HxWx1, HxWx3 or HxWx4 array (uint8, uint16 or float in [0, 1])."""
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]  # (H, W, 1) -> (H, W)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise MediaError(
            f"An image array must have shape (H, W), (H, W, 3) or (H, W, 4); got {array.shape}"
        )
    if array.size == 0:
        raise MediaError("The image array is empty")
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise MediaError("The image array contains NaN or infinite values")
        array = (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    elif array.dtype == np.uint16 or array.dtype == np.int32:
        array = (array.astype(np.float64) / max(1, int(array.max())) * 255.0).round().astype(np.uint8)
    elif array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype != np.uint8:
        raise MediaError(f"Unsupported image array dtype {array.dtype}; use uint8, uint16 or float")
    return Image.fromarray(np.ascontiguousarray(array))


def _to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB the way a person expects to see it."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16/32-bit grey: stretch the used range to 8 bits instead of clipping at 255.
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) / (high - low) * 255.0 if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.round().astype(np.uint8), mode="L").convert("RGB")
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def _fit_for_padding(image: Image.Image, max_ratio: float, max_pixels: int) -> Image.Image:
    """Shrink an image that padding would blow up, so the padded canvas stays within max_pixels.

    Padding a ``L x 1`` strip to the aspect limit makes an ``L x L / max_ratio`` canvas: a
    1,000,000 x 1 PNG (a few hundred bytes) would become 125 billion pixels. The long side is
    therefore first reduced to the largest ``L`` with ``L * ceil(L / max_ratio) <= max_pixels``.
    """
    width, height = image.size
    long_side = max(width, height)
    if long_side < min(width, height) * max_ratio:
        return image  # no padding needed
    max_long = int(math.sqrt(max_pixels * max_ratio))
    while max_long > 1 and max_long * math.ceil(max_long / max_ratio) > max_pixels:
        max_long -= 1
    if long_side <= max_long:
        return image
    scale = max_long / long_side
    size = (max(1, min(max_long, round(width * scale))), max(1, min(max_long, round(height * scale))))
    return image.resize(size, Image.Resampling.BOX)


def _pad_to_aspect(image: Image.Image, max_ratio: float) -> Image.Image:
    width, height = image.size
    if width >= height * max_ratio:
        new_size = (width, math.ceil(width / max_ratio))
    elif height >= width * max_ratio:
        new_size = (math.ceil(height / max_ratio), height)
    else:
        return image
    canvas = Image.new("RGB", new_size, (255, 255, 255))
    canvas.paste(image, ((new_size[0] - width) // 2, (new_size[1] - height) // 2))
    return canvas


def load_image(src: ImageInput, limits: MediaLimits | None = None) -> Image.Image:
    """Load ``src`` as an RGB PIL image, checking the pixel limit before decoding.

    Handles every PIL mode (RGBA and LA composited on white, palette with transparency, L, CMYK,
    16-bit ``I;16``, 32-bit ``I``/``F``), applies EXIF orientation, and takes the first frame of an
    animated image.

    Raises:
        MediaError: the file is missing, not an image, truncated or corrupt, or over the limit.
    """
    limits = limits or DEFAULT_LIMITS
    image = _open_image(src)
    width, height = image.size
    if width < 1 or height < 1:
        raise MediaError(f"Image {_describe(src)} has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise MediaError(
            f"Image {_describe(src)} is {width}x{height} = {width * height:,} pixels, over the "
            f"limit of {limits.max_pixels:,}; resize it and try again"
        )
    try:
        if getattr(image, "is_animated", False):
            image.seek(0)
        image.load()
        image = ImageOps.exif_transpose(image)
        rgb = _to_rgb(image)
    except MediaError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as err:
        raise MediaError(f"Image {_describe(src)} is truncated or corrupt: {err}") from err
    fitted = _fit_for_padding(rgb, limits.max_aspect_ratio, limits.max_pixels)
    return _pad_to_aspect(fitted, limits.max_aspect_ratio)


# ----------------------------------------------------------------------------------------- audio


def _read_audio_file(src: str | os.PathLike | bytes, limits: MediaLimits) -> tuple[np.ndarray, int]:
    """Read an audio file with soundfile; returns (frames x channels float32, sample rate)."""
    name = _describe(src) if not isinstance(src, bytes) else "the uploaded audio"
    if isinstance(src, (str, os.PathLike)) and not Path(src).is_file():
        raise MediaError(f"Audio file not found: {src}")
    source: Any = io.BytesIO(src) if isinstance(src, bytes) else str(src)
    try:
        with soundfile.SoundFile(source) as handle:
            rate, frames, channels = handle.samplerate, handle.frames, handle.channels
            if channels > limits.max_audio_channels:
                raise MediaError(
                    f"Audio {name} has {channels} channels; at most {limits.max_audio_channels} "
                    "are accepted"
                )
            if rate > 0 and frames / rate > limits.max_audio_seconds:
                raise MediaError(
                    f"Audio {name} is {frames / rate:.1f} s long, over the limit of "
                    f"{limits.max_audio_seconds:g} s; trim it and try again"
                )
            data = handle.read(dtype="float32", always_2d=True)
    except MediaError:
        raise
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        # libsndfile quotes the full path; a visitor sees only the file's name, not server folders.
        detail = str(err).replace(str(src), Path(src).name) if isinstance(src, (str, os.PathLike)) else str(err)
        raise MediaError(
            f"Could not read audio {name}: {detail.rstrip('.')}. Supported formats: "
            f"{', '.join(AUDIO_EXTENSIONS)} (anything libsndfile reads)"
        ) from err
    return data, rate


def _as_frames(samples: Any) -> np.ndarray:
    """Samples as a float32 (frames, channels) array; int PCM is scaled to [-1, 1]."""
    array = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    if array.ndim == 1:
        array = array[:, None]  # (frames,) -> (frames, 1)
    elif array.ndim == 2 and array.shape[0] < array.shape[1] and array.shape[0] <= 16:
        array = array.T  # (channels, frames) -> (frames, channels)
    elif array.ndim != 2:
        raise MediaError(f"Audio samples must be 1-D or 2-D; got shape {array.shape}")
    if np.issubdtype(array.dtype, np.integer):
        scale = float(np.iinfo(array.dtype).max) + 1.0
        return array.astype(np.float32) / scale
    if not np.issubdtype(array.dtype, np.floating):
        raise MediaError(f"Unsupported audio sample dtype {array.dtype}")
    return array.astype(np.float32, copy=False)


def load_audio(
    src: AudioInput,
    sample_rate: int,
    limits: MediaLimits | None = None,
    *,
    source_rate: int | None = None,
) -> np.ndarray:
    """Load ``src`` as mono float32 samples at ``sample_rate``.

    Args:
        src: a file path or bytes (wav, flac, ogg, …), a ``(rate, samples)`` tuple as Gradio gives,
            or a numpy array / tensor of samples (at ``source_rate``, default ``sample_rate``).
        sample_rate: the rate the model expects; other rates are resampled with torchaudio.
        limits: duration and channel limits.

    Raises:
        MediaError: unreadable or unsupported file, no samples, NaN/inf samples, over a limit.
    """
    limits = limits or DEFAULT_LIMITS
    if isinstance(src, (str, os.PathLike, bytes, bytearray)):
        frames, rate = _read_audio_file(bytes(src) if isinstance(src, bytearray) else src, limits)
    elif isinstance(src, tuple):
        if len(src) != 2 or not isinstance(src[0], (int, np.integer)):
            raise MediaError("An audio tuple must be (sample_rate, samples)")
        rate, frames = int(src[0]), _as_frames(src[1])
    elif isinstance(src, (np.ndarray, torch.Tensor)):
        rate, frames = int(source_rate or sample_rate), _as_frames(src)
    else:
        raise MediaError(
            f"Unsupported audio input of type {type(src).__name__}; pass a file path, bytes, "
            "a (sample_rate, samples) tuple or an array"
        )
    if rate <= 0:
        raise MediaError(f"Invalid audio sample rate {rate}")
    if frames.shape[1] > limits.max_audio_channels:
        raise MediaError(
            f"Audio has {frames.shape[1]} channels; at most {limits.max_audio_channels} are accepted"
        )
    if frames.shape[0] == 0:
        raise MediaError("The audio clip is empty (no samples)")
    seconds = frames.shape[0] / rate
    if seconds > limits.max_audio_seconds:
        raise MediaError(
            f"The audio clip is {seconds:.1f} s long, over the limit of "
            f"{limits.max_audio_seconds:g} s; trim it and try again"
        )
    if not np.isfinite(frames).all():
        raise MediaError("The audio clip contains NaN or infinite samples")
    mono = frames.mean(axis=1)  # (frames, channels) -> (frames,)
    if rate != sample_rate:
        waveform = torch.from_numpy(np.ascontiguousarray(mono))
        mono = AF.resample(waveform, orig_freq=rate, new_freq=sample_rate).numpy()
    return np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False)


# ------------------------------------------------------------------------------------------ text


def clean_text(text: Any, limits: MediaLimits | None = None, *, what: str = "text") -> str:
    """Strip ``text`` and check it is neither empty nor over the length limit."""
    limits = limits or DEFAULT_LIMITS
    if not isinstance(text, str):
        raise MediaError(f"The {what} must be a string, not {type(text).__name__}")
    stripped = " ".join(text.split())
    if not stripped:
        raise MediaError(f"The {what} is empty; type something first")
    if len(stripped) > limits.max_text_chars:
        raise MediaError(
            f"The {what} is {len(stripped):,} characters long, over the limit of "
            f"{limits.max_text_chars:,}"
        )
    return stripped
