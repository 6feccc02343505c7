"""Soak test: many simulated visitors over minutes against one app on the loopback interface.

Each visitor is its own ``gradio_client`` session with its own generated image and audio clip:
it loads the page (``/status``), asks for a caption and an answer, adds its image, clip and a
text to its gallery and searches it by voice and by text; a share of them also trains in the
Fusion Lab on its own small uploaded data set (one strategy, two epochs, one seed) and keeps the
link of the result. Half close their page when done (the session ends), the others stay idle.
Meanwhile the server's resident memory and the bytes under its runs folder, embedding cache and
upload cache are sampled. At the end every trainer's latest result is downloaded again.

Bounded: ``--sessions`` visitors, arrivals spread over ``--minutes``, ``--concurrency`` at once,
every call with a timeout; loopback only (the app listens on 127.0.0.1)::

    python -m tests.reliability.soak --sessions 400 --minutes 10 --json soak.json --plot docs/soak.png

``tests/reliability/test_soak.py`` runs it at CI size and asserts what it measures.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile
from gradio_client import Client, handle_file
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from mmdemo.cache import CACHE_FILES  # noqa: E402
from mmdemo.retention import cache_files  # noqa: E402
from tests.reliability.helpers import LaunchedApp, build_tiny_checkpoints, launched_app, model_args, rss_mb  # noqa: E402

CALL_TIMEOUT = 240.0
# Answers that are a clear refusal written for people (not lost, not a generic error).
REFUSALS = ("queue is full", "slow down", "the demo is full")


@dataclass(frozen=True)
class SoakConfig:
    """One soak run.

    Attributes:
        sessions: simulated visitors (one gradio_client session each).
        minutes: arrivals are spread evenly over this time (0: all as fast as ``concurrency`` allows).
        concurrency: visitors active at once.
        train_every: every n-th visitor (0, n, 2n, ...) also trains in the Fusion Lab.
        full_every: every n-th visitor also asks for a caption and searches by text (1: all).
        session_idle: the app's ``--session-idle`` (None: its default).
        page_load: each visitor first loads the page (``/status``).
        app_concurrency: the app's ``--concurrency`` (requests one model runs at once).
        requests_per_minute: the app's ``--requests-per-minute``, applied to loopback visitors too.
        max_runs, runs_max_mb, cache_max_mb: the app's caps (small, so they are reached).
        sample_every: seconds between memory and disk samples.
    """

    sessions: int = 100
    minutes: float = 0.0
    concurrency: int = 12
    train_every: int = 10
    full_every: int = 1
    max_runs: int = 6
    runs_max_mb: float = 2.5
    cache_max_mb: float = 0.05
    session_idle: str | None = None
    page_load: bool = True
    app_concurrency: int = 1
    requests_per_minute: int = 10
    sample_every: float = 0.5

    def app_args(self) -> list[str]:
        idle = ["--session-idle", self.session_idle] if self.session_idle else []
        # Per-visitor limits on, for loopback too, per session only (every visitor shares 127.0.0.1):
        # a visitor sends at most 7 requests, so none may be refused.
        limits = ["--limit-localhost", "--requests-per-minute", str(self.requests_per_minute),
                  "--address-requests-per-minute", "0", "--address-jobs", "0"]
        return ["--max-runs", str(self.max_runs), "--runs-max-mb", f"{self.runs_max_mb:g}",
                "--cache-max-mb", f"{self.cache_max_mb:g}", "--upkeep-every", "5s",
                "--concurrency", str(self.app_concurrency), *limits, *idle]

    def expected_calls(self) -> int:
        """Requests the visitors send: status (if ``page_load``), answer, gallery_add and one search
        each, a caption and a text search for every ``full_every``-th, a training run for every
        ``train_every``-th."""
        visitors = range(self.sessions)
        return ((3 + self.page_load) * self.sessions + 2 * sum(v % self.full_every == 0 for v in visitors)
                + sum(v % self.train_every == 0 for v in visitors))

    def closes(self, visitor: int) -> bool:
        """Half the visitors close their page when done (half the trainers too); the others stay."""
        return visitor % 4 < 2


@dataclass
class Call:
    """One request: who sent it, to which endpoint, how it ended, when (s since start), how long."""

    visitor: int
    endpoint: str
    status: str  # "ok", "refused" or "error"
    at: float
    seconds: float
    detail: str = ""


@dataclass
class Sample:
    """The server at one moment: seconds since start, resident MiB, bytes under each folder."""

    at: float
    rss_mb: float
    runs_bytes: int
    cache_bytes: int
    uploads_bytes: int


@dataclass
class SoakReport:
    """Everything a soak run measured."""

    config: SoakConfig
    calls: list[Call]
    samples: list[Sample]
    wall_seconds: float
    warm_rss_mb: float  # after the first tenth of the visitors
    largest_run_bytes: int
    downloads: dict[int, bool] = field(default_factory=dict)  # trainer -> latest result downloaded again

    def count(self, status: str) -> int:
        return sum(1 for c in self.calls if c.status == status)

    def percentile(self, q: float) -> float:
        values = sorted(c.seconds for c in self.calls if c.status == "ok")
        if not values:
            return float("nan")
        return values[max(1, min(len(values), round(q / 100 * len(values) + 0.5))) - 1]

    def peak(self, name: str) -> float:
        return max(getattr(s, name) for s in self.samples)

    def summary(self) -> str:
        mib = 1 << 20
        return (
            f"{self.config.sessions} sessions, {len(self.calls)} requests in {self.wall_seconds:.0f} s: "
            f"{self.count('ok')} ok, {self.count('refused')} refused, {self.count('error')} errors; latency p50 "
            f"{self.percentile(50):.2f} s, p95 {self.percentile(95):.2f} s; RSS warm {self.warm_rss_mb:.0f} -> peak "
            f"{self.peak('rss_mb'):.0f} -> end {self.samples[-1].rss_mb:.0f} MiB; runs peak "
            f"{self.peak('runs_bytes') / mib:.2f} MiB (cap {self.config.runs_max_mb:g}), cache peak "
            f"{self.peak('cache_bytes') / mib:.3f} MiB (cap {self.config.cache_max_mb:g}), uploads end "
            f"{self.samples[-1].uploads_bytes / mib:.1f} MiB; latest results downloadable: "
            f"{sum(self.downloads.values())}/{len(self.downloads)}"
        )

    def to_json(self) -> dict:
        return {"config": asdict(self.config), "summary": self.summary(), "wall_seconds": self.wall_seconds,
                "p50": self.percentile(50), "p95": self.percentile(95), "ok": self.count("ok"),
                "refused": self.count("refused"), "errors": self.count("error"), "warm_rss_mb": self.warm_rss_mb,
                "samples": [asdict(s) for s in self.samples], "downloads": self.downloads,
                "calls": [[c.visitor, c.endpoint, c.status, round(c.at, 3), round(c.seconds, 3)] for c in self.calls],
                "errors_detail": [asdict(c) for c in self.calls if c.status != "ok"][:50]}

    def plot(self, path: Path) -> Path:
        """Requests per 10 s, p95 latency, RSS and disk over time, as one PNG."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        mib = 1 << 20
        fig, axes = plt.subplots(3, 1, figsize=(8, 8), sharex=True)
        times = [s.at for s in self.samples]
        bucket = 10.0
        n = int(self.wall_seconds // bucket) + 1
        counts, p95 = [0] * n, []
        for call in self.calls:
            counts[min(n - 1, int(call.at // bucket))] += 1
        for i in range(n):
            inside = sorted(c.seconds for c in self.calls if c.status == "ok" and i * bucket <= c.at < (i + 1) * bucket)
            p95.append(inside[int(0.95 * (len(inside) - 1))] if inside else float("nan"))
        mids = [(i + 0.5) * bucket for i in range(n)]
        axes[0].bar(mids, counts, width=bucket * 0.9, color="tab:blue", label="requests / 10 s")
        twin = axes[0].twinx()
        twin.plot(mids, p95, color="tab:red", marker=".", label="p95 latency (s)")
        axes[0].set_ylabel("requests / 10 s")
        twin.set_ylabel("p95 latency (s)")
        axes[0].set_title(f"Soak: {self.config.sessions} visitor sessions, {len(self.calls)} requests, "
                          f"{self.count('error')} errors")
        axes[1].plot(times, [s.rss_mb for s in self.samples], color="tab:purple")
        axes[1].axhline(self.warm_rss_mb, color="grey", linestyle=":", label="after warm-up")
        axes[1].set_ylabel("server RSS (MiB)")
        axes[1].legend(loc="lower right")
        axes[2].plot(times, [s.runs_bytes / mib for s in self.samples], color="tab:blue", label="runs folder")
        axes[2].plot(times, [s.uploads_bytes / mib for s in self.samples], color="tab:green",
                     label="upload cache (age-limited)")
        axes[2].axhline(self.config.runs_max_mb, color="tab:blue", linestyle=":", label="runs cap")
        axes[2].set_ylabel("MiB on disk")
        axes[2].set_xlabel("seconds since start")
        axes[2].legend(loc="upper left", fontsize=8)
        kib = axes[2].twinx()
        kib.plot(times, [s.cache_bytes / 1024 for s in self.samples], color="tab:orange", label="embedding cache")
        kib.axhline(self.config.cache_max_mb * 1024, color="tab:orange", linestyle=":", label="cache cap")
        kib.set_ylabel("embedding cache (KiB)")
        kib.set_ylim(0, self.config.cache_max_mb * 1024 * 1.3)
        kib.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path


def cache_entry_bytes(folder: Path) -> int:
    """Bytes of what the cache cap governs (:data:`mmdemo.cache.CACHE_FILES`): entries and kept
    converted models. A conversion in progress saves into a temp folder there first and drops it
    when it is over the cap (tiny towers convert to ~170 KiB, over the soak's 50 KiB cap)."""
    return sum(size for _, size, _ in cache_files(folder, patterns=CACHE_FILES))


def folder_bytes(folder: Path) -> int:
    total = 0
    for base, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.stat(os.path.join(base, name), follow_symlinks=False).st_size
            except FileNotFoundError:
                continue
    return total


@dataclass(frozen=True)
class VisitorMedia:
    """A visitor's own files: an image, a clip, and (trainers) a small data set."""

    image: Path
    audio: Path
    data_set: Path | None


def make_media(folder: Path, visitor: int, trainer: bool) -> VisitorMedia:
    """Distinct content per visitor (seeded by its number), so every upload misses the cache."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(visitor)
    image = folder / f"visitor{visitor}.png"
    Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(image)
    audio = folder / f"visitor{visitor}.wav"
    t = np.arange(8000) / 16_000
    soundfile.write(audio, (0.3 * np.sin(2 * np.pi * (200 + 7 * visitor) * t)).astype(np.float32), 16_000)
    data_set = None
    if trainer:
        data_set = folder / f"visitor{visitor}.zip"
        rows = ["text,image,label"]
        with zipfile.ZipFile(data_set, "w") as handle:
            for index in range(16):
                colour, rgb = (("red", (220, 20, 20)), ("blue", (20, 20, 220)))[index % 2]
                buffer = io.BytesIO()
                shade = tuple(int(c) for c in np.clip(np.array(rgb) + rng.integers(-20, 20, 3), 0, 255))
                Image.new("RGB", (16, 16), shade).save(buffer, format="PNG")
                handle.writestr(f"data/images/{index}.png", buffer.getvalue())
                rows.append(f"a {colour} square {visitor}-{index},images/{index}.png,{colour}")
            handle.writestr("data/manifest.csv", "\n".join(rows) + "\n")
    return VisitorMedia(image, audio, data_set)


def _status_of(error: BaseException) -> str:
    text = str(error).lower()
    return "refused" if any(marker in text for marker in REFUSALS) else "error"


class Soak:
    """One soak run against a launched app (see the module docstring)."""

    def __init__(self, app: LaunchedApp, config: SoakConfig, media_dir: Path) -> None:
        self.app, self.config, self.media_dir = app, config, media_dir
        self.calls: list[Call] = []
        self.samples: list[Sample] = []
        self.latest: dict[int, str] = {}  # trainer -> URL of its latest result
        self.open_clients: list[Client] = []
        self._lock = threading.Lock()
        self._start = time.perf_counter()
        self.warm_rss = float("nan")

    def _elapsed(self) -> float:
        return time.perf_counter() - self._start

    def _call(self, visitor: int, client: Client, endpoint: str, *args):
        began = self._elapsed()
        try:
            result = client.submit(*args, api_name=f"/{endpoint}").result(timeout=CALL_TIMEOUT)
            call = Call(visitor, endpoint, "ok", began, self._elapsed() - began)
        except Exception as error:  # every failure is recorded and classified, none hidden
            result = None
            call = Call(visitor, endpoint, _status_of(error), began, self._elapsed() - began,
                        f"{type(error).__name__}: {error}"[:500])
        with self._lock:
            self.calls.append(call)
        return result

    def visit(self, visitor: int) -> None:
        trainer = visitor % self.config.train_every == 0
        full = visitor % self.config.full_every == 0
        media = make_media(self.media_dir, visitor, trainer)
        client = Client(self.app.url, verbose=False, analytics_enabled=False, download_files=False,
                        httpx_kwargs={"timeout": 120})
        image, audio = handle_file(str(media.image)), handle_file(str(media.audio))
        if self.config.page_load:
            self._call(visitor, client, "status")
        if full:
            self._call(visitor, client, "caption", image, "greedy", 1, 1, 8, 0.9, 1.0, "", 0)
        self._call(visitor, client, "answer", image, "what color is the shape?", [])
        self._call(visitor, client, "gallery_add", [image, audio], f"a note from visitor {visitor}")
        self._call(visitor, client, "retrieve", "", None, audio, 3, "any")
        if full:
            self._call(visitor, client, "retrieve", f"visitor {visitor}", None, None, 3, "any")
        if media.data_set is not None:
            result = self._call(visitor, client, "train_fusion", "upload", 100, handle_file(str(media.data_set)), "",
                                ["concat"], 2, 8, "adamw", 0.001, "none", 0.0001, 0.0, 0.0, 0.0, 0, visitor, 1, False)
            if result is not None:
                download = result[-1]  # the zip is the last output a client receives
                with self._lock:
                    self.latest[visitor] = download["url"] if isinstance(download, dict) else str(download)
        if self.config.closes(visitor):
            client.close()  # the page is closed: the server ends the session
        else:
            with self._lock:
                self.open_clients.append(client)
        if visitor == max(1, self.config.sessions // 10):
            self.warm_rss = rss_mb(self.app.pid)

    def sample(self, stop: threading.Event) -> None:
        work = self.app.workdir
        while True:
            try:
                self.samples.append(Sample(self._elapsed(), rss_mb(self.app.pid), folder_bytes(work / "runs"),
                                           cache_entry_bytes(work / "cache"), folder_bytes(work / "gradio-tmp")))
            except (OSError, RuntimeError):
                return
            if stop.wait(self.config.sample_every):
                return

    def download_latest(self) -> dict[int, bool]:
        """Fetch every trainer's latest result again: a complete zip, or False."""
        found = {}
        for visitor, url in sorted(self.latest.items()):
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    data = response.read()
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    found[visitor] = archive.testzip() is None and any(n.endswith("head.json") for n in archive.namelist())
            except (OSError, zipfile.BadZipFile):
                found[visitor] = False
        return found

    def run(self) -> SoakReport:
        stop = threading.Event()
        sampler = threading.Thread(target=self.sample, args=(stop,), daemon=True)
        sampler.start()
        spacing = self.config.minutes * 60 / max(1, self.config.sessions)

        def arrive(visitor: int) -> None:
            delay = visitor * spacing - self._elapsed()
            if delay > 0:
                time.sleep(delay)
            self.visit(visitor)

        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            list(pool.map(arrive, range(self.config.sessions)))
        downloads = self.download_latest()
        with ThreadPoolExecutor(max_workers=32) as pool:  # each close waits up to 1 s for its heartbeat
            list(pool.map(Client.close, self.open_clients))
        time.sleep(self.config.sample_every * 2)
        stop.set()
        sampler.join()
        largest = max((folder_bytes(p) for p in (self.app.workdir / "runs").iterdir() if p.is_dir()), default=0)
        return SoakReport(self.config, sorted(self.calls, key=lambda c: c.at), self.samples, self._elapsed(),
                          self.warm_rss, largest, downloads)


def report_from_json(data: dict) -> SoakReport:
    """A :class:`SoakReport` back from :meth:`SoakReport.to_json` (to redraw its plot)."""
    calls = [Call(v, e, st, at, sec) for v, e, st, at, sec in data["calls"]]
    samples = [Sample(**s) for s in data["samples"]]
    return SoakReport(SoakConfig(**data["config"]), calls, samples, data["wall_seconds"], data["warm_rss_mb"], 0,
                      {int(k): v for k, v in data["downloads"].items()})


def run_soak(app: LaunchedApp, config: SoakConfig, media_dir: Path) -> SoakReport:
    return Soak(app, config, media_dir).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=SoakConfig.sessions)
    parser.add_argument("--minutes", type=float, default=5.0, help="spread the arrivals over this time")
    parser.add_argument("--concurrency", type=int, default=SoakConfig.concurrency)
    parser.add_argument("--train-every", type=int, default=SoakConfig.train_every)
    parser.add_argument("--session-idle", default="60s", help="the app's --session-idle (default 60s)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--plot", type=Path, default=None, help="write the PNG plot here")
    parser.add_argument("--replot", type=Path, default=None, help="only redraw --plot from this --json file")
    args = parser.parse_args(argv)
    if args.replot:
        report = report_from_json(json.loads(args.replot.read_text()))
        print(report.summary())
        print("plot:", report.plot(args.plot or args.replot.with_suffix(".png")))
        return 0
    if not 1 <= args.sessions <= 5000 or not 0 <= args.minutes <= 120:
        parser.error("--sessions must be 1-5000 and --minutes 0-120 (the soak is bounded)")
    config = SoakConfig(sessions=args.sessions, minutes=args.minutes, concurrency=args.concurrency,
                        train_every=args.train_every, session_idle=args.session_idle)
    with tempfile.TemporaryDirectory(prefix="mmdemo-soak-") as tmp:
        work = Path(tmp)
        checkpoints = build_tiny_checkpoints(work / "checkpoints")
        with launched_app(model_args(checkpoints) + config.app_args(), work / "app") as app:
            report = run_soak(app, config, work / "media")
    print(report.summary())
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=1))
    if args.plot:
        print("plot:", report.plot(args.plot))
    return 0 if report.count("error") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
