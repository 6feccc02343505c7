"""Runtime peers inside the model workloads (run_bench on tiny models): every generation and audio
workload times its peers in the same rounds and reports their status, conversion and checks."""

import pytest

from mmdemo.bench.config import BenchConfig
from mmdemo.bench.report import _runtime_table
from mmdemo.bench.runner import run_bench
from mmdemo.bench.runtimes import missing_runtime

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(missing_runtime("ort-fp32") is not None, reason="onnxruntime / onnx not installed")]


@pytest.mark.slow  # ~60 s on the busy 2-core machine (the workloads' own fidelity checks); peers: test_*_peers.py
def test_workloads_time_and_check_their_peers(tiny_models, tmp_path_factory):
    names = {"image-text": tiny_models.clip, "caption": tiny_models.caption, "vqa": tiny_models.vqa,
             "audio": tiny_models.wav2vec2, "speech": tiny_models.speech}
    config = BenchConfig(
        workloads=("caption", "vqa", "audio", "speech"), repeats=1, caption_tokens=4, answer_tokens=3,
        audio_seconds=1.0, fidelity_images=2, fidelity_clips=2, model_names=names, model_size="tiny",
        models_dir=tmp_path_factory.mktemp("bench-models"), label_bank=40, ablations=False, runtimes=("ort-fp32",),
    )
    report = run_bench(config)
    assert [r.name for r in report.workloads] == ["caption", "vqa", "audio", "speech"]
    for result in report.workloads:
        assert set(result.timings) == {"baseline", "project", "ort-fp32"}, result.name  # same rounds
        (peer,) = result.runtimes
        assert peer.status == "ok" and peer.conversion_s > 0 and peer.fidelity, (result.name, peer)
        # every check passes; a tiny VQA model's 3-token answers may have no clear-margin step (n=0)
        assert all(c.passed or c.n == 0 for c in peer.fidelity), (result.name, [c.summary() for c in peer.fidelity])
    caption, vqa, audio, speech = report.workloads
    assert "vision, cross, step" in caption.runtimes[0].reason and "question" in vqa.runtimes[0].reason
    assert any("log-prob error" in c.metric for c in caption.runtimes[0].fidelity)
    assert any("transcripts" in c.metric for c in speech.runtimes[0].fidelity) and speech.fidelity
    assert speech.target is None and all(c.passed for c in speech.fidelity)  # mmdemo's own path, float32 tiny
    table = "\n".join(_runtime_table(report.workloads))
    for name in ("caption", "vqa", "audio", "speech"):
        assert f"| {name} | ort-fp32 | ok |" in table
