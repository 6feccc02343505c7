"""The soak test at CI size: 24 visitor sessions against one app with small disk caps (see
tests/reliability/soak.py; ``python -m tests.reliability.soak`` runs it longer)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from gradio_client import Client

from tests.reliability.helpers import launched_app, model_args
from tests.reliability.soak import SoakConfig, run_soak

# 24 sessions, as fast as 16 at once allow, each uploading its own image and clip to its gallery,
# asking and searching by voice; every 6th also captions and searches by text, every 3rd trains
# (8 tiny Fusion Lab runs of ~0.3 MiB against a 2.5 MiB / 6-run cap; a 30 KB cache, which 24
# sessions fill to ~45 KB). ~85 s; 48 sessions took 100-140 s of the default run, 100 ~170 s;
# ``python -m tests.reliability.soak`` runs more.
CI_SOAK = SoakConfig(sessions=24, minutes=0.0, concurrency=16, train_every=3, full_every=6,
                     page_load=False, app_concurrency=2, cache_max_mb=0.03)
# Resident memory the visitors after the warm-up may add (tiny models; measured ~+100 MiB at 100).
RSS_GROWTH_BUDGET_MB = 350


def plant_leftovers(workdir: Path) -> list[Path]:
    """What an app killed with SIGKILL can leave: a run half-way through its removal (renamed to
    ``.trash-*``), the temp file of an interrupted atomic write in a run and in the cache."""
    trash = workdir / "runs" / ".trash-0123456789ab-deadbeef" / "run" / "heads" / "concat"
    trash.mkdir(parents=True)
    (trash / "head.json").write_text("{")
    run_temp = workdir / "runs" / "0123456789ab" / "run" / ".summary.json.k2j3.tmp"
    run_temp.parent.mkdir(parents=True)
    run_temp.write_text('{"half": ')
    cache_temp = workdir / "cache" / "ab" / ".ab12.safetensors.x9.tmp"
    cache_temp.parent.mkdir(parents=True)
    cache_temp.write_bytes(b"\x00" * 100)
    old = time.time() - 3600
    os.utime(cache_temp, (old, old))
    return [trash.parents[2], run_temp, cache_temp]


@pytest.fixture(scope="module")
def soak(tmp_path_factory, app_checkpoints):
    workdir = tmp_path_factory.mktemp("soak-app")
    leftovers = plant_leftovers(workdir)
    with launched_app(model_args(app_checkpoints) + CI_SOAK.app_args(), workdir) as app:
        left_after_start = [path for path in leftovers if path.exists()]
        report = run_soak(app, CI_SOAK, tmp_path_factory.mktemp("soak-media"))
        burst = one_visitor_bursts(app.url, CI_SOAK.requests_per_minute + 2)
        log = (workdir / "app.log").read_text(errors="replace")
    print(report.summary())
    return report, log, left_after_start, burst


def one_visitor_bursts(url: str, n: int) -> list[str]:
    """``n`` page loads in a row from one session: "ok" or the error message of each."""
    client = Client(url, verbose=False, analytics_enabled=False)
    answers = []
    for _ in range(n):
        try:
            client.submit(api_name="/status").result(timeout=120)
            answers.append("ok")
        except Exception as error:  # the refusal is what this collects
            answers.append(str(error))
    client.close()
    return answers


def test_a_visitor_over_the_request_limit_is_told_to_slow_down(soak):
    *_, burst = soak
    limit = CI_SOAK.requests_per_minute
    assert burst[:limit] == ["ok"] * limit
    for message in burst[limit:]:
        assert message.startswith(f"Slow down: this visitor has started {limit} requests in the last minute "
                                  f"(limit {limit} per minute). Please wait"), message


def test_the_app_starts_cleanly_on_what_a_killed_one_left(soak):
    *_, left_after_start, _ = soak
    assert not left_after_start


def test_no_request_is_lost_or_answered_with_a_generic_error(soak):
    report, *_ = soak
    assert len(report.calls) == CI_SOAK.expected_calls()
    bad = [f"{c.endpoint}: {c.detail}" for c in report.calls if c.status != "ok"]
    assert not bad, bad[:5]
    assert len({c.visitor for c in report.calls}) == CI_SOAK.sessions


def test_disk_under_runs_and_cache_stays_under_the_caps(soak):
    report, log, *_ = soak
    mib = 1 << 20
    # the cap, plus the one run being written before the policy trims (runs are trimmed after each)
    assert report.peak("runs_bytes") <= CI_SOAK.runs_max_mb * mib + report.largest_run_bytes, report.summary()
    assert report.peak("cache_bytes") <= CI_SOAK.cache_max_mb * mib * 1.05, report.summary()
    # the caps were reached: old runs were removed and cache entries evicted
    assert "Removed Fusion Lab entry" in log, report.summary()
    assert "Evicted" in log, report.summary()


def test_server_memory_stays_bounded_after_warm_up(soak):
    report, log, *_ = soak
    assert report.peak("rss_mb") - report.warm_rss_mb < RSS_GROWTH_BUDGET_MB, report.summary()
    # the visitors who closed their page ended their sessions (gradio's unload): state released
    ended = [int(m) for m in re.findall(r"(\d+) ended so far", log)]
    assert ended and max(ended) >= CI_SOAK.sessions // 4, ended[-3:]


def test_every_visitors_latest_result_is_still_downloadable(soak):
    report, *_ = soak
    trainers = [v for v in range(CI_SOAK.sessions) if v % CI_SOAK.train_every == 0]
    assert sorted(report.downloads) == trainers
    assert all(report.downloads.values()), report.downloads
