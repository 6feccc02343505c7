"""Load benchmark: requests per second and latency of the app under concurrent ``gradio_client``
traffic that mixes every tab's endpoints.

Starts ``python app.py`` on a free port (tiny checkpoints by default, or the bundled preset), sends
one sequential warm-up round, then ``--requests`` requests with ``--concurrency`` in flight, and
prints throughput, median / p95 latency, busy answers and the server's resident memory::

    python tests/reliability/load_bench.py                       # tiny models, 120 requests x 60
    python tests/reliability/load_bench.py --preset bundled --requests 200 --concurrency 32
    python tests/reliability/load_bench.py --url http://127.0.0.1:7860/ --pid 12345   # a running app
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from gradio_client import Client  # noqa: E402

from tests.inputs.make_inputs import make_inputs  # noqa: E402
from tests.reliability.endpoints import fill_gallery  # noqa: E402
from tests.reliability.helpers import build_tiny_checkpoints, launched_app, model_args  # noqa: E402
from tests.reliability.loadgen import LoadReport, request_mix, run_load  # noqa: E402

IMAGES = ("image_1x1", "image_palette", "image_alpha", "image_cmyk", "image_animated_gif")


def bench(url: str, pid: int, inputs: Path, requests: int, concurrency: int) -> LoadReport:
    client = Client(url, verbose=False, max_workers=concurrency, analytics_enabled=False,
                    httpx_kwargs={"timeout": 300})
    images = list(make_inputs(inputs, list(IMAGES)).values())
    fill_gallery(client, images[0])
    mix = request_mix(images, audio=make_inputs(inputs, ["audio_8_channels"])["audio_8_channels"])
    warm = run_load(client, pid, mix, total=len(mix), concurrency=1)
    if warm.count("ok") != len(mix):
        raise RuntimeError(f"warm-up failed: {[o.detail for o in warm.outcomes if o.status != 'ok']}")
    return run_load(client, pid, mix, total=requests, concurrency=concurrency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=120, help="requests to send (default 120)")
    parser.add_argument("--concurrency", type=int, default=60, help="requests in flight (default 60)")
    parser.add_argument("--preset", choices=["tiny", "bundled"], default="tiny",
                        help="models: tiny random checkpoints (default) or the bundled preset")
    parser.add_argument("--app-arg", action="append", default=[], metavar="ARG",
                        help="extra app.py argument, e.g. --app-arg=--concurrency=2 (repeatable)")
    parser.add_argument("--url", help="benchmark an app that is already running at this URL")
    parser.add_argument("--pid", type=int, help="process id of the running app (with --url), for memory")
    parser.add_argument("--json", action="store_true", help="also print the numbers as JSON")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    if args.url and not args.pid:
        parser.error("--url needs --pid (the app's process id, to read its memory)")

    with tempfile.TemporaryDirectory(prefix="mmdemo-load-") as tmp:
        work = Path(tmp)
        if args.url:
            report = bench(args.url, args.pid, work / "inputs", args.requests, args.concurrency)
        else:
            if args.preset == "tiny":
                app_args = model_args(build_tiny_checkpoints(work / "models"))
            else:
                app_args = ["--preset", "bundled"]
            with launched_app(app_args + args.app_arg, work / "app") as app:
                report = bench(app.url, app.pid, work / "inputs", args.requests, args.concurrency)
    print(report.summary())
    if args.json:
        print(json.dumps({
            "requests": len(report.outcomes), "concurrency": report.concurrency,
            "ok": report.count("ok"), "busy": report.count("busy"), "errors": report.count("error"),
            "requests_per_second": round(report.requests_per_second, 3),
            "median_s": round(report.percentile(50), 3), "p95_s": round(report.percentile(95), 3),
            "rss_peak_mb": round(report.rss_peak_mb, 1),
        }))
    return 0 if report.count("error") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
