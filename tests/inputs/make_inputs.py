"""Generate every hostile or unusual input the reliability tests feed to mmdemo and the app.

Nothing here is a committed binary: each file is built by a function below, so the inputs are
reviewable and reproducible. Run it to get the whole set in a folder::

    python tests/inputs/make_inputs.py OUT_DIR            # every input
    python tests/inputs/make_inputs.py OUT_DIR --only audio_nan image_bomb
    python tests/inputs/make_inputs.py --list             # names, expectations, descriptions

Each :class:`InputCase` says what must happen to it with the default
:class:`~mmdemo.media.MediaLimits`: ``expect="ok"`` (it must work and give a result) or
``expect="error"`` (it must be refused with a message matching ``message``, a regular expression
that mmdemo's own error message matches).
"""

from __future__ import annotations

import argparse
import io
import json
import stat
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
from PIL import Image

KINDS = ("image", "audio", "text", "manifest", "archive")
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
AUDIO_RATE = 16_000


@dataclass(frozen=True)
class InputCase:
    """One generated input.

    Attributes:
        name: unique id (also the test id).
        kind: ``image``, ``audio``, ``text``, ``manifest`` or ``archive``.
        filename: file name inside the output folder.
        expect: ``"ok"`` (must work) or ``"error"`` (must be refused with a clear message).
        message: regular expression the refusal message matches (empty for ``ok``).
        description: what the input is.
    """

    name: str
    kind: str
    filename: str
    expect: str
    message: str
    description: str


# --------------------------------------------------------------------------------------- helpers


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _blank_png(width: int, height: int) -> bytes:
    """A complete, valid 1-bit PNG of width x height black pixels.

    The pixel data is all zeros, so it compresses about 1000:1: a file of a few kilobytes that
    decodes to ``width * height`` pixels (a decompression bomb when that number is large).
    """
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed 1-bit pixels
    compressor = zlib.compressobj(9)
    parts = []
    rows_per_block = max(1, (1 << 22) // len(row))
    for start in range(0, height, rows_per_block):
        parts.append(compressor.compress(row * min(rows_per_block, height - start)))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts)) + _png_chunk(b"IEND", b"")
    )


def _noise_png(size: tuple[int, int] = (64, 64), seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _save(image: Image.Image, path: Path, **kwargs) -> None:
    image.save(path, **kwargs)


def _tone(seconds: float, rate: int = AUDIO_RATE, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _zip(path: Path, entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)


def _symlink_entry(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the upper 16 bits of external_attr are st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def _dataset_files(folder: Path) -> None:
    """Two small images next to the manifests, so only the intended fault makes a row bad."""
    folder.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), RED).save(folder / "red.png")
    Image.new("RGB", (16, 16), BLUE).save(folder / "blue.png")


# ---------------------------------------------------------------------------------------- images


def image_bomb(path: Path) -> None:
    path.write_bytes(_blank_png(20_000, 20_000))  # 400 million pixels in about 50 KB


def image_over_pixel_limit(path: Path) -> None:
    path.write_bytes(_blank_png(8_000, 8_000))  # 64 Mpx: over mmdemo's limit, under PIL's bomb limit


def image_truncated(path: Path) -> None:
    data = _noise_png()
    path.write_bytes(data[: len(data) // 2])


def image_corrupt(path: Path) -> None:
    data = bytearray(_noise_png())
    start = data.index(b"IDAT") + 4
    data[start + 16 : start + 400] = bytes(range(256)) + bytes(range(128))  # garbage pixel data
    path.write_bytes(bytes(data))


def image_not_an_image(path: Path) -> None:
    path.write_text("This is a text file with an image extension.\n" * 20, encoding="utf-8")


def image_1x1(path: Path) -> None:
    _save(Image.new("RGB", (1, 1), RED), path)


def image_wide(path: Path) -> None:
    _save(Image.new("RGB", (20_000, 2), RED), path)


def image_tall(path: Path) -> None:
    _save(Image.new("RGB", (1, 5_000), BLUE), path)


def image_16bit(path: Path) -> None:
    ramp = np.linspace(0, 60_000, 64 * 64).reshape(64, 64).astype(np.uint16)
    _save(Image.fromarray(ramp), path)  # mode I;16


def image_cmyk(path: Path) -> None:
    _save(Image.new("CMYK", (32, 32), (0, 255, 255, 0)), path, quality=95)  # CMYK red


def image_palette(path: Path) -> None:
    palette = Image.new("P", (32, 32), 0)
    palette.putpalette(list(GREEN) + list(RED) + [0] * 762)
    for x in range(16):
        for y in range(32):
            palette.putpixel((x, y), 1)
    _save(palette, path)


def image_alpha(path: Path) -> None:
    image = Image.new("RGBA", (32, 32), (255, 0, 0, 0))  # transparent
    for x in range(16):
        for y in range(32):
            image.putpixel((x, y), (0, 0, 255, 255))  # opaque blue left half
    _save(image, path)


def image_exif_rotated(path: Path) -> None:
    image = Image.new("RGB", (40, 20), RED)
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    _save(image, path, exif=exif, quality=95)


def image_animated_gif(path: Path) -> None:
    frames = [Image.new("RGB", (24, 24), colour) for colour in (RED, GREEN, BLUE)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=80, loop=0)


# ----------------------------------------------------------------------------------------- audio


def audio_empty(path: Path) -> None:
    soundfile.write(path, np.zeros(0, dtype=np.float32), AUDIO_RATE, subtype="PCM_16")


def audio_one_sample(path: Path) -> None:
    soundfile.write(path, np.array([0.25], dtype=np.float32), AUDIO_RATE, subtype="PCM_16")


def audio_silent(path: Path) -> None:
    soundfile.write(path, np.zeros(AUDIO_RATE, dtype=np.float32), AUDIO_RATE, subtype="PCM_16")


def audio_nan(path: Path) -> None:
    samples = _tone(0.5)
    samples[::7] = np.nan
    soundfile.write(path, samples, AUDIO_RATE, subtype="FLOAT")  # float WAV keeps the NaNs


def audio_8_channels(path: Path) -> None:
    tone = _tone(0.5)
    soundfile.write(path, np.stack([tone] * 8, axis=1), AUDIO_RATE, subtype="PCM_16")


def audio_96khz(path: Path) -> None:
    soundfile.write(path, _tone(0.5, rate=96_000, freq=1_000.0), 96_000, subtype="PCM_16")


def audio_too_long(path: Path) -> None:
    rate = 8_000
    soundfile.write(path, np.tile(_tone(1.0, rate=rate), 65), rate, format="FLAC")  # 65 s > 60 s


def audio_unsupported(path: Path) -> None:
    # An AAC/ADTS stream: a real format that libsndfile (and so mmdemo) does not decode.
    frame_length = 7 + 64
    header = bytes([
        0xFF, 0xF1,  # sync word, MPEG-4, layer 0, no CRC
        0x50,  # AAC LC, 44.1 kHz
        0x80 | ((frame_length >> 11) & 0x03),  # 2 channels
        (frame_length >> 3) & 0xFF,
        ((frame_length & 0x07) << 5) | 0x1F,
        0xFC,
    ])
    path.write_bytes((header + bytes(64)) * 40)


# ------------------------------------------------------------------------------------------ text


def text_empty(path: Path) -> None:
    path.write_text("", encoding="utf-8")


def text_whitespace(path: Path) -> None:
    path.write_text("   \n\t  \u00a0 \u2003\n", encoding="utf-8")


def text_100k(path: Path) -> None:
    words = "a red circle on the left and a blue square on the right "
    path.write_text((words * (100_000 // len(words) + 1))[:100_000], encoding="utf-8")


def text_mixed_script(path: Path) -> None:
    path.write_text(
        "a red circle \u2014 un cercle rouge, \u8d64\u3044\u5186, \u043a\u0440\u0430\u0441\u043d\u044b\u0439 "
        "\u043a\u0440\u0443\u0433, \u062f\u0627\u0626\u0631\u0629 \u062d\u0645\u0631\u0627\u0621, "
        "\u05e2\u05d9\u05d2\u05d5\u05dc \u05d0\u05d3\u05d5\u05dd \U0001f534 e\u0301",
        encoding="utf-8",
    )


# ------------------------------------------------------------------------------------- manifests


def manifest_missing_files(path: Path) -> None:
    _dataset_files(path.parent)
    path.write_text(
        "text,image,label\n"
        "a red square,no_such_image.png,red\n"
        "a blue square,images/also_missing.png,blue\n"
        "a green square,/definitely/not/here.png,green\n",
        encoding="utf-8",
    )


def manifest_wrong_columns(path: Path) -> None:
    _dataset_files(path.parent)
    path.write_text("caption,picture,class\na red square,red.png,red\n", encoding="utf-8")


def manifest_bad_labels(path: Path) -> None:
    _dataset_files(path.parent)
    rows = [
        {"text": "a red square", "image": "red.png", "label": ["red", "blue"]},
        {"text": "a blue square", "image": "blue.png", "label": {"colour": "blue"}},
        {"text": "a red thing", "image": "red.png", "label": "   "},
        {"text": "a blue thing", "image": "blue.png"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{not json\n", encoding="utf-8")


# -------------------------------------------------------------------------------------- archives


def _manifest_bytes() -> bytes:
    return b"text,image,label\na red square,images/red.png,red\na blue square,images/blue.png,blue\n"


def _png(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def zip_ok(path: Path) -> None:
    _zip(path, [
        ("data/manifest.csv", _manifest_bytes()),
        ("data/images/red.png", _png(RED)),
        ("data/images/blue.png", _png(BLUE)),
    ])


def zip_traversal(path: Path) -> None:
    _zip(path, [("data/manifest.csv", _manifest_bytes()), ("data/../../evil.txt", b"escaped")])


def zip_backslash_traversal(path: Path) -> None:
    _zip(path, [("data/manifest.csv", _manifest_bytes()), ("..\\..\\evil.txt", b"escaped")])


def zip_absolute(path: Path) -> None:
    _zip(path, [("data/manifest.csv", _manifest_bytes()), ("/tmp/mmdemo-evil.txt", b"escaped")])


def zip_symlink(path: Path) -> None:
    _zip(path, [("data/manifest.csv", _manifest_bytes()), _symlink_entry("data/passwd", "/etc/passwd")])


def zip_bomb(path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open("data/zeros.bin", "w", force_zip64=True) as handle:
            block = b"\x00" * (1 << 20)
            for _ in range(300):  # 300 MiB of zeros in well under 1 MiB
                handle.write(block)


def zip_too_many_entries(path: Path) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for index in range(10_001):
            archive.writestr(f"data/f{index:05d}.txt", b"")


def zip_not_a_zip(path: Path) -> None:
    path.write_text("this is not a zip archive\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------- catalog

_C = InputCase
CASES: tuple[InputCase, ...] = (
    _C("image_bomb", "image", "bomb.png", "error", r"decompression bomb|pixels, over the limit",
       "valid 1-bit PNG of 20000x20000 pixels in ~50 KB"),
    _C("image_over_pixel_limit", "image", "over_pixel_limit.png", "error", r"pixels, over the limit",
       "valid PNG of 8000x8000 pixels: over max_pixels, under PIL's own bomb threshold"),
    _C("image_truncated", "image", "truncated.png", "error", r"truncated or corrupt",
       "first half of a valid PNG"),
    _C("image_corrupt", "image", "corrupt.png", "error", r"truncated or corrupt",
       "PNG whose pixel data was overwritten (bad CRC and zlib stream)"),
    _C("image_not_an_image", "image", "not_an_image.png", "error", r"not an image",
       "a text file named .png"),
    _C("image_1x1", "image", "one_pixel.png", "ok", "", "a single red pixel"),
    _C("image_wide", "image", "wide.png", "ok", "", "20000x2 red strip (aspect ratio 10000)"),
    _C("image_tall", "image", "tall.png", "ok", "", "1x5000 blue strip"),
    _C("image_16bit", "image", "grey16.png", "ok", "", "16-bit greyscale ramp (mode I;16)"),
    _C("image_cmyk", "image", "cmyk.jpg", "ok", "", "CMYK JPEG, red"),
    _C("image_palette", "image", "palette.png", "ok", "", "palette (P mode) PNG, red and green halves"),
    _C("image_alpha", "image", "alpha.png", "ok", "", "RGBA PNG: opaque blue left, transparent right"),
    _C("image_exif_rotated", "image", "exif_rotated.jpg", "ok", "",
       "40x20 JPEG with EXIF orientation 6 (shows as 20x40)"),
    _C("image_animated_gif", "image", "animated.gif", "ok", "", "3-frame GIF: red, green, blue"),
    _C("audio_empty", "audio", "empty.wav", "error", r"empty", "WAV with no samples"),
    _C("audio_one_sample", "audio", "one_sample.wav", "ok", "", "WAV with a single sample"),
    _C("audio_silent", "audio", "silent.wav", "ok", "", "one second of digital silence"),
    _C("audio_nan", "audio", "nan.wav", "error", r"NaN", "float32 WAV with NaN samples"),
    _C("audio_8_channels", "audio", "eight_channels.wav", "ok", "", "8-channel 440 Hz tone"),
    _C("audio_96khz", "audio", "tone_96k.wav", "ok", "", "1 kHz tone sampled at 96 kHz"),
    _C("audio_too_long", "audio", "too_long.flac", "error", r"over the limit",
       "65-second FLAC (limit: 60 s)"),
    _C("audio_unsupported", "audio", "unsupported.aac", "error", r"Could not read audio|Supported formats",
       "AAC/ADTS stream (not decodable by libsndfile)"),
    _C("text_empty", "text", "empty.txt", "error", r"empty", "empty string"),
    _C("text_whitespace", "text", "whitespace.txt", "error", r"empty", "spaces, tabs, newlines, NBSP"),
    _C("text_100k", "text", "long_100k.txt", "error", r"100,000 characters long, over the limit",
       "100 000 characters"),
    _C("text_mixed_script", "text", "mixed_script.txt", "ok", "",
       "Latin, CJK, Cyrillic, Arabic, Hebrew, emoji and a combining accent"),
    _C("manifest_missing_files", "manifest", "manifests/missing_files.csv", "error", r"file not found",
       "CSV whose image files do not exist"),
    _C("manifest_wrong_columns", "manifest", "manifests/wrong_columns.csv", "error",
       r"none of the modality columns", "CSV without text/image/audio columns"),
    _C("manifest_bad_labels", "manifest", "manifests/bad_labels.jsonl", "error",
       r"holds a list|holds a dict|no label|invalid JSON", "JSONL with list, dict, blank and missing labels"),
    _C("zip_ok", "archive", "ok.zip", "ok", "", "a small data set: manifest and two images"),
    _C("zip_traversal", "archive", "traversal.zip", "error", r"'\.\.'", "entry 'data/../../evil.txt'"),
    _C("zip_backslash_traversal", "archive", "backslash_traversal.zip", "error", r"'\.\.'",
       "entry '..\\..\\evil.txt'"),
    _C("zip_absolute", "archive", "absolute.zip", "error", r"absolute path", "entry '/tmp/mmdemo-evil.txt'"),
    _C("zip_symlink", "archive", "symlink.zip", "error", r"symbolic link", "symlink entry to /etc/passwd"),
    _C("zip_bomb", "archive", "bomb.zip", "error", r"compression ratio|too large",
       "300 MiB of zeros compressed to about 300 KB"),
    _C("zip_too_many_entries", "archive", "many_entries.zip", "error", r"entries", "10 001 empty files"),
    _C("zip_not_a_zip", "archive", "not_a_zip.zip", "error", r"not a zip", "a text file named .zip"),
)

BUILDERS: dict[str, Callable[[Path], None]] = {case.name: globals()[case.name] for case in CASES}
BY_NAME: dict[str, InputCase] = {case.name: case for case in CASES}


def cases(kind: str | None = None, expect: str | None = None) -> list[InputCase]:
    """The catalog, optionally filtered by kind and expectation."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; valid kinds: {list(KINDS)}")
    return [c for c in CASES if (kind is None or c.kind == kind) and (expect is None or c.expect == expect)]


def make_input(name: str, folder: str | Path) -> Path:
    """Build the input ``name`` in ``folder`` (if it is not there yet) and return its path."""
    if name not in BY_NAME:
        raise ValueError(f"Unknown input {name!r}; valid names: {sorted(BY_NAME)}")
    path = Path(folder) / BY_NAME[name].filename
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        BUILDERS[name](path)
    return path


def make_inputs(folder: str | Path, names: list[str] | None = None) -> dict[str, Path]:
    """Build the named inputs (default: all) in ``folder``; returns name -> path."""
    return {name: make_input(name, folder) for name in (names or list(BY_NAME))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the reliability tests' bad and unusual inputs.")
    parser.add_argument("out", nargs="?", help="output folder")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="build only these inputs")
    parser.add_argument("--list", action="store_true", help="list the inputs and exit")
    args = parser.parse_args(argv)
    if args.list:
        for case in CASES:
            print(f"{case.name:26s} {case.kind:9s} {case.expect:6s} {case.description}")
        return 0
    if not args.out:
        parser.error("give an output folder (or --list)")
    try:
        paths = make_inputs(args.out, args.only)
    except ValueError as err:
        parser.error(str(err))
    for name, path in paths.items():
        print(f"{name:26s} {path.stat().st_size:>10,d} B  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
