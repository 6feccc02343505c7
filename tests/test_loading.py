import threading
import time

import pytest
import torch

from mmdemo import loading
from mmdemo.backends.base import hub_reachable
from mmdemo.errors import ModelUnavailableError
from mmdemo.registry import ModelSpec, register_model, unregister_model


def test_concurrent_first_use_loads_once(tiny_models, monkeypatch):
    loading.unload_all()
    from mmdemo.backends import clip_backend

    calls = []
    real_load = clip_backend.load

    def slow_load(*args):
        calls.append(1)
        time.sleep(0.3)  # widen the race window
        return real_load(*args)

    monkeypatch.setattr(clip_backend, "load", slow_load)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(loading.get_model(tiny_models.clip, "image-text")))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 4 and all(r is results[0] for r in results)
    assert loading.get_model(tiny_models.clip, "image-text") is results[0]


def test_device_auto_is_cpu_here_and_unknown_device_is_refused():
    assert loading.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(Exception, match="valid devices"):
        loading.resolve_device("tpu")


def test_dtype_policy(monkeypatch):
    embed = ModelSpec(name="p1", backend="clip", checkpoint="a/b")
    generate = ModelSpec(name="p2", backend="blip-caption", checkpoint="a/b")
    cpu = torch.device("cpu")
    monkeypatch.setattr(loading, "cpu_has_fast_bfloat16", lambda: True)
    assert loading.resolve_dtype(embed, cpu) == torch.bfloat16
    assert loading.resolve_dtype(generate, cpu) == torch.float32
    monkeypatch.setattr(loading, "cpu_has_fast_bfloat16", lambda: False)
    assert loading.resolve_dtype(embed, cpu) == torch.float32
    # per-spec and explicit overrides, and the global switch that turns fast paths off
    monkeypatch.setattr(loading, "cpu_has_fast_bfloat16", lambda: True)
    assert loading.resolve_dtype(ModelSpec(name="p3", backend="clip", checkpoint="a/b", dtype="float32"), cpu) == torch.float32
    assert loading.resolve_dtype(embed, cpu, "float32") == torch.float32
    monkeypatch.setattr(loading.SETTINGS, "dtype", "float32")
    assert loading.resolve_dtype(embed, cpu) == torch.float32


def test_missing_local_folder_names_model_path_and_fix(tmp_path):
    spec = register_model(ModelSpec(name="gone", backend="clip", checkpoint=str(tmp_path / "nope")))
    try:
        with pytest.raises(ModelUnavailableError) as info:
            loading.get_model("gone", "image-text")
        message = str(info.value)
        assert "'gone'" in message and str(tmp_path / "nope") in message and "Fix:" in message
    finally:
        unregister_model("gone")


def test_uncached_hub_model_fails_fast_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    spec = register_model(ModelSpec(name="hub-only", backend="blip-vqa", checkpoint="nobody/not-cached-model"))
    try:
        start = time.perf_counter()
        with pytest.raises(ModelUnavailableError) as info:
            loading.get_model("hub-only", "vqa")
        assert time.perf_counter() - start < 10
        message = str(info.value)
        assert "nobody/not-cached-model" in message and "--preset bundled" in message
    finally:
        unregister_model("hub-only")


def test_hub_probe_reports_unreachable_endpoint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    assert hub_reachable(timeout=1) is False


def test_runtime_policy(monkeypatch):
    from dataclasses import replace

    from mmdemo.errors import UnknownModelError

    cpu = torch.device("cpu")
    clip = ModelSpec(name="r1", backend="clip", checkpoint="a/b")
    monkeypatch.setattr(loading.SETTINGS, "runtime", "auto")
    assert loading.resolve_runtime(clip, cpu) == ("openvino",)
    assert loading.resolve_runtime(ModelSpec(name="r2", backend="open_clip", checkpoint="ViT-B-32"), cpu) == ("openvino",)
    assert loading.resolve_runtime(ModelSpec(name="r3", backend="blip-caption", checkpoint="a/b"), cpu) == ()
    assert loading.resolve_runtime(clip, torch.device("cuda")) == ()
    # auto: an explicit dtype (the spec's, the override, the process setting) keeps torch
    assert loading.resolve_runtime(replace(clip, dtype="float32"), cpu) == ()
    assert loading.resolve_runtime(clip, cpu, "float32") == ()
    loading.configure_runtime(runtime="openvino")  # forced: whatever the dtype
    assert loading.resolve_runtime(replace(clip, dtype="float32"), cpu) == ("openvino",)
    assert loading.resolve_speedups(replace(clip, dtype="float32"), cpu) == ("openvino",)
    loading.configure_runtime(runtime="torch")
    assert loading.resolve_runtime(clip, cpu) == () and "openvino" not in loading.resolve_speedups(clip, cpu)
    with pytest.raises(UnknownModelError, match="valid runtimes"):
        loading.configure_runtime(runtime="tensorrt")


def test_an_isa_cap_below_bfloat16_stands_in_for_a_cpu_without_it(monkeypatch):
    loading.cpu_has_fast_bfloat16.cache_clear()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # what `python -m mmdemo bench --isa avx2` sets
    try:
        assert loading.cpu_has_fast_bfloat16() is False
        assert loading.resolve_dtype(ModelSpec(name="r4", backend="clip", checkpoint="a/b"), torch.device("cpu")) == torch.float32
    finally:
        loading.cpu_has_fast_bfloat16.cache_clear()
