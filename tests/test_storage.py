import os

import pytest
import torch

from mmdemo import storage


def test_round_trips(tmp_path):
    storage.write_json_atomic(tmp_path / "a.json", {"x": [1, 2], "name": "ünï"})
    assert storage.read_json(tmp_path / "a.json") == {"x": [1, 2], "name": "ünï"}
    tensors = {"w": torch.arange(6.0).reshape(2, 3)}
    storage.save_tensors_atomic(tmp_path / "t.safetensors", tensors, metadata={"k": "v"})
    assert torch.equal(storage.load_tensors(tmp_path / "t.safetensors")["w"], tensors["w"])


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    storage.write_json_atomic(target, {"version": 1})

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        storage.write_json_atomic(target, {"version": 2})
    with pytest.raises(OSError, match="disk full"):
        storage.save_tensors_atomic(tmp_path / "t.safetensors", {"w": torch.ones(2)})
    monkeypatch.undo()
    assert storage.read_json(target) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
