"""The benchmark's machinery on tiny models: structure and reporting, never timing figures."""

import json
import sys
import textwrap
from dataclasses import replace

import pytest
import torch

from mmdemo.backends.packed_linear import packing_available
from mmdemo.bench.app_start import measure_app_start
from mmdemo.bench.config import WORKLOADS, BenchConfig
from mmdemo.bench.fidelity import centred_cosine, identical_sequences, mean_cosine, top1_agreement
from mmdemo.bench.memory import current_rss_mib, measure_memory
from mmdemo.bench.models import BenchModels, prepare_models
from mmdemo.bench.runner import run_bench
from mmdemo.bench.system import fusion_workload, retrieval_workload
from mmdemo.bench.timing import interleave
from mmdemo.errors import UnknownModelError


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/bench/conftest.py


@pytest.fixture(scope="module")
def tiny_config(tiny_models, tmp_path_factory):
    names = {
        "image-text": tiny_models.clip, "caption": tiny_models.caption, "vqa": tiny_models.vqa,
        "audio": tiny_models.wav2vec2, "speech": tiny_models.speech,
    }
    return BenchConfig(
        workloads=("image", "text", "caption", "vqa", "audio"), repeats=1, images=2, texts=3,
        caption_tokens=3, answer_tokens=2, audio_seconds=1.0, fidelity_images=2, fidelity_clips=2,
        model_names=names, model_size="tiny", models_dir=tmp_path_factory.mktemp("bench-models"), label_bank=40,
    )


def test_model_workloads_report_every_case_and_check(tiny_config):
    updates = []
    report = run_bench(tiny_config, on_update=lambda r: updates.append(len(r.workloads)))
    assert updates == [1, 2, 3, 4, 5]
    assert [r.name for r in report.workloads] == ["image", "text", "caption", "vqa", "audio"]
    for result in report.workloads:
        assert {"baseline", "project"} <= set(result.timings) and len(result.timings) > 2  # ablations ran
        assert all(len(t.wall_s) == 1 and len(t.cpu_s) == 1 for t in result.timings.values())
        assert result.ratio() > 0 and result.target and result.fidelity
    image, text, caption, vqa = report.workloads[:4]
    # The tiny image-text model is float32: the project path must equal the baseline numerically.
    checks = {check.metric: check for check in image.fidelity}
    assert checks["centred cosine"].value > 0.9999 and checks["centred cosine"].threshold == 0.995
    assert checks["relative error (centred)"].value < 1e-3 and checks["relative error (centred)"].at_most
    top1 = checks["zero-shot top-1 agreement"]
    assert top1.n == 2 and top1.value == 1.0 and top1.detail.startswith("40 labels")
    if packing_available():  # the ceiling case exists only where torch packs bfloat16 linears (not on AVX2-only CPUs)
        assert image.ratio("ceiling: matrix products alone") > 0  # timed in the same rounds as the baseline
    else:
        assert "ceiling: matrix products alone" not in image.timings
    assert text.fidelity[0].value > 0.9999 and text.fidelity[0].n == 3
    # generation: checked on the sharpened stand-in and on the bundled model, 2 inputs each
    for result in (caption, vqa):
        metrics = [check.metric for check in result.fidelity]
        assert len(metrics) == 9, metrics  # image dependence, then 4 checks per model
        dependence = result.fidelity[0]
        assert dependence.metric.startswith("bundled-") and "image dependence" in dependence.metric
        assert dependence.passed and dependence.value > 1.0  # the trained model's output depends on the image
        assert any("logits x10: image dependence" in note for note in result.notes)  # the random one's barely
        assert any(m.startswith("bundled-") and "per-step log-prob error" in m for m in metrics)
        assert any("logits x10" in m and "clear-margin" in m for m in metrics)
        bundled = [c for c in result.fidelity if c.metric.startswith("bundled-")]
        assert all(c.passed for c in bundled), bundled  # the project path (its speed-ups on a fast CPU)
    data = json.loads(json.dumps(report.to_json()))
    assert data["workloads"][2]["fidelity"][0]["threshold"] == 0.5 and "off_by_default" in data["workloads"][2]
    data = json.loads(json.dumps(report.to_json()))
    assert data["workloads"][0]["ratios"]["project"] == pytest.approx(image.ratio())
    markdown = report.markdown("python -m mmdemo.bench --quick")
    assert "| workload | baseline (median)" in markdown and "Single ideas" in markdown
    assert "python -m mmdemo.bench --quick" in markdown and "embed 2 images" in markdown


def test_interleave_alternates_order_and_keeps_last_outputs():
    calls = []
    counter = {"a": 0, "b": 0}

    def case(name):
        def run():
            calls.append(name)
            counter[name] += 1
            return counter[name]
        return run

    timed = interleave({"a": case("a"), "b": case("b")}, repeats=3, warmup=1)
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]
    assert timed.outputs == {"a": 4, "b": 4}
    assert all(len(t.wall_s) == 3 and t.median_s >= 0 and t.spread >= 0 for t in timed.timings.values())
    with pytest.raises(ValueError, match="repeats"):
        interleave({"a": case("a")}, repeats=0)
    with pytest.raises(ValueError, match="no cases"):
        interleave({}, repeats=1)


def test_fidelity_checks():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert mean_cosine(a, a * 3).value == pytest.approx(1.0) and mean_cosine(a, a).passed
    swapped = mean_cosine(a, a.flip(0))
    assert swapped.value == pytest.approx(0.0) and not swapped.passed
    with pytest.raises(ValueError, match="Shapes differ"):
        mean_cosine(a, torch.ones(3, 2))
    labels = torch.tensor([[1.0, 0.1], [0.1, 1.0]])
    same = top1_agreement((a, labels), (a, labels))
    assert same.value == 1.0 and "2 distinct labels" in same.detail
    assert top1_agreement((a, labels), (a.flip(0), labels)).value == 0.0
    check = identical_sequences(["a b", "c"], ["a b", "d"], what="captions")
    assert check.value == 0.5 and not check.passed and check.metric == "identical captions"
    with pytest.raises(ValueError, match="equally long"):
        identical_sequences(["a"], [], what="captions")


def test_centred_cosine_sees_what_a_shared_direction_hides():
    """Outputs near one shared direction (random weights): a path that swaps what tells inputs
    apart keeps the plain cosine near 1, the centred one drops below 0."""
    torch.manual_seed(0)
    shared = torch.ones(1, 8) * 10
    spread = torch.randn(6, 8)
    reference, scrambled = shared + spread, shared + spread.roll(1, dims=0)
    assert mean_cosine(reference, scrambled).value > 0.97
    assert centred_cosine(reference, scrambled).value < 0.0 and not centred_cosine(reference, scrambled).passed
    faithful = centred_cosine(reference, reference + 0.01 * torch.randn(6, 8))
    assert faithful.value > 0.99 and faithful.passed and faithful.metric == "centred cosine"
    with pytest.raises(ValueError, match="at least 2 rows"):
        centred_cosine(reference[:1], reference[:1])


def test_config_validation_and_quick_mode(tmp_path):
    with pytest.raises(UnknownModelError, match="valid workloads"):
        BenchConfig(workloads=("image", "speed"))
    with pytest.raises(ValueError, match="repeats"):
        BenchConfig(repeats=0)
    quick = BenchConfig().quick()
    assert quick.repeats < BenchConfig().repeats and not quick.ablations and quick.workloads == WORKLOADS
    with pytest.raises(UnknownModelError, match="lacks roles"):
        prepare_models(BenchConfig(model_names={"image-text": "x"}))
    with pytest.raises(UnknownModelError, match="valid models"):
        prepare_models(BenchConfig(model_names={r: "no-such-model" for r in ("image-text", "caption", "vqa", "audio", "speech")}))


def test_cli_builds_tiny_models_and_writes_json_and_markdown(tmp_path, capsys):
    from mmdemo.__main__ import main as mmdemo_main

    out = tmp_path / "out"
    code = mmdemo_main([
        "bench", "--quick", "--workloads", "text", "--model-size", "tiny", "--models-dir", str(tmp_path / "models"),
        "--repeats", "1", "--texts", "4", "--out", str(out),
    ])
    assert code == 0
    data = json.loads((out / "bench.json").read_text())
    assert [w["name"] for w in data["workloads"]] == ["text"] and data["command"].startswith("python -m mmdemo bench")
    assert "embed 4 short prompts" in (out / "bench.md").read_text()
    assert (tmp_path / "models" / "tiny" / "clip" / "bench_build.json").is_file()
    assert "embed 4 short prompts" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        mmdemo_main(["bench", "--help"])
    assert info.value.code == 0


@pytest.mark.slow  # ~15 s: a child process loads every tiny model; the bench's timing cases stay in the default run
def test_memory_probe_runs_in_a_fresh_process(tiny_models):
    models = BenchModels(tiny_models.clip, tiny_models.caption, tiny_models.vqa, tiny_models.wav2vec2, tiny_models.speech)
    ballast = torch.ones(384 * 1024 * 1024)  # 1.5 GiB resident in this (parent) process
    (result,) = measure_memory(models, policies=("float32",))
    # the child's own peak: ru_maxrss would report at least the parent's size (it survives exec)
    assert result.peak_mib < current_rss_mib() - 1024
    del ballast
    assert result.dtype == "float32" and len(result.models) == 4
    assert 0 < result.baseline_mib <= result.loaded_mib <= result.peak_mib and result.used_mib <= result.peak_mib
    assert all(not speedups for speedups in result.speedups.values())


def test_app_start_is_timed_until_the_page_answers(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent("""
        import argparse, http.server
        parser = argparse.ArgumentParser(); parser.add_argument("--port", type=int)
        port = parser.parse_args().port
        http.server.HTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler).serve_forever()
    """))
    result = measure_app_start(app, timeout=60)
    assert result.seconds is not None and result.seconds > 0 and result.command[0] == sys.executable
    app.write_text("import sys\nprint('cannot start')\nsys.exit(3)\n")
    failed = measure_app_start(app, timeout=60)
    assert failed.seconds is None and "code 3" in failed.error and "cannot start" in failed.error
    missing = measure_app_start(tmp_path / "nope.py", timeout=1)
    assert missing.seconds is None and "does not exist" in missing.error


def test_retrieval_and_fusion_workloads_are_small_when_asked():
    config = replace(BenchConfig(), retrieval_sizes=(500,), retrieval_queries=3, fusion_samples=120, fusion_epochs=1)
    retrieval = retrieval_workload(config, lambda message: None)
    assert [(t.size, t.dtype) for t in retrieval.exact] == [(500, "float32"), (500, "bfloat16")] and retrieval.approx
    assert retrieval.exact[0].recall_vs_float32 == 1.0 and 0.9 <= retrieval.exact[1].recall_vs_float32 <= 1.0
    fusion = fusion_workload(config, lambda message: None)
    assert fusion.epochs == 1 and len(fusion.per_strategy_s) > 1
    assert fusion.total_s >= sum(fusion.per_strategy_s.values()) * 0.99
