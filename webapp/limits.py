"""What a shared link may use: disk (runs, embedding cache, upload cache), memory (sessions) and
each visitor's share of the server (requests per minute, jobs at once). :class:`ShareLimits` and
its command-line flags; :mod:`webapp.upkeep` enforces them (see docs/SECURITY.md, "Limits")."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass

from mmdemo.cache import DEFAULT_CACHE_MAX_MB
from mmdemo.retention import MIB, RunsPolicy

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``"90"`` / ``"90s"``, ``"30m"``, ``"24h"``, ``"7d"`` -> seconds; ValueError naming a bad value."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text).lower())
    if match is None:
        raise ValueError(f"Bad duration {text!r}; use a number of seconds or e.g. 90s, 30m, 24h, 7d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _env_cache_mb() -> float:
    configured = os.environ.get("MMDEMO_CACHE_MAX_MB", "").strip()
    return float(configured) if configured else float(DEFAULT_CACHE_MAX_MB)


@dataclass(frozen=True)
class ShareLimits:
    """Limits that keep a shared link healthy; defaults suit one CPU box serving a public link.

    Attributes:
        max_runs: Fusion Lab runs kept on disk (a live visitor's latest run is always kept).
        runs_max_mb: most MiB the runs folder holds (runs and generated worlds).
        runs_max_age: seconds a run is kept after it was last written.
        cache_max_mb: most MiB the on-disk embedding cache holds (least recently used evicted; 0: no cap).
        upload_cache_max_age: seconds gradio keeps an upload or a served result file.
        max_sessions: visitors with state in memory at once; the next one is asked to come back later.
        session_idle: seconds after a visitor's last request when their state (gallery, heads) is released.
        requests_per_minute: requests one session may start per minute (0: no limit).
        jobs_per_visitor: requests one session may have running at once (0: no limit).
        address_requests_per_minute: requests one client address may start per minute, all its sessions together.
        address_jobs: requests one client address may have running at once.
        limit_localhost: apply the per-visitor (session) limits to loopback clients too (off: local
            use is never throttled; on with ``--share``, whose tunnel delivers visitors from 127.0.0.1).
        upkeep_every: seconds between sweeps (idle sessions, runs retention, cache cap).
    """

    max_runs: int = 50
    runs_max_mb: float = 1024.0
    runs_max_age: float = 24 * 3600.0
    cache_max_mb: float = float(DEFAULT_CACHE_MAX_MB)
    upload_cache_max_age: float = 2 * 3600.0
    max_sessions: int = 200
    session_idle: float = 30 * 60.0
    requests_per_minute: int = 60
    jobs_per_visitor: int = 2
    address_requests_per_minute: int = 240
    address_jobs: int = 8
    limit_localhost: bool = False
    upkeep_every: float = 60.0

    @property
    def runs_policy(self) -> RunsPolicy:
        return RunsPolicy(max_runs=self.max_runs, max_bytes=int(self.runs_max_mb * MIB),
                          max_age_seconds=self.runs_max_age)

    @property
    def delete_cache(self) -> tuple[int, int]:
        """``gr.Blocks(delete_cache=(frequency, age))``: sweep every half age (at most 10 min)."""
        age = max(1, int(self.upload_cache_max_age))
        return max(1, min(600, age // 2)), age


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of :class:`ShareLimits`, in their own group of ``--help``."""
    d = ShareLimits()
    group = parser.add_argument_group("limits for a shared link (see docs/SECURITY.md)")
    group.add_argument("--max-runs", type=int, default=d.max_runs,
                       help=f"Fusion Lab runs kept on disk; a live visitor's latest run is always kept (default {d.max_runs})")
    group.add_argument("--runs-max-mb", type=float, default=d.runs_max_mb,
                       help=f"most MiB under --runs-dir, oldest runs removed first (default {d.runs_max_mb:.0f})")
    group.add_argument("--runs-max-age", type=_duration, default=d.runs_max_age, metavar="DURATION",
                       help="remove runs not written for this long, e.g. 90s, 30m, 24h, 7d (default 24h)")
    group.add_argument("--cache-max-mb", type=float, default=None,
                       help=f"most MiB of the embedding cache, least recently used evicted; 0: no cap "
                       f"(default $MMDEMO_CACHE_MAX_MB, else {DEFAULT_CACHE_MAX_MB})")
    group.add_argument("--upload-cache-max-age", type=_duration, default=d.upload_cache_max_age, metavar="DURATION",
                       help="delete uploads and served result files older than this (default 2h)")
    group.add_argument("--max-sessions", type=int, default=d.max_sessions,
                       help=f"visitors with state in memory at once; more are asked to come back later (default {d.max_sessions})")
    group.add_argument("--session-idle", type=_duration, default=d.session_idle, metavar="DURATION",
                       help="release a visitor's gallery and heads this long after their last request (default 30m)")
    group.add_argument("--requests-per-minute", type=int, default=d.requests_per_minute,
                       help=f"requests one visitor (session) may start per minute; 0: no limit (default {d.requests_per_minute})")
    group.add_argument("--jobs-per-visitor", type=int, default=d.jobs_per_visitor,
                       help=f"requests one visitor may have running at once; 0: no limit (default {d.jobs_per_visitor})")
    group.add_argument("--address-requests-per-minute", type=int, default=d.address_requests_per_minute,
                       help=f"requests one client address may start per minute, all sessions together (default {d.address_requests_per_minute})")
    group.add_argument("--address-jobs", type=int, default=d.address_jobs,
                       help=f"requests one client address may have running at once (default {d.address_jobs})")
    group.add_argument("--limit-localhost", action="store_true",
                       help="apply the per-session limits to loopback clients too (default: off, local use is not "
                       "limited; on with --share, whose tunnel delivers every visitor from 127.0.0.1)")
    group.add_argument("--upkeep-every", type=_duration, default=d.upkeep_every, metavar="DURATION",
                       help="time between sweeps of idle sessions, old runs and the cache (default 60s)")


def from_args(args: argparse.Namespace) -> ShareLimits:
    """The :class:`ShareLimits` that parsed flags ask for; ValueError naming a bad value."""
    limits = ShareLimits(
        max_runs=args.max_runs, runs_max_mb=args.runs_max_mb, runs_max_age=args.runs_max_age,
        cache_max_mb=_env_cache_mb() if args.cache_max_mb is None else args.cache_max_mb,
        upload_cache_max_age=args.upload_cache_max_age, max_sessions=args.max_sessions,
        session_idle=args.session_idle, requests_per_minute=args.requests_per_minute,
        jobs_per_visitor=args.jobs_per_visitor, address_requests_per_minute=args.address_requests_per_minute,
        address_jobs=args.address_jobs, upkeep_every=args.upkeep_every,
        # a --share link's visitors arrive through a local tunnel, from 127.0.0.1
        limit_localhost=args.limit_localhost or bool(getattr(args, "share", False)),
    )
    if limits.max_runs < 1 or limits.max_sessions < 1:
        raise ValueError("--max-runs and --max-sessions must be at least 1")
    negative = [name for name in ("runs_max_mb", "cache_max_mb", "requests_per_minute", "jobs_per_visitor",
                                  "address_requests_per_minute", "address_jobs") if getattr(limits, name) < 0]
    if negative:
        raise ValueError(f"--{negative[0].replace('_', '-')} must not be negative")
    if limits.runs_max_age <= 0 or limits.session_idle <= 0 or limits.upkeep_every <= 0:
        raise ValueError("--runs-max-age, --session-idle and --upkeep-every must be positive durations")
    return limits
