"""Manifest parsing: good rows are kept, bad rows are reported with their line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmdemo.training.manifest import read_manifest
from mmdemo.errors import ManifestError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "a.png").write_bytes(b"not checked here")
    (tmp_path / "b.wav").write_bytes(b"nor here")
    return tmp_path


def test_csv_with_broken_rows_keeps_the_good_ones(files: Path) -> None:
    manifest = read_manifest(
        write(
            files / "data.csv",
            "text,image,audio,label,topic\n"            # line 1
            "a cat,img/a.png,,cat,animals\n"           # 2 good (relative path)
            "a dog,,b.wav,dog,\n"                      # 3 good (topic unlabelled)
            "extra,img/a.png,,cat,animals,oops\n"      # 4 bad: 6 fields
            "missing,img/zzz.png,,cat,animals\n"       # 5 bad: file not found
            ",,,cat,animals\n"                         # 6 bad: no modality
            "no label,,,,\n"                           # 7 bad: no label (and no media, text only)
            "\n"                                       # 8 blank: ignored
            '"multi\nline",,,dog,animals\n'            # 9-10 good, starts on line 9
            "short,cat\n",                             # 11 bad: too few fields
        )
    )
    assert [row.line for row in manifest.rows] == [2, 3, 9]
    assert manifest.rows[0].image == files / "img" / "a.png"
    assert manifest.rows[1].audio == files / "b.wav"
    assert manifest.rows[1].labels == {"label": "dog", "topic": None}
    assert manifest.rows[2].text == "multi\nline"
    assert manifest.label_columns == ["label", "topic"]
    assert manifest.modalities == ["text", "image", "audio"]
    bad = {row.line: row.reason for row in manifest.bad_rows}
    assert sorted(bad) == [4, 5, 6, 7, 11]
    assert "6 fields" in bad[4] and "header has 5" in bad[4]
    assert "image file not found: img/zzz.png" in bad[5]
    assert "at least one modality" in bad[6]
    assert "no label" in bad[7]
    assert "2 fields" in bad[11]
    report = manifest.report()
    assert "3 usable rows, 5 skipped" in report and "line 5: image file not found" in report


def test_jsonl_reports_invalid_lines_and_reads_numbers_as_labels(files: Path) -> None:
    lines = [
        json.dumps({"text": "hello", "label": 1, "split": "train"}),
        "{not json",
        json.dumps(["a", "list"]),
        "",
        json.dumps({"image": "img/a.png", "label": 0, "split": "Validation"}),
        json.dumps({"text": "x", "label": 1, "split": "holdout"}),
        json.dumps({"text": {"nested": 1}, "label": 1}),
    ]
    manifest = read_manifest(write(files / "data.jsonl", "\n".join(lines) + "\n"))
    assert [(row.line, row.labels["label"], row.split) for row in manifest.rows] == [(1, "1", "train"), (5, "0", "val")]
    bad = {row.line: row.reason for row in manifest.bad_rows}
    assert sorted(bad) == [2, 3, 6, 7]
    assert "invalid JSON" in bad[2]
    assert "expected a JSON object" in bad[3]
    assert "unknown split 'holdout'" in bad[6] and "valid: train" in bad[6]
    assert "holds a dict" in bad[7]
    assert manifest.has_split


def test_tsv_custom_columns_and_explicit_labels(files: Path) -> None:
    manifest = read_manifest(
        write(files / "data.tsv", "caption\tpicture\tmood\tid\nhi there\timg/a.png\thappy\t7\n"),
        text_column="caption",
        image_column="picture",
        label_columns=["mood"],
    )
    assert manifest.rows[0].text == "hi there"
    assert manifest.rows[0].labels == {"mood": "happy"}
    assert manifest.modalities == ["text", "image"]


def test_file_check_can_be_disabled(files: Path) -> None:
    manifest = read_manifest(write(files / "data.csv", "image,label\nnowhere.png,a\n"), check_files=False)
    assert len(manifest.rows) == 1 and not manifest.bad_rows


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("data.txt", "text,label\n", "unknown manifest format '.txt'"),
        ("data.csv", "", "is empty"),
        ("data.csv", "label,other\na,b\n", "none of the modality columns"),
        ("data.csv", "text,split\nhi,train\n", "no label column"),
    ],
)
def test_unusable_files_raise_manifest_error(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        read_manifest(write(tmp_path / name, text))


def test_missing_file_and_missing_label_column(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        read_manifest(tmp_path / "absent.csv")
    path = write(tmp_path / "data.csv", "text,label\nhi,a\n")
    with pytest.raises(ManifestError, match=r"no label column \['mood'\]"):
        read_manifest(path, label_columns=["mood"])
