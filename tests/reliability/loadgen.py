"""Concurrent ``gradio_client`` load against a running app: a mix of every tab's endpoints, each
request timed and classified as a result, a "busy" answer (queue full) or an error, while the
server's resident memory is sampled from /proc.

Used by ``test_load.py`` (correctness under load) and ``load_bench.py`` (throughput numbers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradio_client import Client, handle_file

from tests.reliability.helpers import rss_mb

BUSY_MARKERS = ("queue is full", "busy", "too many requests")


@dataclass
class Outcome:
    """One request: which endpoint, how it ended, how long it took (seconds)."""

    endpoint: str
    status: str  # "ok", "busy" or "error"
    seconds: float
    detail: str = ""


@dataclass
class LoadReport:
    """Everything one load run measured."""

    outcomes: list[Outcome]
    wall_seconds: float
    rss_start_mb: float
    rss_peak_mb: float
    rss_end_mb: float
    concurrency: int
    by_endpoint: dict[str, int] = field(default_factory=dict)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok_latencies(self) -> list[float]:
        return sorted(o.seconds for o in self.outcomes if o.status == "ok")

    def percentile(self, q: float) -> float:
        """Latency percentile (0-100) of successful requests, nearest-rank."""
        values = self.ok_latencies
        if not values:
            return float("nan")
        rank = max(1, min(len(values), round(q / 100 * len(values) + 0.5)))
        return values[rank - 1]

    @property
    def requests_per_second(self) -> float:
        return self.count("ok") / self.wall_seconds if self.wall_seconds > 0 else float("nan")

    def summary(self) -> str:
        lat = self.ok_latencies
        median = self.percentile(50)
        mix = ", ".join(f"{name} x{n}" for name, n in sorted(self.by_endpoint.items()))
        return (
            f"{len(self.outcomes)} requests at concurrency {self.concurrency} ({mix}): "
            f"{self.count('ok')} ok, {self.count('busy')} busy, {self.count('error')} errors in "
            f"{self.wall_seconds:.1f} s -> {self.requests_per_second:.2f} req/s; latency median "
            f"{median:.2f} s, p95 {self.percentile(95):.2f} s, max {max(lat) if lat else float('nan'):.2f} s; "
            f"server RSS {self.rss_start_mb:.0f} -> peak {self.rss_peak_mb:.0f} -> {self.rss_end_mb:.0f} MiB"
        )


def request_mix(images: list[Path], audio: Path | None = None) -> list[tuple[str, Callable[[Client], Any]]]:
    """The endpoints of every tab that answers in about a second, with light settings, as
    (name, call) pairs. The retrieval queries search the client's session gallery: fill it first
    (``endpoints.fill_gallery``). Fusion Lab training is left out: it runs for tens of seconds."""
    first = images[0]

    def zero_shot(client: Client, image: Path) -> Any:
        return client.submit(handle_file(str(image)), "red, blue, green", "a photo of a {}.", api_name="/zero_shot")

    mix: list[tuple[str, Callable[[Client], Any]]] = [
        (f"zero_shot[{image.name}]", lambda c, image=image: zero_shot(c, image)) for image in images
    ]
    mix += [
        ("caption", lambda c: c.submit(handle_file(str(first)), "greedy", 1, 1, 8, 0.9, 1.0, "", 0, api_name="/caption")),
        ("answer", lambda c: c.submit(handle_file(str(first)), "what color is the shape?", [], api_name="/answer")),
        ("clear_history", lambda c: c.submit(handle_file(str(first)), api_name="/clear_history")),
        ("status", lambda c: c.submit(api_name="/status")),
        ("retrieve[text]", lambda c: c.submit("a red circle", None, None, 3, "any", api_name="/retrieve")),
    ]
    if audio is not None:
        mix.append(("retrieve[audio]", lambda c: c.submit("", None, handle_file(str(audio)), 3, "any", api_name="/retrieve")))
    return mix


def _classify(error: BaseException) -> str:
    text = str(error).lower()
    return "busy" if any(marker in text for marker in BUSY_MARKERS) else "error"


def run_load(
    client: Client,
    pid: int,
    mix: list[tuple[str, Callable[[Client], Any]]],
    total: int,
    concurrency: int,
    timeout: float = 300.0,
    sample_every: float = 0.05,
) -> LoadReport:
    """Send ``total`` requests (cycling through ``mix``) with ``concurrency`` in flight at once."""
    rss_start = rss_mb(pid)
    peak = [rss_start]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], rss_mb(pid))
            except (OSError, RuntimeError):
                return
            stop.wait(sample_every)

    def one(index: int) -> Outcome:
        name, make = mix[index % len(mix)]
        start = time.perf_counter()
        try:
            make(client).result(timeout=timeout)
            return Outcome(name, "ok", time.perf_counter() - start)
        except Exception as error:  # every failure is recorded and classified, none hidden
            return Outcome(name, _classify(error), time.perf_counter() - start, f"{type(error).__name__}: {error}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(one, range(total)))
    wall = time.perf_counter() - began
    stop.set()
    sampler.join()
    by_endpoint: dict[str, int] = {}
    for outcome in outcomes:
        by_endpoint[outcome.endpoint] = by_endpoint.get(outcome.endpoint, 0) + 1
    return LoadReport(outcomes, wall, rss_start, max(peak[0], rss_mb(pid)), rss_mb(pid), concurrency, by_endpoint)
