"""The offline preset's speech road: Whisper tiny.en transcribes espeak-ng speech, and a spoken query
retrieves the photo it names from a retrieval index of real photos."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import mmdemo
from mmdemo.registry import active_preset, use_preset
from mmdemo.retrieval import RetrievalIndex, default_embedder
from tests.inputs.real_photos import real_photos

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (.ci/run installs it)"
)


def speak(text: str, path: Path, voice: str = "en") -> Path:
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True)
    return path


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^a-z ]", " ", text.lower()).split())


@pytest.fixture(scope="module")
def offline():
    before = active_preset()
    use_preset("offline")
    yield
    use_preset(before)


def test_whisper_transcribes_the_spoken_sentence(offline, tmp_path):
    clips = [speak("the coffee cup on the table", tmp_path / f"{voice}.wav", voice) for voice in ("en", "en-us")]
    result = mmdemo.embed_audio([str(clip) for clip in clips])
    assert result.model == "offline-whisper-tiny-en" and result.space == "offline-conse"
    assert [normalise(t) for t in result.transcripts] == ["the coffee cup on the table"] * 2
    spoken = result.embeddings[0]
    written = mmdemo.embed_texts([result.transcripts[0]]).embeddings[0]
    assert float(spoken @ written) == pytest.approx(1.0, abs=1e-4)  # the transcript's own text vector


def test_a_spoken_query_retrieves_the_photo_it_names(offline, tmp_path):
    photos = real_photos()
    paths = []
    for name, photo in photos.items():
        paths.append(tmp_path / f"{name}.png")
        photo.save(paths[-1])
    index = RetrievalIndex(embedder=default_embedder())
    report = index.add_files([str(p) for p in paths])
    assert not report.failed and len(index) == len(photos)
    for text, expected in (("the coffee cup on the table", "coffee"), ("show me a motorcycle", "motorcycle")):
        query = speak(text, tmp_path / f"{expected}-query.wav")
        hit = index.search_audio(str(query), k=1).hits[0]
        assert Path(hit.source).stem == expected, (text, hit)
