"""The visitors the server holds state for: when each was last seen, their latest Fusion Lab run,
and a cap on how many there are at once.

A session is registered by its first request and ends when the visitor closes the page (gradio's
``unload``), or when it has been idle for ``idle_seconds``; its state (retrieval gallery, trained
heads) is then released by the ``release`` callback. A new visitor beyond ``max_sessions`` gets a
``gr.Error`` that says the demo is full and to come back later; visitors already in keep working.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gradio as gr


@dataclass
class Session:
    """One visitor's session: its id, address, when it was first and last seen (monotonic
    seconds), and the folder of its latest Fusion Lab run (None: none yet)."""

    session_id: str
    address: str | None
    first_seen: float
    last_seen: float
    latest_run: Path | None = None


def demo_full(max_sessions: int) -> gr.Error:
    return gr.Error(f"The demo is full: {max_sessions} visitors are using it at once, its limit. "
                    "Please try again in a few minutes.", title="The demo is full", print_exception=False)


class SessionRegistry:
    """Live sessions by id (see the module docstring)."""

    def __init__(self, max_sessions: int, idle_seconds: float,
                 release: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_sessions = max_sessions
        self.idle_seconds = idle_seconds
        self._release = release
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self.ended = 0  # sessions released so far (closed or idle)

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: str) -> bool:
        return session_id in self._sessions

    def touch(self, session_id: str, address: str | None = None) -> Session:
        """Mark ``session_id`` seen now, registering it when new; raises "the demo is full" for a
        new session beyond ``max_sessions``."""
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                if len(self._sessions) >= self.max_sessions:
                    raise demo_full(self.max_sessions)
                session = self._sessions[session_id] = Session(session_id, address, now, now)
            session.last_seen = now
            return session

    def record_run(self, session_id: str, folder: Path) -> None:
        """``folder`` is the latest Fusion Lab run of ``session_id`` (kept while the session lives)."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is not None:
                session.latest_run = Path(folder)

    def protected_runs(self) -> set[Path]:
        """The latest run of every live session."""
        with self._lock:
            return {s.latest_run for s in self._sessions.values() if s.latest_run is not None}

    def end(self, session_id: str) -> bool:
        """End ``session_id`` now (the visitor left) and release its state; False if unknown."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is not None:
                self.ended += 1
        if session is not None and self._release is not None:
            self._release(session_id)
        return session is not None

    def expire_idle(self) -> list[str]:
        """End every session idle for ``idle_seconds`` or more; returns their ids."""
        now = self._clock()
        with self._lock:
            idle = [sid for sid, s in self._sessions.items() if now - s.last_seen >= self.idle_seconds]
        return [sid for sid in idle if self.end(sid)]
