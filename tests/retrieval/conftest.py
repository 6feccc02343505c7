"""Fixtures for the retrieval tests: a fake embedder and small media folders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image

from mmdemo.errors import MediaError
from mmdemo.retrieval.embedder import Embedder

FAKE_DIM = 8
BROKEN = b"BROKEN"


@dataclass
class FakeOutput:
    embeddings: torch.Tensor
    model: str
    space: str
    indices: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


def fake_vector(content: bytes) -> torch.Tensor:
    """A deterministic unit vector for some content."""
    seed = int.from_bytes(hashlib.sha256(content).digest()[:8], "little")
    vector = torch.randn(FAKE_DIM, generator=torch.Generator().manual_seed(seed))
    return vector / vector.norm()


def _content(modality: str, item: Any) -> bytes:
    if modality == "text":
        return item.encode("utf-8")
    if isinstance(item, (str, Path)):
        return Path(item).read_bytes()
    return repr(item).encode()


class FakeEmbedder(Embedder):
    """Embeds by hashing content; inputs whose bytes start with ``BROKEN`` are unreadable.

    ``calls`` records (modality, number of inputs) per call; ``skip_support=False`` mimics an
    embedder that fails a whole batch on one bad input.
    """

    def __init__(self, model: str = "fake-clip", audio_model: str = "fake-audio", space: str = "fake-space",
                 skip_support: bool = True) -> None:
        self.calls: list[tuple[str, int]] = []
        self.skip_support = skip_support
        names = {"image": model, "text": model, "audio": audio_model}
        functions = {m: self._make(m, names[m], space) for m in names}
        super().__init__(functions, models=names)

    def _make(self, modality: str, model: str, space: str):
        def embed(inputs: list[Any], *, skip_errors: bool = False) -> FakeOutput:
            self.calls.append((modality, len(inputs)))
            vectors, indices, errors = [], [], {}
            for i, item in enumerate(inputs):
                content = _content(modality, item)
                if content.startswith(BROKEN):
                    if not (skip_errors and self.skip_support):
                        raise MediaError(f"Input {i}: cannot decode it")
                    errors[i] = "cannot decode it"
                    continue
                vectors.append(fake_vector(content))
                indices.append(i)
            if not vectors:
                raise MediaError("None of the inputs could be used")
            return FakeOutput(torch.stack(vectors), model, space, indices, errors)

        return embed

    def embedded(self, modality: str | None = None) -> int:
        return sum(n for m, n in self.calls if modality is None or m == modality)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


def write_png(path: Path, colour: tuple[int, int, int], size: int = 24) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (size, size), colour)
    for x in range(0, size, 3):  # some structure so that images differ beyond their colour
        image.putpixel((x, (x * 7) % size), (255 - colour[0], colour[1], 255 - colour[2]))
    image.save(path)
    return path


def write_wav(path: Path, frequency: float, seconds: float = 0.5, rate: int = 16_000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), rate)
    return path


@pytest.fixture
def media_folder(tmp_path: Path) -> Path:
    """A small folder: 5 images (2 in sub-folders), 2 audio clips, 2 texts, 1 broken image, 1 other file."""
    root = tmp_path / "media"
    write_png(root / "red.png", (220, 30, 30))
    write_png(root / "green.png", (30, 220, 30))
    write_png(root / "blue.png", (30, 30, 220))
    write_png(root / "cats" / "cat1.png", (200, 200, 30))
    write_png(root / "cats" / "cat2.png", (30, 200, 200))
    write_wav(root / "sounds" / "low.wav", 220.0)
    write_wav(root / "sounds" / "high.wav", 880.0)
    (root / "notes").mkdir()
    (root / "notes" / "a.txt").write_text("a red square", encoding="utf-8")
    (root / "notes" / "b.txt").write_text("a blue square", encoding="utf-8")
    (root / "broken.png").write_bytes(BROKEN + b" not a png")
    (root / "readme.md").write_text("not media", encoding="utf-8")
    (root / ".hidden.png").write_bytes(BROKEN)
    return root
