"""Runs retention, cache eviction and leftovers of interrupted writes (mmdemo/retention.py, mmdemo/cache.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
import torch

from mmdemo.cache import EmbeddingCache, default_cache_max_bytes
from mmdemo.retention import (
    MIB,
    RunsPolicy,
    apply_runs_policy,
    clean_leftovers,
    clean_runs_leftovers,
    evict_lru,
    remove_tree,
    run_entries,
)


def run_name(i: int) -> str:
    """A run folder's name as the Fusion Lab writes it (12 hex digits)."""
    return f"{i:012x}"


def _run(root: Path, name: str, size: int, age_seconds: float, world: bool = False) -> Path:
    folder = root / "worlds" / name if world else root / name
    (folder / "run").mkdir(parents=True)
    (folder / "run" / "data.bin").write_bytes(b"x" * size)
    stamp = time.time() - age_seconds
    for path in [folder / "run" / "data.bin", folder / "run", folder]:
        os.utime(path, (stamp, stamp))
    return folder


def test_runs_policy_keeps_the_newest_within_count_bytes_and_age(tmp_path):
    runs = [_run(tmp_path, run_name(i), 1000, age_seconds=10 * i) for i in range(6)]  # run 0 newest
    (tmp_path / "notes").mkdir()  # not named like a run: never touched
    report = apply_runs_policy(tmp_path, RunsPolicy(max_runs=4, max_bytes=10**9, max_age_seconds=3600))
    assert sorted(p.name for p in report.removed) == [run_name(4), run_name(5)]
    assert [e.path.name for e in run_entries(tmp_path)] == [run_name(i) for i in range(4)]

    report = apply_runs_policy(tmp_path, RunsPolicy(max_runs=10, max_bytes=2500, max_age_seconds=3600))
    assert sorted(p.name for p in report.removed) == [run_name(2), run_name(3)]  # oldest first until <= 2500 bytes
    assert report.bytes_after == 2000

    report = apply_runs_policy(tmp_path, RunsPolicy(max_runs=10, max_bytes=10**9, max_age_seconds=5))
    assert [p.name for p in report.removed] == [run_name(1)]  # 10 s old
    assert runs[0].is_dir() and not any(tmp_path.glob(".trash-*")) and (tmp_path / "notes").is_dir()


def test_protected_runs_survive_every_limit_and_worlds_count_in_bytes_not_runs(tmp_path):
    old = _run(tmp_path, run_name(0xA), 5000, age_seconds=10_000)  # a live visitor's latest run
    _run(tmp_path, run_name(0xB), 100, age_seconds=0)
    _run(tmp_path, "world-seed0-n100", 100, age_seconds=0, world=True)
    report = apply_runs_policy(tmp_path, RunsPolicy(max_runs=1, max_bytes=10_000, max_age_seconds=60),
                               protected=[old / "run" / "fusion-lab-run.zip"])
    assert old.is_dir()
    assert [p.name for p in report.removed] == [run_name(0xB)]  # one run allowed, and it is the protected one
    assert (tmp_path / "worlds" / "world-seed0-n100").is_dir()
    report = apply_runs_policy(tmp_path, RunsPolicy(max_runs=5, max_bytes=1000, max_age_seconds=10**6),
                               protected=[old])
    assert [p.name for p in report.removed] == ["world-seed0-n100"] and old.is_dir()  # over the bytes: unprotected go
    report = apply_runs_policy(tmp_path, RunsPolicy(max_runs=1, max_bytes=1000, max_age_seconds=60), protected=[])
    assert sorted(p.name for p in report.removed) == [run_name(0xA)]


def test_an_interrupted_removal_or_write_leaves_nothing_that_is_served(tmp_path):
    folder = _run(tmp_path, run_name(0), 10, 0)
    trash = tmp_path / f".trash-{run_name(1)}-abcd"
    (trash / "run").mkdir(parents=True)  # a kill between the rename and the delete
    half = folder / "run" / ".summary.json.x1.tmp"
    half.write_text("{half")
    zip_half = folder / "run" / "fusion-lab-run.zip.tmp"
    zip_half.write_bytes(b"PK")
    (tmp_path / "notes").mkdir()
    mine = tmp_path / "notes" / ".draft.tmp"  # not the Fusion Lab's: left alone
    mine.write_text("keep")
    assert [e.path.name for e in run_entries(tmp_path)] == [run_name(0)]  # trash is never an entry
    assert clean_runs_leftovers(tmp_path) == 3
    assert not trash.exists() and not half.exists() and not zip_half.exists() and mine.exists()
    remove_tree(folder)
    remove_tree(folder)  # already gone: no error
    assert not folder.exists() and not list(tmp_path.glob(".trash-*"))


def test_cache_leftovers_are_removed_by_the_cache_layout_only(tmp_path):
    stale = tmp_path / "ab" / ".abcd.safetensors.x1.tmp"
    stale.parent.mkdir()
    stale.write_bytes(b"half")
    fresh = tmp_path / "ab" / ".abce.safetensors.x2.tmp"
    fresh.write_bytes(b"in progress")
    deep = tmp_path / "ab" / "cd" / ".other.tmp"
    deep.parent.mkdir()
    deep.write_bytes(b"not the cache's")
    old = time.time() - 3600
    for path in (stale, deep):
        os.utime(path, (old, old))
    EmbeddingCache(tmp_path)  # opening the cache cleans up
    assert not stale.exists() and fresh.exists() and deep.exists()


def _fill(cache: EmbeddingCache, n: int, start: int = 0) -> list[str]:
    keys = []
    for i in range(start, start + n):
        key = cache.key(f"content {i}", "model")
        cache.put(key, torch.full((256,), float(i)))
        keys.append(key)
    return keys


def test_cache_stays_under_its_byte_cap_evicting_least_recently_used(tmp_path):
    probe = EmbeddingCache(tmp_path / "probe", max_bytes=None)
    _fill(probe, 1)
    entry_bytes = probe.size_bytes()
    cache = EmbeddingCache(tmp_path / "cache", max_bytes=10 * entry_bytes)
    keys = _fill(cache, 10)
    old = time.time() - 100
    for i, key in enumerate(keys):  # deterministic use order: key 0 least recent
        os.utime(cache._path(key), (old + i, old + i))
    assert cache.get(keys[0]) is not None  # used now: becomes the most recent
    _fill(cache, 1, start=10)  # over the cap: evict to 80 %
    assert cache.size_bytes() <= 10 * entry_bytes
    assert cache.get(keys[0]) is not None, "the entry just used must survive"
    assert cache.get(keys[1]) is None, "the least recently used entry goes first"
    for _ in range(5):
        _fill(cache, 7, start=100 + _ * 7)
        assert cache.size_bytes() <= 10 * entry_bytes


def test_cache_cap_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MMDEMO_CACHE_MAX_MB", "2.5")
    assert default_cache_max_bytes() == int(2.5 * MIB)
    monkeypatch.setenv("MMDEMO_CACHE_MAX_MB", "0")
    assert default_cache_max_bytes() is None
    monkeypatch.setenv("MMDEMO_CACHE_MAX_MB", "lots")
    with pytest.raises(ValueError, match="lots"):
        default_cache_max_bytes()


def test_eviction_is_safe_while_other_threads_read_and_write(tmp_path):
    cache = EmbeddingCache(tmp_path, max_bytes=None)
    keys = _fill(cache, 40)
    cap = cache.size_bytes() // 2
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                for i, key in enumerate(keys):
                    entry = cache.get(key)
                    if entry is not None:  # a hit is always the whole vector that was written
                        assert torch.equal(entry.vector, torch.full((256,), float(i)))
        except BaseException as err:  # noqa: BLE001 - collected and re-raised by the test
            errors.append(err)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers:
        thread.start()
    for _ in range(8):
        evict_lru(tmp_path, cap)
        _fill(cache, 10)
    stop.set()
    for thread in readers:
        thread.join()
    assert not errors, errors
    assert not list(tmp_path.glob("*/.*.tmp"))


def test_leftovers_of_safetensors_own_temp_file_are_cleaned(tmp_path):
    # a process killed inside safetensors' save_file leaves Rust's tempfile (".tmp" + 6 characters)
    shard = tmp_path / "83"
    shard.mkdir()
    (shard / ".tmptvuEpd").write_bytes(b"half")
    (shard / ".entry.safetensors.ab12cd.tmp").write_bytes(b"half")
    (shard / "entry.safetensors").write_bytes(b"whole")
    (shard / ".tmpkeep-me").write_bytes(b"not a temp name")
    assert clean_leftovers(tmp_path, temp_grace_seconds=0, pattern="*/.*") == 2
    assert sorted(p.name for p in shard.iterdir()) == [".tmpkeep-me", "entry.safetensors"]
