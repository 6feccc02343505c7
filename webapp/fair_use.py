"""Fair use of one server by many visitors: per-visitor request limits, and the Fusion Lab's
training slot handed out in turns.

:class:`VisitorLimiter` counts the requests each visitor starts per minute (a sliding window) and
the ones they have running, keyed both by the gradio session and by the client address (so a
script opening a new session per request still meets a limit). A request over a limit gets a
``gr.Error`` that says "Slow down", what the limit is and how long to wait. Loopback clients are
not limited unless asked (``ShareLimits.limit_localhost``, on with ``--share``: gradio's share
tunnel delivers every public visitor from 127.0.0.1), and then only per session.

:class:`FairSlot` is one slot taken in turns: when it frees, the longest-waiting run of a visitor
other than the one who just trained goes next, so one visitor cannot hold the slot for two runs
in a row while someone else waits.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import gradio as gr

from webapp.limits import ShareLimits

WINDOW_SECONDS = 60.0


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1, ``localhost`` and a missing address (an in-process call)."""
    if not address or address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def slow_down(message: str) -> gr.Error:
    return gr.Error(f"Slow down: {message}", title="Slow down", print_exception=False)


@dataclass(frozen=True)
class Visitor:
    """Who sent a request: the gradio session and the client address (either may be unknown)."""

    session: str | None
    address: str | None


class VisitorLimiter:
    """Requests per minute and requests running at once, per session and per client address."""

    def __init__(self, limits: ShareLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._started: dict[str, deque[float]] = {}
        self._running: dict[str, int] = {}

    def applies_to(self, visitor: Visitor) -> bool:
        return self.limits.limit_localhost or not is_loopback(visitor.address)

    def _keys(self, visitor: Visitor) -> list[tuple[str, int, int, str]]:
        """(key, per-minute limit, at-once limit, who) for the session and the address."""
        keys = []
        if visitor.session:
            keys.append((f"session:{visitor.session}", self.limits.requests_per_minute,
                         self.limits.jobs_per_visitor, "this visitor has"))
        if visitor.address and not is_loopback(visitor.address):  # loopback: one address for every local visitor
            keys.append((f"address:{visitor.address}", self.limits.address_requests_per_minute,
                         self.limits.address_jobs, "your network address has"))
        return keys

    def _check(self, key: str, per_minute: int, at_once: int, who: str, now: float) -> None:
        window = self._started.setdefault(key, deque())
        while window and now - window[0] >= WINDOW_SECONDS:
            window.popleft()
        if per_minute and len(window) >= per_minute:
            wait = math.ceil(WINDOW_SECONDS - (now - window[0]))
            raise slow_down(f"{who} started {len(window)} requests in the last minute (limit {per_minute} "
                            f"per minute). Please wait {wait} s and try again.")
        if at_once and self._running.get(key, 0) >= at_once:
            raise slow_down(f"{who} {self._running[key]} requests still running (limit {at_once} at once). "
                            "Please wait for them to finish and try again.")

    @contextlib.contextmanager
    def admit(self, visitor: Visitor) -> Iterator[None]:
        """Count one request of ``visitor`` while the block runs; raises the "slow down" error
        (and counts nothing) when a limit is reached."""
        if not self.applies_to(visitor):
            yield
            return
        keys = self._keys(visitor)
        with self._lock:
            now = self._clock()
            for key, per_minute, at_once, who in keys:
                self._check(key, per_minute, at_once, who, now)
            for key, *_ in keys:
                self._started[key].append(now)
                self._running[key] = self._running.get(key, 0) + 1
        try:
            yield
        finally:
            with self._lock:
                for key, *_ in keys:
                    self._running[key] -= 1
                    if not self._running[key]:
                        del self._running[key]

    def forget_idle(self) -> int:
        """Drop the counters of visitors with nothing in the last minute and nothing running."""
        with self._lock:
            now = self._clock()
            idle = [key for key, window in self._started.items()
                    if key not in self._running and (not window or now - window[-1] >= WINDOW_SECONDS)]
            for key in idle:
                del self._started[key]
            return len(idle)


class FairSlot:
    """One slot (the Fusion Lab's training) taken in turns by visitors; see the module docstring.

    Attributes:
        last: who held the slot last (None: nobody yet).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._waiting: list[tuple[int, str]] = []  # (ticket, visitor key), in arrival order
        self._holder: str | None = None
        self.last: str | None = None

    def _next(self) -> int | None:
        if not self._waiting:
            return None
        for ticket, who in self._waiting:
            if who != self.last:
                return ticket
        return self._waiting[0][0]

    def ahead_of(self, who: str) -> int:
        """How many runs would go before a run ``who`` asks for now (the one running included)."""
        with self._cond:
            others = sum(1 for _, w in self._waiting if w != who)
            return others + (self._holder is not None)

    def holds_or_waits(self, who: str) -> bool:
        """True while ``who`` holds the slot or waits for it."""
        with self._cond:
            return self._holder == who or any(w == who for _, w in self._waiting)

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    @property
    def busy(self) -> bool:
        return self._holder is not None

    @contextlib.contextmanager
    def turn(self, who: str, on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
        """Hold the slot for ``who`` while the block runs, waiting for its turn first;
        ``on_wait(runs_ahead)`` is called when it has to wait."""
        with self._cond:
            ticket = next(self._tickets)
            self._waiting.append((ticket, who))
            if (self._holder is not None or self._next() != ticket) and on_wait is not None:
                on_wait(sum(1 for t, _ in self._waiting if t != ticket) + (self._holder is not None))
            while self._holder is not None or self._next() != ticket:
                self._cond.wait()
            self._waiting = [(t, w) for t, w in self._waiting if t != ticket]
            self._holder = who
        try:
            yield
        finally:
            with self._cond:
                self.last, self._holder = who, None
                self._cond.notify_all()

    @contextlib.contextmanager
    def if_free(self) -> Iterator[bool]:
        """Take the slot without waiting when it is free and nobody waits (yields True), else
        yield False at once: for maintenance that must not run during a training run."""
        with self._cond:
            free = self._holder is None and not self._waiting
            if free:
                self._holder = "(maintenance)"
        try:
            yield free
        finally:
            if free:
                with self._cond:
                    self._holder = None
                    self._cond.notify_all()
