"""Per-visitor limits, the training slot's turns and the session registry (webapp/fair_use.py,
webapp/sessions.py, webapp/limits.py), with a fake clock and real threads."""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import gradio as gr
import pytest

from webapp import limits as limit_flags
from webapp.fair_use import FairSlot, Visitor, VisitorLimiter, is_loopback
from webapp.limits import ShareLimits, parse_duration
from webapp.sessions import SessionRegistry
from webapp.settings import parse_args


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_requests_per_minute_per_session_and_per_address():
    clock = Clock()
    limiter = VisitorLimiter(ShareLimits(requests_per_minute=3, address_requests_per_minute=5), clock=clock)
    alice = Visitor("alice", "203.0.113.7")
    for _ in range(3):
        with limiter.admit(alice):
            pass
    with pytest.raises(gr.Error, match=r"Slow down: this visitor has started 3 requests in the last minute "
                                       r"\(limit 3 per minute\)\. Please wait 60 s"):
        with limiter.admit(alice):
            pass
    # another session from the same address: its own 3, but the address allows only 5 in all
    bob = Visitor("bob", "203.0.113.7")
    for _ in range(2):
        with limiter.admit(bob):
            pass
    with pytest.raises(gr.Error, match="your network address has started 5 requests"):
        with limiter.admit(bob):
            pass
    clock.now += 61  # the window slides
    with limiter.admit(alice):
        pass
    assert limiter.forget_idle() == 1  # bob's session; alice and the address just started one
    clock.now += 61
    assert limiter.forget_idle() == 2


def test_jobs_at_once_and_localhost_is_not_limited_by_default():
    limiter = VisitorLimiter(ShareLimits(jobs_per_visitor=1))
    visitor = Visitor("s", "198.51.100.1")
    with limiter.admit(visitor):
        with pytest.raises(gr.Error, match=r"Slow down: this visitor has 1 requests still running \(limit 1 at once\)"):
            with limiter.admit(visitor):
                pass
    with limiter.admit(visitor):  # finished: admitted again
        pass
    local = Visitor("s2", "127.0.0.1")
    with limiter.admit(local), limiter.admit(local), limiter.admit(local):
        pass
    assert is_loopback("::1") and is_loopback(None) and not is_loopback("10.0.0.1")
    strict = VisitorLimiter(ShareLimits(jobs_per_visitor=1, address_jobs=1, limit_localhost=True))
    with strict.admit(local), pytest.raises(gr.Error, match="Slow down: this visitor has 1"):
        with strict.admit(local):
            pass
    with strict.admit(local), strict.admit(Visitor("another local session", "127.0.0.1")):
        pass  # loopback is one address for every local visitor: limited per session only


def test_training_slot_alternates_between_visitors_who_wait():
    """A queues three runs, B one after them: B trains second, not fourth."""
    slot = FairSlot()
    order: list[str] = []
    release_first = threading.Event()
    waits: list[int] = []

    def run(who: str, hold: threading.Event | None = None) -> None:
        with slot.turn(who, on_wait=waits.append):
            order.append(who)
            if hold is not None:
                hold.wait(5)

    first = threading.Thread(target=run, args=("A", release_first))
    first.start()
    while not slot.busy:
        time.sleep(0.01)
    threads = []
    for who in ("A", "A", "B"):
        threads.append(threading.Thread(target=run, args=(who,)))
        threads[-1].start()
        while slot.waiting() < len(threads):
            time.sleep(0.01)
    assert slot.holds_or_waits("B") and not slot.holds_or_waits("C")
    assert slot.ahead_of("B") == 3  # A running, two A runs waiting
    release_first.set()
    for thread in [first, *threads]:
        thread.join(5)
    assert order == ["A", "B", "A", "A"]
    assert waits == [1, 2, 3]
    with slot.if_free() as free:
        assert free and slot.busy
    assert not slot.busy


def test_maintenance_never_runs_during_a_training_run():
    slot = FairSlot()
    with slot.turn("A"):
        with slot.if_free() as free:
            assert not free


def test_session_cap_idle_expiry_and_release():
    clock = Clock()
    released: list[str] = []
    sessions = SessionRegistry(max_sessions=2, idle_seconds=60, release=released.append, clock=clock)
    sessions.touch("a", "127.0.0.1")
    sessions.touch("b")
    with pytest.raises(gr.Error, match=r"The demo is full: 2 visitors are using it at once"):
        sessions.touch("c")
    sessions.touch("a")  # a known visitor keeps working
    sessions.record_run("a", Path("/runs/abc"))
    assert sessions.protected_runs() == {Path("/runs/abc")}
    clock.now += 30
    sessions.touch("b")
    clock.now += 40  # a idle for 70 s, b for 40 s
    assert sessions.expire_idle() == ["a"] and released == ["a"]
    assert sessions.protected_runs() == set()
    sessions.touch("c")  # there is room again
    assert sessions.end("b") and not sessions.end("b")
    assert released == ["a", "b"] and len(sessions) == 1 and sessions.ended == 2


def test_limits_flags_parse_and_refuse_bad_values(monkeypatch):
    assert parse_duration("90") == 90 and parse_duration("30m") == 1800 and parse_duration("1.5h") == 5400
    with pytest.raises(ValueError, match="'soon'"):
        parse_duration("soon")
    monkeypatch.setenv("MMDEMO_CACHE_MAX_MB", "64")
    settings = parse_args(["--max-runs", "3", "--runs-max-mb", "20", "--runs-max-age", "2h",
                           "--session-idle", "5m", "--limit-localhost"])
    limits = settings.share_limits
    assert (limits.max_runs, limits.runs_max_mb, limits.runs_max_age, limits.session_idle) == (3, 20, 7200, 300)
    assert limits.cache_max_mb == 64 and limits.limit_localhost
    assert limits.runs_policy.max_bytes == 20 * 2**20
    assert parse_args(["--share"]).share_limits.limit_localhost  # the share tunnel arrives from 127.0.0.1
    assert not parse_args([]).share_limits.limit_localhost
    assert parse_args(["--cache-max-mb", "8"]).share_limits.cache_max_mb == 8
    assert ShareLimits(upload_cache_max_age=7200).delete_cache == (600, 7200)
    for bad in (["--max-runs", "0"], ["--requests-per-minute", "-1"], ["--runs-max-age", "later"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
    parser = argparse.ArgumentParser()
    limit_flags.add_arguments(parser)
    help_text = parser.format_help()
    for flag in ("--max-runs", "--runs-max-mb", "--runs-max-age", "--cache-max-mb", "--max-sessions",
                 "--session-idle", "--requests-per-minute", "--jobs-per-visitor", "--upload-cache-max-age"):
        assert flag in help_text
