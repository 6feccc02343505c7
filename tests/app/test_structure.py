"""The app's shape, in-process and without a server: a short ``app.py``, one module per tab with
``build``, settings passed in, every event named with its parameters in the order clients use,
and handlers that return each output by its component (a tiny Fusion Lab run included)."""

from __future__ import annotations

import csv
import inspect
import re
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

from mmdemo import presets, registry
from mmdemo.errors import MediaError
from tests.app.server import ROOT
from tests.app.test_client import EXPECTED_ENDPOINTS
from tests.app.test_explain import EXPLAIN_PARAMETERS
from webapp import common, main, settings
from webapp.i18n import english
from webapp.main import build_app
from webapp.settings import AppSettings, parse_args, parse_auth
from webapp.tabs import captioning, classification, fusion_lab, image_qa, retrieval
from webapp.tabs.fusion_lab import LabRequest

TAB_MODULES = [captioning, image_qa, classification, retrieval, fusion_lab]

# What gradio_client callers (tests/app, tests/reliability, README) pass, positionally, per endpoint.
ENDPOINT_PARAMETERS = {
    "/caption": ["image", "strategy", "num_captions", "num_beams", "max_new_tokens", "top_p", "temperature",
                 "prefix", "seed"],
    "/answer": ["image", "question", "history"],
    "/answer_submit": ["image", "question", "history"],
    "/clear_history": ["_image"],
    "/zero_shot": ["image", "labels", "template"],
    "/classify_fusion": ["head_name", "text", "image", "audio"],
    "/retrieve": ["query_text", "query_image", "query_audio", "k", "modality"],
    "/gallery_add": ["files", "texts"],
    "/gallery_reset": [],
    "/train_fusion": ["source", "samples", "upload", "labels", "strategies", "epochs", "batch_size", "optimizer",
                      "lr", "schedule", "weight_decay", "l1", "feature_noise", "modality_dropout", "patience", "seed",
                      "seeds", "baselines"],
    "/refresh_heads": [],
    "/status": [],
} | EXPLAIN_PARAMETERS


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> gr.Blocks:
    return build_app(AppSettings(runs_dir=tmp_path_factory.mktemp("runs")))


def event(demo: gr.Blocks, api_name: str):
    (fn,) = [fn for fn in demo.fns.values() if fn.api_name == api_name]
    return fn


def test_app_py_is_a_short_shell() -> None:
    lines = (ROOT / "app.py").read_text().splitlines()
    assert len(lines) < 80
    assert "gr.Blocks" not in "\n".join(lines)  # the page is built in webapp/


@pytest.mark.parametrize("module", TAB_MODULES, ids=lambda m: m.__name__)
def test_each_tab_module_builds_from_settings(module) -> None:
    parameters = list(inspect.signature(module.build).parameters)
    assert parameters[0] == "settings"


def test_no_module_holds_settings_of_its_own() -> None:
    for module in [common, main, settings, *TAB_MODULES]:
        assert not [name for name, value in vars(module).items() if isinstance(value, AppSettings)], module


def test_every_event_is_named_with_its_parameters_in_order(demo: gr.Blocks) -> None:
    public = [fn for fn in demo.fns.values() if fn.api_visibility == "public"]
    assert all(fn.api_name for fn in public)
    assert {f"/{fn.api_name}" for fn in public} == EXPECTED_ENDPOINTS
    endpoints = demo.get_api_info()["named_endpoints"]
    assert {name: [p["parameter_name"] for p in info["parameters"]] for name, info in endpoints.items()} \
        == ENDPOINT_PARAMETERS


def test_settings_come_from_the_command_line_without_side_effects(tmp_path: Path) -> None:
    before = registry.default_models()
    parsed = parse_args(["--auth", "ann:pw", "--dtype", "float32", "--caption-model", "some/folder",
                         "--max-gallery", "7", "--runs-dir", str(tmp_path)])
    assert parsed.auth == [("ann", "pw")] and parsed.dtype == "float32" and parsed.device == "auto"
    assert parsed.overrides == {"caption": "some/folder"} and parsed.max_gallery == 7
    assert parsed.runs_dir == tmp_path and parsed.preset == "auto" and parsed.preset_reason == ""
    assert parsed.runtime is None and parse_args(["--runtime", "torch"]).runtime == "torch"  # None: MMDEMO_RUNTIME
    assert registry.default_models() == before  # nothing applied until apply_model_settings
    assert AppSettings().host == "127.0.0.1" and AppSettings().concurrency == 1
    with pytest.raises(ValueError, match="Bad --auth value 'nopassword'"):
        parse_auth(["nopassword"])
    with pytest.raises(SystemExit):
        parse_args(["--concurrency", "0"])


def test_cheap_handlers_return_each_output_by_component(demo: gr.Blocks) -> None:
    for api_name, args in (("clear_history", ["image.png"]), ("refresh_heads", [{"mine/concat": "/x"}]),
                           ("status", [])):
        fn = event(demo, api_name)
        result = fn.fn(*args)
        assert isinstance(result, dict) and set(result) == set(fn.outputs), api_name
    result = event(demo, "refresh_heads").fn({"mine/concat": "/x"})
    (dropdown,) = result.values()
    assert dropdown.value == "mine/concat"  # the newest head is chosen
    (status,) = event(demo, "status").fn().values()
    assert all(f"{role}: `" in status for role in registry.ROLES)


def test_a_missing_input_is_asked_for_by_name(demo: gr.Blocks) -> None:
    with pytest.raises(gr.Error, match="Please provide an image first"):
        event(demo, "caption").fn(None, "greedy", 1, 3, 30, 0.9, 1.0, "", 0)
    with pytest.raises(gr.Error, match="Choose at least one fusion strategy"):
        event(demo, "train_fusion").fn(session_heads={}, **lab_inputs(strategies=[]))


def lab_inputs(**changes) -> dict:
    values = dict(source="upload", samples=100, upload=None, labels="", strategies=["concat"], epochs=2,
                  batch_size=8, optimizer="adamw", lr=0.01, schedule="none", weight_decay=0.0001, l1=0,
                  feature_noise=0, modality_dropout=0, patience=0, seed=1)
    return values | changes


def test_lab_request_groups_the_training_settings() -> None:
    request = LabRequest.from_inputs(**lab_inputs(labels=" colour, size ", epochs=3.0, patience=4.0))
    assert request.label_columns == ["colour", "size"] and request.strategies == ["concat"]
    assert request.config.epochs == 3 and isinstance(request.config.epochs, int)
    assert request.config.patience == 4 and request.config.lr == 0.01 and request.config.seed == 1


@pytest.fixture
def tiny_defaults(tiny_models):
    """The registry's image-text and audio defaults point at the tiny models for one test."""
    preset, defaults = presets.active_preset(), registry.default_models()
    registry.set_default_model("image-text", tiny_models.clip)
    registry.set_default_model("audio", tiny_models.audio)
    yield tiny_models
    presets.use_preset(preset)
    for role, name in defaults.items():
        registry.set_default_model(role, name)


def test_fusion_lab_returns_each_output_by_component(demo: gr.Blocks, tiny_defaults, tmp_path: Path) -> None:
    rows = []
    for i in range(24):
        colour = ["red", "blue"][i % 2]
        Image.new("RGB", (24, 24), (255, 0, 0) if colour == "red" else (0, 0, 255)).save(tmp_path / f"{i}.png")
        rows.append({"text": f"a {colour} thing", "image": f"{i}.png", "colour": colour})
    with open(tmp_path / "manifest.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "image", "colour"])
        writer.writeheader()
        writer.writerows(rows)
    fn = event(demo, "train_fusion")
    result = fn.fn(session_heads={"earlier/lmf": "/x"}, **lab_inputs(upload=str(tmp_path / "manifest.csv")))
    assert isinstance(result, dict) and set(result) == set(fn.outputs)
    by_label = {english(getattr(component, "label", None)): value for component, value in result.items()}
    assert by_label["Comparison"][0][0] == "concat"
    assert by_label["Trained heads + report (zip)"].endswith(".zip")
    summary = next(v for c, v in result.items() if getattr(c, "elem_id", None) == "lab-summary")
    assert summary.startswith("Trained 1 strategy on")  # not "1 strategies"
    (heads,) = [v for c, v in result.items() if isinstance(c, gr.State) and isinstance(v, dict)]
    # named by what it is: the uploaded file, the task, the strategy and the date
    assert list(heads)[0] == "earlier/lmf" and re.fullmatch(r"manifest\.csv · colour · concat · [\d-]+ [\d:]+", list(heads)[1])
    assert Path(heads[list(heads)[1]], "head.json").is_file()
    report = (Path(heads[list(heads)[1]]).parents[1] / "report.md").read_text()
    assert "- data: `manifest.csv`" in report and str(tmp_path) not in report  # not the server's path


def test_the_bundled_world_is_embedded_by_the_bundled_models_in_any_preset(demo: gr.Blocks, monkeypatch,
                                                                          tmp_path: Path) -> None:
    """The offline (or pretrained) preset answers the other tabs; the shapes world keeps its models."""
    seen = {}

    def fake_run_lab(manifest, strategies, config, **kwargs):
        seen.update(kwargs, manifest=manifest)
        raise MediaError("stop here")

    monkeypatch.setattr(fusion_lab, "run_lab", fake_run_lab)
    monkeypatch.setattr(fusion_lab, "world_manifest", lambda folder, samples, seed, progress=None: tmp_path / "manifest.csv")
    before = presets.active_preset()
    presets.use_preset("offline")
    try:
        fn = event(demo, "train_fusion")
        with pytest.raises(gr.Error, match="stop here"):
            fn.fn(session_heads={}, **lab_inputs(source="bundled world"))
    finally:
        presets.use_preset(before)
    assert seen["models"] == {"text": "bundled-clip", "image": "bundled-clip", "audio": "bundled-audio"}


def test_a_lab_run_shows_its_progress_in_one_panel(demo: gr.Blocks) -> None:
    (target,) = event(demo, "train_fusion").show_progress_on  # one bar (and one error badge), not one per output
    assert target.elem_id == "lab-status"


def test_an_upload_switches_the_data_choice_and_the_world_labels_are_offered() -> None:
    source, labels = fusion_lab.uploaded("/tmp/gradio/abc/mine.zip")
    assert source.value == fusion_lab.UPLOAD and "claim" not in labels.placeholder
    source, labels = fusion_lab.uploaded(None)
    assert source.value == fusion_lab.BUNDLED_WORLD
    assert all(task in labels.placeholder for task in ("claim", "sound_match", "verdict", "exactly_one"))


def test_counts_are_grammatical_and_contribution_bars_start_at_zero() -> None:
    assert [fusion_lab.plural(n, "strategy") for n in (1, 2)] == ["1 strategy", "2 strategies"]
    assert fusion_lab.plural(1, "seed") == "1 seed"
    assert classification.contributions_y_range([0.36, 0.4, 0.5])[0] == 0  # a 0.36 contribution is a visible bar
    assert classification.contributions_y_range([0.2, -0.1])[0] == -0.1


def test_the_contributions_axis_follows_the_values_shown(demo: gr.Blocks) -> None:
    from gradio.components.native_plot import PlotData

    fn = next(f for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "contributions_axis")
    chart = PlotData(columns=["modality", "contribution"], data=[["text", 0.36], ["image", 0.4]],
                     datatypes={"modality": "nominal", "contribution": "quantitative"}, mark="bar")
    (plot,) = fn.fn(chart).values()
    assert plot.y_lim == [0.0, None]
    chart.data.append(["audio", -0.05])
    assert next(iter(fn.fn(chart).values())).y_lim == [-0.05, None]
