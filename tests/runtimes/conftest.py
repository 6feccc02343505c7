"""Fixtures shared by the runtime tests."""

from __future__ import annotations

import pytest

from mmdemo.runtimes import openvino_runtime


@pytest.fixture
def conversions(monkeypatch):
    """The names of the towers converted while the test runs (a cached entry is read instead)."""
    calls = []
    real = openvino_runtime.convert

    def counting(module, example):
        calls.append(type(module).__name__)
        return real(module, example)

    monkeypatch.setattr(openvino_runtime, "convert", counting)
    return calls
