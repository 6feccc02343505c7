"""Keeping a shared link healthy: every queued event of the page passes the session and fair-use
checks, the Fusion Lab's runs take the training slot in turns, and a sweeper bounds disk and memory.

:func:`install` (called by :func:`webapp.main.build_app`) wraps the handler of every queued event
of the Blocks, so no tab needs to know about it:

- the visitor's session is registered and marked seen (:class:`~webapp.sessions.SessionRegistry`;
  a new visitor beyond ``--max-sessions`` is told the demo is full);
- every public endpoint is counted against the visitor's limits
  (:class:`~webapp.fair_use.VisitorLimiter`; "Slow down" when over);
- the Fusion Lab's training (concurrency group ``fusion-lab``) waits for its turn of the
  :class:`~webapp.fair_use.FairSlot`: up to :data:`TRAINING_ROOM` runs enter the handler at once
  and take the slot in turns, one visitor never twice in a row while another waits; a limited
  visitor may have one run waiting or running. The run's folder becomes the visitor's latest
  run, and the runs folder is trimmed to ``--max-runs`` / ``--runs-max-mb`` / ``--runs-max-age``
  (:func:`mmdemo.retention.apply_runs_policy`) before the slot is handed on.

A session ends when its page closes (``demo.unload``) or after ``--session-idle`` without a
request; its state (gallery, heads) is then released from gradio's session store at once (gradio
itself keeps a closed session's state for an hour). :meth:`Upkeep.start` (called by
:func:`webapp.main.launch`) removes what a killed process left behind (``.trash-*`` folders,
``.*.tmp`` files) and sweeps every ``--upkeep-every``: idle sessions, runs retention, the
embedding cache cap (``--cache-max-mb``; writes evict on their own too) and the limiter's counters.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from gradio.context import LocalContext

from mmdemo.cache import TEMP_PATTERN, default_cache
from mmdemo.retention import RetentionReport, apply_runs_policy, clean_leftovers, clean_runs_leftovers, evict_lru
from webapp.fair_use import FairSlot, Visitor, VisitorLimiter, slow_down
from webapp.settings import AppSettings
from webapp.sessions import SessionRegistry

logger = logging.getLogger(__name__)

TRAINING_CONCURRENCY_ID = "fusion-lab"  # the Fusion Lab's training event (webapp/tabs/fusion_lab.py)
TRAINING_ROOM = 8  # training runs that may wait inside the handler for their turn at once

_INSTALLED: weakref.WeakKeyDictionary[gr.Blocks, Upkeep] = weakref.WeakKeyDictionary()


def visitor_of(request: gr.Request | None) -> Visitor:
    """The session and client address of ``request`` (None where unknown)."""
    if request is None:
        return Visitor(None, None)
    client = getattr(request, "client", None)
    return Visitor(getattr(request, "session_hash", None), getattr(client, "host", None) if client else None)


def _progress_of(args: tuple, kwargs: dict) -> gr.Progress | None:
    return next((a for a in (*args, *kwargs.values()) if isinstance(a, gr.Progress)), None)


@dataclass
class SweepReport:
    """What one sweep did: sessions ended as idle, the runs retention pass (None: a run was
    training, so it was left for later), and cache files evicted."""

    idle_sessions: list[str] = field(default_factory=list)
    runs: RetentionReport | None = None
    cache_evicted: int = 0


@dataclass(eq=False, repr=False)
class Upkeep:
    """The checks and the sweeper of one app (see the module docstring)."""

    demo: gr.Blocks
    settings: AppSettings
    sessions: SessionRegistry = field(init=False)
    limiter: VisitorLimiter = field(init=False)
    training: FairSlot = field(default_factory=FairSlot)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        limits = self.settings.share_limits
        self.sessions = SessionRegistry(limits.max_sessions, limits.session_idle, release=self.release)
        self.limiter = VisitorLimiter(limits)

    # --- sessions ---------------------------------------------------------------------------
    def release(self, session_id: str) -> None:
        """Drop the state gradio holds for ``session_id`` (galleries, heads, per-session config)."""
        holder = getattr(self.demo, "state_holder", None)
        if holder is None or session_id not in holder:
            return
        holder.delete_state(session_id)  # calls each gr.State's delete_callback
        with holder.lock:
            holder.session_data.pop(session_id, None)
            holder.time_last_used.pop(session_id, None)

    def on_unload(self, request: gr.Request) -> None:
        """The visitor closed or reloaded the page: end the session now."""
        if request is not None and request.session_hash:
            self.sessions.end(request.session_hash)

    # --- the handlers -----------------------------------------------------------------------
    def _record_run(self, visitor: Visitor, result: Any) -> None:
        """Find the run folder among the handler's outputs and make it the visitor's latest run."""
        runs_dir = self.settings.runs_dir.resolve()
        values = result.values() if isinstance(result, dict) else result if isinstance(result, (list, tuple)) else [result]
        for value in values:
            if isinstance(value, (str, os.PathLike)):
                path = Path(value).resolve()
                if runs_dir in path.parents and visitor.session:
                    self.sessions.record_run(visitor.session, runs_dir / path.relative_to(runs_dir).parts[0])
                    return

    def _train_in_turn(self, fn: Callable, visitor: Visitor, args: tuple, kwargs: dict) -> Any:
        who = visitor.session or visitor.address or "anonymous"
        if self.limiter.applies_to(visitor) and self.training.holds_or_waits(who):
            raise slow_down("you already have a Fusion Lab run waiting or running; one at a time. "
                            "Please wait for it to finish.")
        progress = _progress_of(args, kwargs)

        def on_wait(ahead: int) -> None:
            if progress is not None:
                progress(0.0, desc=f"waiting for the training slot: {ahead} run(s) ahead")

        with self.training.turn(who, on_wait):
            try:
                result = fn(*args, **kwargs)
                self._record_run(visitor, result)
                return result
            finally:
                self.trim_runs()

    def _seen(self) -> Visitor:
        """The visitor of the request being handled, marked seen (raises "the demo is full")."""
        visitor = visitor_of(LocalContext.request.get(None))
        if visitor.session:
            self.sessions.touch(visitor.session, visitor.address)
        return visitor

    def guard(self, fn: Callable, *, counted: bool, training: bool) -> Callable:
        """``fn`` behind the session check, and, if ``counted``, the visitor's limits (and the
        training turns if ``training``)."""

        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def wrapper_async(*args: Any, **kwargs: Any) -> Any:
                visitor = self._seen()
                if not counted:
                    return await fn(*args, **kwargs)
                with self.limiter.admit(visitor):
                    return await fn(*args, **kwargs)
            return wrapper_async

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            visitor = self._seen()
            if not counted:
                return fn(*args, **kwargs)
            with self.limiter.admit(visitor):
                if training:
                    return self._train_in_turn(fn, visitor, args, kwargs)
                return fn(*args, **kwargs)

        return wrapper

    # --- disk -------------------------------------------------------------------------------
    def trim_runs(self) -> RetentionReport:
        """Apply the runs policy, keeping every live session's latest run (call it while no run
        is being written: inside the training slot)."""
        return apply_runs_policy(self.settings.runs_dir, self.settings.share_limits.runs_policy,
                                 protected=self.sessions.protected_runs())

    def sweep(self) -> SweepReport:
        """One round of upkeep (see the module docstring)."""
        report = SweepReport(idle_sessions=self.sessions.expire_idle())
        self.limiter.forget_idle()
        with self.training.if_free() as free:
            if free:
                report.runs = self.trim_runs()
        cache = default_cache()
        if cache.max_bytes is not None and cache.root.is_dir():
            report.cache_evicted = evict_lru(cache.root, cache.max_bytes).removed
        return report

    def start(self) -> None:
        """Set the cache cap, clean what a killed process left, apply the runs policy once, and
        start the sweeper (the app calls it once, before it serves)."""
        os.environ["MMDEMO_CACHE_MAX_MB"] = f"{self.settings.share_limits.cache_max_mb:g}"  # read by default_cache()
        clean_runs_leftovers(self.settings.runs_dir)
        clean_leftovers(default_cache().root, pattern=TEMP_PATTERN)
        if self.settings.runs_dir.is_dir():
            self.trim_runs()
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="mmdemo-upkeep", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        last = (0, 0)  # (live, ended) sessions at the last log line: log when they change
        while not self._stop.wait(self.settings.share_limits.upkeep_every):
            try:
                report = self.sweep()
            except OSError as err:  # a folder that vanished or a full disk: try again next round
                logger.warning("Upkeep sweep failed: %s", err)
                continue
            counts = (len(self.sessions), self.sessions.ended)
            if counts != last or (report.runs and report.runs.removed) or report.cache_evicted:
                last = counts
                logger.info("Upkeep: %d idle session(s) released (%d live, %d ended so far), %d run(s) removed, "
                            "%d cache file(s) evicted", len(report.idle_sessions), len(self.sessions),
                            self.sessions.ended, len(report.runs.removed) if report.runs else 0, report.cache_evicted)


def install(demo: gr.Blocks, settings: AppSettings) -> Upkeep:
    """Put every queued event of ``demo`` behind :class:`Upkeep`'s checks and end sessions on
    unload; returns it (also found later with :func:`installed`)."""
    upkeep = Upkeep(demo, settings)
    for block_fn in demo.fns.values():
        if block_fn.fn is None or not block_fn.queue:
            continue
        training = block_fn.concurrency_id == TRAINING_CONCURRENCY_ID
        if training:
            block_fn.concurrency_limit = TRAINING_ROOM  # runs wait for their turn inside (FairSlot)
        counted = getattr(block_fn, "api_visibility", "public") == "public"
        block_fn.fn = upkeep.guard(block_fn.fn, counted=counted, training=training)
    demo.unload(upkeep.on_unload)
    _INSTALLED[demo] = upkeep
    return upkeep


def installed(demo: gr.Blocks) -> Upkeep | None:
    """The :class:`Upkeep` that :func:`install` put on ``demo`` (None: not installed)."""
    return _INSTALLED.get(demo)
