import os
import stat
import zipfile

import pytest

from mmdemo.archive import ArchiveLimits, check_zip, extract_zip, safe_member_path
from mmdemo.errors import MediaError


def _zip(path, entries, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def _link(name, target):
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def _leftovers(folder):
    """Everything in ``folder`` (to prove a failed extraction wrote nothing)."""
    return sorted(p.name for p in folder.iterdir())


def test_a_valid_archive_is_extracted_with_its_folders(tmp_path):
    archive = _zip(tmp_path / "ok.zip", [
        ("data/manifest.csv", b"text,label\na,b\n"),
        ("data/images/", b""),
        ("data/images/x.bin", bytes(range(256)) * 10),
        ("__MACOSX/data/._manifest.csv", b"junk"),
    ])
    out = extract_zip(archive, tmp_path / "out")
    assert out.root == tmp_path / "out"
    assert (out.root / "data/manifest.csv").read_bytes() == b"text,label\na,b\n"
    assert (out.root / "data/images/x.bin").read_bytes() == bytes(range(256)) * 10
    assert out.files == [out.root / "data/manifest.csv", out.root / "data/images/x.bin"]
    assert out.total_bytes == 15 + 2560
    assert out.skipped == ["__MACOSX/data/._manifest.csv"]
    assert not (out.root / "__MACOSX").exists()
    assert _leftovers(tmp_path) == ["ok.zip", "out"]  # no staging folder left behind


@pytest.mark.parametrize("name, message", [
    ("../evil.txt", r"contains '\.\.'"),
    ("data/../../evil.txt", r"contains '\.\.'"),
    ("..\\..\\evil.txt", r"contains '\.\.'"),
    ("data\\..\\..\\evil.txt", r"contains '\.\.'"),
    ("/etc/cron.d/evil", "absolute path"),
    ("\\evil.txt", "absolute path"),
    ("C:/Windows/evil.txt", "absolute path"),
    ("c:evil.txt", "absolute path"),
])
def test_names_that_escape_the_folder_are_refused_before_writing(tmp_path, name, message):
    archive = _zip(tmp_path / "bad.zip", [("data/ok.txt", b"fine"), (name, b"escaped")])
    with pytest.raises(MediaError, match=message):
        extract_zip(archive, tmp_path / "out")
    assert _leftovers(tmp_path) == ["bad.zip"]
    assert not (tmp_path.parent / "evil.txt").exists()


def test_safe_member_path_normalises_harmless_names():
    assert str(safe_member_path("./data//images/./a.png")) == "data/images/a.png"
    assert str(safe_member_path("data\\images\\a.png")) == "data/images/a.png"
    assert str(safe_member_path("..data/a..b.png")) == "..data/a..b.png"  # '..' inside a name is fine
    with pytest.raises(MediaError, match="empty path"):
        safe_member_path("./")
    with pytest.raises(MediaError, match="NUL"):
        safe_member_path("a\x00.png")


def test_symlinks_and_special_files_are_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("data/a.txt", b"a")
        info, data = _link("data/passwd", "/etc/passwd")
        handle.writestr(info, data)
    with pytest.raises(MediaError, match="symbolic link"):
        extract_zip(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()

    fifo = tmp_path / "fifo.zip"
    with zipfile.ZipFile(fifo, "w") as handle:
        info = zipfile.ZipInfo("data/pipe")
        info.create_system = 3
        info.external_attr = (stat.S_IFIFO | 0o644) << 16
        handle.writestr(info, b"")
    with pytest.raises(MediaError, match="not a regular file"):
        check_zip(fifo)


def test_zip_bomb_is_refused_by_its_compression_ratio(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", [("zeros.bin", b"\0" * (8 * 1024 * 1024))])
    info = zipfile.ZipFile(archive).infolist()[0]
    assert info.file_size / info.compress_size > 500
    with pytest.raises(MediaError, match=r"compression ratio of [\d,]+:1, over the limit of 100:1"):
        extract_zip(archive, tmp_path / "out")
    assert _leftovers(tmp_path) == ["bomb.zip"]
    # Small files are exempt from the ratio check (a tiny CSV of repeated text compresses well).
    small = _zip(tmp_path / "small.zip", [("a.csv", b"x" * 100_000)])
    assert extract_zip(small, tmp_path / "small").total_bytes == 100_000


def test_size_and_count_limits(tmp_path):
    stored = _zip(tmp_path / "big.zip", [("a.bin", b"a" * 3000), ("b.bin", b"b" * 3000)], zipfile.ZIP_STORED)
    with pytest.raises(MediaError, match="too large"):
        extract_zip(stored, tmp_path / "o1", ArchiveLimits(max_entry_bytes=2000))
    with pytest.raises(MediaError, match="expands to more than"):
        extract_zip(stored, tmp_path / "o2", ArchiveLimits(max_total_bytes=5000))
    with pytest.raises(MediaError, match="over the limit of 1,000 bytes"):  # the zip file itself
        check_zip(stored, ArchiveLimits(max_archive_bytes=1000))
    many = _zip(tmp_path / "many.zip", [(f"f{i}.txt", b"") for i in range(12)])
    with pytest.raises(MediaError, match="12 entries, over the limit of 10"):
        extract_zip(many, tmp_path / "o3", ArchiveLimits(max_entries=10))
    assert len(extract_zip(many, tmp_path / "o4", ArchiveLimits(max_entries=12)).files) == 12
    assert not any(name.endswith(".partial") for name in os.listdir(tmp_path))


def test_lying_size_header_is_caught_while_extracting(tmp_path):
    archive = _zip(tmp_path / "liar.zip", [("a.bin", b"a" * 5000)], zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    # Shrink the declared uncompressed size in the central directory (offset 24 of the entry).
    central = data.index(b"PK\x01\x02")
    data[central + 24 : central + 28] = (100).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    with pytest.raises(MediaError):
        extract_zip(archive, tmp_path / "out")
    assert _leftovers(tmp_path) == ["liar.zip"]


def test_not_a_zip_duplicates_encryption_and_existing_target(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_text("plain text")
    with pytest.raises(MediaError, match="not a zip archive"):
        extract_zip(fake, tmp_path / "out")
    with pytest.raises(MediaError, match="not found"):
        check_zip(tmp_path / "missing.zip")

    dup = tmp_path / "dup.zip"
    with zipfile.ZipFile(dup, "w") as handle:
        handle.writestr("data/A.txt", b"1")
        handle.writestr("data/a.txt", b"2")
    with pytest.raises(MediaError, match="two entries"):
        check_zip(dup)

    encrypted = _zip(tmp_path / "enc.zip", [("a.txt", b"secret")])
    data = bytearray(encrypted.read_bytes())
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flag_offset
        data[at] |= 0x1  # set the "encrypted" general-purpose flag
    encrypted.write_bytes(bytes(data))
    with pytest.raises(MediaError, match="encrypted"):
        check_zip(encrypted)

    ok = _zip(tmp_path / "ok.zip", [("a.txt", b"a")])
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("keep")
    with pytest.raises(MediaError, match="already exists"):
        extract_zip(ok, tmp_path / "taken")
    assert (tmp_path / "taken" / "keep.txt").read_text() == "keep"
