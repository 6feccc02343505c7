"""The retrieval benchmark runs end to end on a tiny configuration (the real one takes minutes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from mmdemo.retrieval.bench import RetrievalBenchConfig, SyntheticSpace, main, run_retrieval_bench


def test_tiny_benchmark_reports_every_measurement() -> None:
    config = RetrievalBenchConfig(sizes=(300,), dim=16, timed_queries=3, recall_queries=20, warmup=1)
    bench = run_retrieval_bench(config)
    assert [(t.size, t.dtype) for t in bench.exact] == [(300, "float32"), (300, "bfloat16"), (300, "float16")]
    assert bench.exact[0].recall_vs_float32 == 1.0
    assert all(t.median_ms > 0 and t.p90_ms >= t.median_ms and t.recall_vs_float32 >= 0.8 for t in bench.exact)
    assert all(t.read_once_ms > 0 for t in bench.exact)  # the read-once floor is timed beside each search
    assert [t.kind for t in bench.approx] == ["hnsw", "ivf"]
    assert all(t.recall_at_k >= 0.8 and t.speedup_vs_exact_float32 > 0 and t.build_s >= 0 for t in bench.approx)
    table = bench.table()
    assert "| 300 | bfloat16 |" in table and "| 300 | hnsw |" in table


def test_synthetic_data_is_deterministic_and_queries_are_held_out() -> None:
    space = SyntheticSpace(16, seed=3, data="clustered")
    first = torch.cat(list(space.chunks(250)))
    assert torch.equal(first, torch.cat(list(SyntheticSpace(16, seed=3, data="clustered").chunks(250))))
    assert first.shape == (250, 16)
    assert not torch.equal(space.queries(5), first[:5])


def test_cli_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["--sizes", "200", "--dim", "8", "--queries", "2", "--dtypes", "float32", "--approx", "", "--json", str(out)]) == 0
    assert "| 200 | float32 |" in capsys.readouterr().out
    data = json.loads(out.read_text())
    assert data["exact"][0]["size"] == 200 and data["approx"] == []
    with pytest.raises(ValueError, match="must include float32"):
        RetrievalBenchConfig(dtypes=("bfloat16",))
