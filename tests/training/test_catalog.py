"""Finding saved fusion heads in folders, naming them, and loading each once."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

import pytest

from mmdemo.cli.evaluate import find_heads as evaluate_find_heads
from mmdemo.errors import IncompatibleError, UnknownModelError
from mmdemo.training import FusionHead, TrainConfig, make_synthetic, train_head
from mmdemo.training.catalog import (
    BUNDLED_HEADS_DIR,
    HeadCache,
    available_heads,
    best_head,
    describe_heads,
    find_heads,
    head_name,
    named_heads,
    resolve_head,
)
from mmdemo.training.head import CONFIG_FILE


@pytest.fixture(scope="module")
def saved_head(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) head saved in its folder."""
    features = make_synthetic("additive", 60, dims={"image": 3, "text": 2}, seed=0)
    head = FusionHead.from_result(train_head(features, "concat", TrainConfig(epochs=1, patience=0)))
    return head.save(tmp_path_factory.mktemp("heads") / "concat")


def fake_head(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / CONFIG_FILE).write_text("{}")
    return folder


def test_finds_heads_in_nested_folders_and_ignores_folders_without_the_head_file(tmp_path: Path) -> None:
    a = fake_head(tmp_path / "run-1" / "heads" / "lmf")
    b = fake_head(tmp_path / "run-1" / "heads" / "concat")
    c = fake_head(tmp_path / "run-2" / "heads" / "gmu")
    (tmp_path / "run-2" / "report").mkdir()
    (tmp_path / "run-2" / "report" / "report.md").write_text("not a head")
    (tmp_path / "empty").mkdir()
    (tmp_path / "weights-only").mkdir()
    (tmp_path / "weights-only" / "weights.safetensors").write_bytes(b"")
    fake_head(a / "inner")  # inside a head folder: not searched
    assert find_heads(tmp_path) == [b, a, c]  # depth-first, sorted by name
    assert find_heads(a) == [a]  # a head folder is its own only head
    assert find_heads(tmp_path / "empty") == [] and find_heads(tmp_path / "nowhere") == []
    assert named_heads(tmp_path / "run-1", "mine/") == {"mine/heads/concat": b, "mine/heads/lmf": a}


def test_evaluate_finds_the_same_heads_and_refuses_a_folder_without_any(tmp_path: Path) -> None:
    a = fake_head(tmp_path / "runs" / "pets" / "heads" / "attention")
    b = fake_head(tmp_path / "single")
    assert evaluate_find_heads([b, tmp_path / "runs"]) == [b, a]
    (tmp_path / "nothing").mkdir()
    with pytest.raises(IncompatibleError, match=r"no fusion head found at .*nothing.*head\.json"):
        evaluate_find_heads([tmp_path / "nothing"])


def test_available_heads_lists_the_bundled_ones_then_the_callers() -> None:
    heads = available_heads({"run-1/concat": "/somewhere/concat"})
    bundled = [name for name in heads if name.startswith("bundled/")]
    assert bundled == [f"bundled/{folder.name}" for folder in find_heads(BUNDLED_HEADS_DIR)]
    assert "bundled/world-concat" in bundled  # the project ships it
    assert list(heads)[-1] == "run-1/concat" and heads["run-1/concat"] == "/somewhere/concat"


def test_unknown_head_name_says_which_heads_there_are() -> None:
    heads = {"bundled/world-concat": "/a", "run-1/lmf": "/b"}
    assert resolve_head("run-1/lmf", heads) == Path("/b")
    with pytest.raises(UnknownModelError, match=r"'no-such-head'.*available: bundled/world-concat, run-1/lmf"):
        resolve_head("no-such-head", heads)
    with pytest.raises(UnknownModelError, match="available: none"):
        resolve_head("x", {})


def test_cache_loads_a_head_once_and_returns_the_same_object(saved_head: Path) -> None:
    cache = HeadCache()
    first = cache.load(saved_head)
    assert isinstance(first, FusionHead) and first.strategy == "concat"
    assert cache.load(str(saved_head)) is first  # str or Path, the same folder
    assert cache.load(saved_head.parent / ".." / saved_head.parent.name / saved_head.name) is first
    assert len(cache) == 1
    cache.clear()
    assert cache.load(saved_head) is not first


def test_cache_is_shared_safely_between_threads(saved_head: Path) -> None:
    cache = HeadCache()
    results: list[FusionHead] = []
    threads = [threading.Thread(target=lambda: results.append(cache.load(saved_head))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 and all(head is results[0] for head in results) and len(cache) == 1


def test_cache_refuses_a_folder_that_is_not_a_head(tmp_path: Path) -> None:
    with pytest.raises(IncompatibleError, match="not a fusion head folder"):
        HeadCache().load(tmp_path)


def scored_head(folder: Path, strategy: str, accuracies: dict[str, float] | None) -> Path:
    folder.mkdir(parents=True)
    metrics = {task: {"accuracy": value} for task, value in (accuracies or {}).items()}
    (folder / CONFIG_FILE).write_text(json.dumps({"strategy": strategy, "label_names": {"claim": ["false", "true"]},
                                                  "metrics": metrics, "created": "2026-12-01T13:00:00+00:00"}))
    return folder


def test_heads_are_named_by_what_they_are() -> None:
    name = head_name("bundled world", ["claim", "verdict"], "concat", datetime(2026, 12, 1, 13, 5, 7))
    assert name == "bundled world · claim, verdict · concat · 2026-12-01 13:05:07"


def test_the_chooser_shows_each_test_score_and_picks_the_best_of_the_newest_run(tmp_path: Path) -> None:
    heads = {
        "old concat": scored_head(tmp_path / "run-1" / "heads" / "concat", "concat", {"claim": 0.99}),
        "new concat": scored_head(tmp_path / "run-2" / "heads" / "concat", "concat", {"claim": 0.7, "verdict": 0.5}),
        "new film": scored_head(tmp_path / "run-2" / "heads" / "film", "film", {"claim": 0.5, "verdict": 0.5}),
        "new lmf": scored_head(tmp_path / "run-2" / "heads" / "lmf", "lmf", None),
    }
    infos = describe_heads(heads)
    assert [info.label for info in infos] == ["test accuracy 0.99 · old concat", "test accuracy 0.60 · new concat",
                                              "test accuracy 0.50 · new film", "not scored · new lmf"]
    assert best_head(infos) == "new concat"  # not the last trained (lmf, film), not the older run's 0.99
    assert best_head(infos[:1]) == "old concat" and best_head([]) is None
    # the bundled head carries its recorded test scores
    (bundled,) = describe_heads(available_heads())
    assert bundled.name == "bundled/world-concat" and 0.5 < bundled.test_accuracy < 1 and bundled.strategy == "concat"
