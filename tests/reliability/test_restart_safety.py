"""A process killed with SIGKILL in the middle of a cache write, a runs clean-up or a gallery save
leaves nothing half-written under a name that is read, and the next start cleans up.

Each test runs the operation in a loop in a child process and kills it at a random moment once
it is under way; the parent then reopens the folder as a restarted app would. The app itself
starting on such leftovers is checked by ``test_soak.py`` (its app starts on planted leftovers).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from mmdemo.cache import EmbeddingCache
from mmdemo.retention import RunsPolicy, apply_runs_policy, clean_leftovers, clean_runs_leftovers, run_entries

ROOT = Path(__file__).resolve().parents[2]


def kill_while_running(script: str, after_lines: int, seed: int) -> list[str]:
    """Run ``script`` in a child; SIGKILL it a random few milliseconds after it printed
    ``after_lines`` lines. Returns what it printed."""
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = []
    try:
        while len(lines) < after_lines:
            line = child.stdout.readline()
            if not line:
                raise AssertionError(f"the child stopped early (code {child.wait()}) after {lines}")
            lines.append(line.strip())
        time.sleep(random.Random(seed).uniform(0.0, 0.01))
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL, "the child must have died mid-loop, not finished"
    return lines


def test_killed_during_cache_writes(tmp_path):
    root = tmp_path / "cache"
    cap = 6 * 800_100  # about six entries
    script = f"""
import torch
from mmdemo.cache import EmbeddingCache
cache = EmbeddingCache({str(root)!r}, max_bytes={cap})
for i in range(100_000):
    cache.put(cache.key(f"item {{i}}", "model"), torch.full((200_000,), float(i)))
    print(i, flush=True)
"""
    for round_ in range(2):
        kill_while_running(script, after_lines=8, seed=round_)
    restarted = EmbeddingCache(root, max_bytes=cap)
    entries = list(root.glob("*/*.safetensors"))
    assert entries
    for path in entries:  # every entry under a final name is whole
        key = path.stem
        vector = restarted.get(key).vector
        assert vector.shape == (200_000,) and torch.all(vector == vector[0])
    assert restarted.size_bytes() <= cap + 800_100
    clean_leftovers(root, temp_grace_seconds=0)
    assert not [p for p in root.rglob("*") if p.is_file() and p.suffix != ".safetensors"]


def _runs(root: Path, n: int, files: int) -> None:
    for index in range(n):
        folder = root / f"{index:012x}" / "run"
        folder.mkdir(parents=True)
        for k in range(files):
            (folder / f"f{k}.bin").write_bytes(b"x" * 64)
        stamp = time.time() - 1000 + index
        os.utime(folder.parent, (stamp, stamp))


def test_killed_during_a_runs_clean_up(tmp_path):
    root = tmp_path / "runs"
    _runs(root, 30, files=400)
    script = f"""
from mmdemo.retention import RunsPolicy, apply_runs_policy
import mmdemo.retention as retention
real = retention.remove_tree
def announced(path):
    print("removing", path.name, flush=True)
    real(path)
retention.remove_tree = announced
apply_runs_policy({str(root)!r}, RunsPolicy(max_runs=1, max_bytes=1 << 40, max_age_seconds=1e9))
import time; time.sleep(60)
"""
    kill_while_running(script, after_lines=5, seed=3)
    left = run_entries(root)
    assert len(left) > 1, "the kill must land before the clean-up finished"
    for entry in left:  # whatever is still listed is a whole run
        assert len(list((entry.path / "run").iterdir())) == 400, entry.path
    clean_runs_leftovers(root)  # the next start
    assert not list(root.glob(".trash-*"))
    report = apply_runs_policy(root, RunsPolicy(max_runs=1, max_bytes=1 << 40, max_age_seconds=1e9))
    assert [e.path.name for e in run_entries(root)] == [f"{29:012x}"], report


def test_killed_during_gallery_saves(tmp_path):
    folder = tmp_path / "gallery"
    script = f"""
import torch
from mmdemo.retrieval import IndexItem, RetrievalIndex
index = RetrievalIndex()
for i in range(100_000):
    items = [IndexItem(f"item{{i}}-{{k}}", "image", f"item{{i}}-{{k}}") for k in range(200)]
    index.add_embeddings(torch.randn(200, 64), items, model="m", space="m")
    index.save({str(folder)!r})
    print(len(index), flush=True)
"""
    printed = kill_while_running(script, after_lines=4, seed=5)
    from mmdemo.retrieval import RetrievalIndex

    loaded = RetrievalIndex.load(folder)  # the last committed save, whole
    assert len(loaded) % 200 == 0 and len(loaded) >= int(printed[-1])
    assert loaded.vectors.shape == (len(loaded), 64)
    loaded.save(folder)  # and the next save works over the leftovers
    assert len(RetrievalIndex.load(folder)) == len(loaded)
