"""webapp/upkeep.py in process: the guard around every queued handler (sessions, limits, training
turns, the latest run kept), and a session's state released from gradio's store."""

from __future__ import annotations

import dataclasses
import types

import gradio as gr
import pytest
from gradio.context import LocalContext
from gradio.state_holder import StateHolder

from webapp.limits import ShareLimits
from webapp.settings import AppSettings
from webapp.upkeep import TRAINING_CONCURRENCY_ID, TRAINING_ROOM, install


def _request(session: str, host: str = "203.0.113.9") -> gr.Request:
    request = gr.Request(session_hash=session)
    request.client = types.SimpleNamespace(host=host)  # what a real request's client gives
    return request


def _call(fn, request: gr.Request, *args):
    token = LocalContext.request.set(request)
    try:
        return fn(*args)
    finally:
        LocalContext.request.reset(token)


@pytest.fixture()
def app(tmp_path):
    limits = ShareLimits(requests_per_minute=2, max_sessions=2, max_runs=1)
    settings = dataclasses.replace(AppSettings(), runs_dir=tmp_path / "runs", share_limits=limits)
    runs = settings.runs_dir

    def train(name: str) -> dict:
        folder = runs / name / "run"
        folder.mkdir(parents=True)
        (folder / "fusion-lab-run.zip").write_bytes(b"zip")
        return {"download": str(folder / "fusion-lab-run.zip")}

    with gr.Blocks() as demo:
        box = gr.Textbox()
        state = gr.State([])
        gr.Button().click(lambda text: text, box, box, api_name="echo")
        gr.Button().click(train, box, box, api_name="train", concurrency_id=TRAINING_CONCURRENCY_ID,
                          concurrency_limit=1)
        gr.Button().click(lambda s: s, state, state, api_visibility="private")
    upkeep = install(demo, settings)
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    return types.SimpleNamespace(demo=demo, upkeep=upkeep, fns=fns, state=state, runs=runs)


def test_public_endpoints_are_limited_per_visitor_and_private_ones_only_register(app):
    echo = app.fns["echo"].fn
    assert _call(echo, _request("a"), "hi") == "hi"
    assert _call(echo, _request("a"), "hi") == "hi"
    with pytest.raises(gr.Error, match="Slow down: this visitor has started 2 requests"):
        _call(echo, _request("a"), "hi")
    assert _call(echo, _request("a", host="127.0.0.1"), "local") == "local"  # loopback: not limited
    private = next(fn for fn in app.demo.fns.values() if fn.api_name not in ("echo", "train"))
    for _ in range(5):
        _call(private.fn, _request("a"), [])
    _call(private.fn, _request("b"), [])
    with pytest.raises(gr.Error, match="The demo is full: 2 visitors"):
        _call(private.fn, _request("c"), [])


def test_the_training_event_takes_turns_and_keeps_each_visitors_latest_run(app):
    assert app.fns["train"].concurrency_limit == TRAINING_ROOM
    train = app.fns["train"].fn
    _call(train, _request("a"), "00000000a001")
    _call(train, _request("b"), "00000000b001")
    _call(train, _request("a"), "00000000a002")
    # --max-runs 1, but the latest run of each live visitor is kept; a's first run is gone
    assert sorted(p.name for p in app.runs.iterdir()) == ["00000000a002", "00000000b001"]
    app.upkeep.on_unload(_request("b"))  # b left: its run is no longer protected
    app.upkeep.sweep()
    assert sorted(p.name for p in app.runs.iterdir()) == ["00000000a002"]


def test_a_session_that_ends_has_its_state_released(app):
    holder = StateHolder()
    holder.set_blocks(app.demo)
    holder["s1"][app.state._id] = ["a big gallery"]
    _call(app.fns["echo"].fn, _request("s1", host="127.0.0.1"), "x")
    assert "s1" in app.upkeep.sessions and "s1" in holder
    app.upkeep.on_unload(_request("s1"))
    assert "s1" not in holder and "s1" not in app.upkeep.sessions


def test_a_head_of_a_removed_run_gets_a_clear_message_and_loaded_heads_are_bounded(tmp_path):
    import shutil

    from mmdemo.errors import IncompatibleError
    from mmdemo.training.catalog import BUNDLED_HEADS_DIR, HeadCache, named_heads

    bundled = next(iter(named_heads(BUNDLED_HEADS_DIR, "bundled").values()))
    copies = [shutil.copytree(bundled, tmp_path / f"run{i}" / "heads" / "concat") for i in range(3)]
    cache = HeadCache(max_heads=2)
    for folder in copies:
        cache.load(folder)
    assert len(cache) == 2  # the least recently used was dropped
    shutil.rmtree(tmp_path / "run2")  # the retention policy removed that run
    with pytest.raises(IncompatibleError, match="The fusion head 'concat' is no longer on the server") as err:
        cache.load(copies[2])
    assert str(tmp_path) not in str(err.value) and len(cache) == 1
