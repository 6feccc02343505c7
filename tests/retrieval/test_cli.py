"""``python -m mmdemo index``: help, build, query, info, remove and eval on a small folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmdemo.cli.index import main
from mmdemo.errors import IncompatibleError
from mmdemo.retrieval import RetrievalIndex

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [[], ["build"], ["query"], ["info"], ["remove"], ["eval"]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m mmdemo index")
    if command == ["query"]:
        assert "--text" in out and "--image" in out and "--audio" in out and "--modality" in out


def test_help_through_the_package_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "mmdemo", "index", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "{build,query,info,remove,eval}" in done.stdout


def test_usage_errors_exit_with_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["query", str(tmp_path), "--text", "x", "--image", "y.png"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["build", str(tmp_path / "nope"), "--out", str(tmp_path / "ix")])
    assert "not a folder" in capsys.readouterr().err


def test_build_query_info_remove(media_folder: Path, tiny_models, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "photos.index"
    models = ["--model", tiny_models.clip, "--audio-model", tiny_models.audio]
    assert main(["build", str(media_folder), "--out", str(out), *models, "--batch-size", "2", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "9 added, 0 unchanged, 1 failed, 1 ignored" in printed
    assert "skipped" in printed and "broken.png" in printed
    assert "Saved" in printed and "2 text, 5 image, 2 audio" in printed

    # A second build embeds nothing new.
    assert main(["build", str(media_folder), "--out", str(out), "--quiet"]) == 0
    assert "0 added, 9 unchanged" in capsys.readouterr().out

    red = media_folder / "red.png"
    assert main(["query", str(out), "--image", str(red), "--k", "3", "--modality", "image"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3 results (exact")
    assert lines[1].startswith("  1.  1.0000  image") and lines[1].endswith(str(red.resolve()))

    assert main(["query", str(out), "--text", "a red square", "--k", "20", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["hits"]) == 9 and data["model"] == tiny_models.clip and data["query_modality"] == "text"
    assert data["hits"][0]["source"].endswith("a.txt")  # the same text, embedded identically

    assert main(["query", str(out), "--audio", str(media_folder / "sounds" / "high.wav"), "--modality", "audio", "--k", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith("high.wav [sounds]")

    with pytest.raises(IncompatibleError, match="not 'tiny-openclip'"):
        main(["query", str(out), "--text", "x", "--model", tiny_models.open_clip])

    assert main(["info", str(out), "--items"]) == 0
    info = capsys.readouterr().out
    assert "9 items (2 text, 5 image, 2 audio)" in info and "[cats]" in info

    assert main(["remove", str(out), str(red.resolve())]) == 0
    assert "Removed 1 items; 8 left" in capsys.readouterr().out
    assert str(red.resolve()) not in RetrievalIndex.load(out)


@pytest.mark.parametrize("flag", ["--method", "--backend"])  # --backend: the deprecated alias
def test_build_with_the_approximate_method_reports_its_recall(flag: str, media_folder: Path, tiny_models, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ix"
    args = ["build", str(media_folder), "--out", str(out), "--model", tiny_models.clip, "--audio-model",
            tiny_models.audio, flag, "approx", "--dtype", "bfloat16", "--quiet"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "recall@10 against exact search: 1.000" in captured.out
    assert ("--backend is deprecated; use --method" in captured.err) == (flag == "--backend")
    loaded = RetrievalIndex.load(out)
    assert loaded.config.storage_dtype == "bfloat16" and loaded.info().approx_built
    assert loaded.config.method == "approx"
    assert main(["query", str(out), "--text", "a red square", "--k", "2", flag, "exact", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "exact"


def test_eval_on_a_manifest(media_folder: Path, tiny_models, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = media_folder / "pairs.jsonl"
    rows = [
        {"text": "a red square", "image": "red.png", "audio": "sounds/low.wav"},
        {"text": "a green square", "image": "green.png", "audio": "sounds/high.wav"},
        {"text": "a blue square", "image": "blue.png", "audio": "sounds/low.wav"},
    ]
    manifest.write_text("\n".join(json.dumps(row) for row in rows) + "\n{broken\n", encoding="utf-8")
    report = tmp_path / "eval.json"
    code = main(["eval", "--pairs", str(manifest), "--model", tiny_models.clip, "--audio-model", tiny_models.audio,
                 "--directions", "text-image,audio-text", "--json", str(report)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| direction | queries | gallery | R@1 | R@5 | R@10 | median rank |" in printed
    assert "| text->image | 3 | 3 |" in printed and "| audio->text | 3 | 3 |" in printed
    assert "skipped line 4: invalid JSON" in printed
    saved = json.loads(report.read_text())
    assert set(saved["results"]) == {"text->image", "audio->text"}
    assert saved["results"]["text->image"]["recall"]["R@10"] == 1.0
    with pytest.raises(SystemExit):
        main(["eval", "--pairs", str(manifest), "--directions", "text-video"])


def test_an_interrupted_build_saves_and_resumes(media_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mmdemo.cli import index as cli

    from .conftest import FakeEmbedder

    class Interrupting(FakeEmbedder):
        def embed(self, modality, inputs, *, skip_errors=False):
            if len(self.calls) == 2:
                raise KeyboardInterrupt
            return super().embed(modality, inputs, skip_errors=skip_errors)

    out = tmp_path / "ix"
    monkeypatch.setattr(cli, "default_embedder", lambda *args, **kwargs: Interrupting())
    assert main(["build", str(media_folder), "--out", str(out), "--batch-size", "2", "--quiet"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert len(RetrievalIndex.load(out)) == 3

    resumed = FakeEmbedder()
    monkeypatch.setattr(cli, "default_embedder", lambda *args, **kwargs: resumed)
    assert main(["build", str(media_folder), "--out", str(out), "--batch-size", "2", "--quiet"]) == 0
    assert "6 added, 3 unchanged, 1 failed" in capsys.readouterr().out
    assert resumed.embedded() == 7  # the 6 remaining inputs and the broken one; nothing twice
    assert len(RetrievalIndex.load(out)) == 9


def test_eval_on_the_bundled_world(tiny_models, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "--world", "--n", "4", "--model", tiny_models.clip, "--audio-model", tiny_models.audio]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("bundled world, test split, 4 samples (seed 0): 4 pairs")
    for direction in ("text->image", "image->text", "audio->image", "audio->text"):
        assert f"| {direction} | 4 | 4 |" in printed


def test_prune_removes_items_whose_files_are_gone(media_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from mmdemo.cli import index as cli

    from .conftest import FakeEmbedder

    monkeypatch.setattr(cli, "default_embedder", lambda *args, **kwargs: FakeEmbedder())
    out = tmp_path / "ix"
    assert main(["build", str(media_folder), "--out", str(out), "--quiet"]) == 0
    (media_folder / "green.png").unlink()
    assert main(["build", str(media_folder), "--out", str(out), "--quiet"]) == 0
    assert len(RetrievalIndex.load(out)) == 9  # without --prune the item stays
    assert main(["build", str(media_folder), "--out", str(out), "--prune", "--quiet"]) == 0
    assert "Pruned 1 items whose files are gone" in capsys.readouterr().out
    assert len(RetrievalIndex.load(out)) == 8
    with pytest.raises(SystemExit):
        main(["build", str(media_folder), "--out", str(out), "--batch-size", "0"])


def test_an_index_of_real_photos_on_the_offline_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``mmdemo index`` over the shipped real photos with the offline preset's models: a text query
    and a spoken one (espeak-ng, transcribed by Whisper) find the photo they name."""
    import shutil

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea.jpg", "coffee.jpg", "rocket.jpg", "astronaut.jpg"):
        shutil.copy(REPO / "assets" / "examples" / "photos" / name, photos / name)
    out = tmp_path / "photos.index"
    models = ["--model", "offline-conse", "--audio-model", "offline-whisper-tiny-en"]
    assert main(["build", str(photos), "--out", str(out), *models, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["query", str(out), "--text", "a cup of coffee", "--k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["source"].endswith("coffee.jpg")
    spoken = REPO / "assets" / "examples" / "speech" / "coffee_cup.wav"  # "the coffee cup on the table"
    assert main(["query", str(out), "--audio", str(spoken), "--k", "1", "--modality", "image", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["source"].endswith("coffee.jpg")
