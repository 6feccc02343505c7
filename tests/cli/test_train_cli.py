"""``python -m mmdemo train`` / ``evaluate``: help, a tiny synthetic run, a tiny manifest run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmdemo.__main__ import main as mmdemo_main
from mmdemo.cli import evaluate as evaluate_cli
from mmdemo.cli import train as train_cli
from mmdemo.training import FusionHead


@pytest.mark.parametrize("module", [train_cli, evaluate_cli])
def test_help(module, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--data" in text and "--synthetic" in text
    if module is train_cli:
        assert "--fusion" in text and "--modality-dropout" in text and "--optimizer" in text


def test_synthetic_train_then_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = train_cli.main([
        "--synthetic", "xor", "--samples", "160", "--fusion", "concat,lmf", "--epochs", "2",
        "--out-dim", "8", "--hidden-dim", "8", "--few-shot", "3", "--out", str(out), "--quiet",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| concat |" in printed and "| lmf |" in printed and "report:" in printed
    assert (out / "report.md").is_file() and (out / "fused_map.png").is_file()
    assert "Few-shot baselines (k = 3" in (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["split"] == {"train": 112, "val": 24, "test": 24}
    assert {row["strategy"] for row in summary["rows"]} == {"concat", "lmf"}
    head = FusionHead.load(out / "heads" / "lmf")
    assert head.train_config.epochs == 2 and head.metrics["label"]["n"] == 24

    code = evaluate_cli.main([
        "--heads", str(out / "heads"), "--synthetic", "xor", "--samples", "160", "--out", str(tmp_path / "eval"),
    ])
    assert code == 0
    assert "160 all samples" in capsys.readouterr().out
    assert (tmp_path / "eval" / "report.md").read_text().startswith("# Fusion head evaluation")


def test_errors_reach_the_dispatcher_as_messages(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert mmdemo_main(["train", "--synthetic", "xor", "--fusion", "concat,sum", "--out", str(tmp_path)]) == 1
    assert "unknown fusion strategy 'sum'; valid: concat" in capsys.readouterr().err
    assert mmdemo_main(["evaluate", "--heads", str(tmp_path), "--synthetic", "xor"]) == 1
    assert "no fusion head found" in capsys.readouterr().err


def test_manifest_train_and_evaluate_with_tiny_models(tiny_models, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rows = ["text,image,label,split"]
    for i in range(12):
        label = "warm" if i % 2 else "cold"
        words = "sun fire desert" if label == "warm" else "snow ice winter"
        rows.append(f"{words} {i},,{label},{'test' if i < 4 else ''}")
    rows.append("lost picture,missing.png,warm,")  # bad row: line 14
    manifest = tmp_path / "data.csv"
    manifest.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    code = train_cli.main([
        "--data", str(manifest), "--fusion", "concat,gmu", "--epochs", "2", "--text-model", tiny_models.clip,
        "--image-model", tiny_models.clip, "--out", str(out), "--hidden-dim", "8", "--out-dim", "8",
    ])
    assert code == 0
    captured = capsys.readouterr()
    assert "line 14: image file not found: missing.png" in captured.err
    assert "line 14: image file not found" in (out / "report.md").read_text()
    head = FusionHead.load(out / "heads" / "gmu")
    assert head.encoders["text"].model == tiny_models.clip
    summary = json.loads((out / "summary.json").read_text())
    assert summary["manifest"] == str(manifest) and summary["bad_rows"][0]["line"] == 14
    assert head.metrics["label"]["n"] == summary["split"]["test"]  # the test metrics, in head.json
    assert head.predict(text="snow ice").labels["label"] in ("cold", "warm")

    code = evaluate_cli.main(["--heads", str(out / "heads" / "concat"), str(out / "heads" / "gmu"),
                              "--data", str(manifest), "--split", "test", "--out", str(tmp_path / "eval")])
    assert code == 0
    assert "4 test samples" in capsys.readouterr().out


def test_seeds_and_baselines_put_every_per_seed_figure_in_the_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    code = train_cli.main([
        "--synthetic", "xor", "--samples", "160", "--fusion", "concat,tfn", "--epochs", "2", "--seeds", "3",
        "--baselines", "--no-robustness", "--out-dim", "8", "--hidden-dim", "8", "--out", str(out), "--quiet",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "only_image (baseline)" in printed and "single-modality baseline" in printed
    study = json.loads((out / "summary.json").read_text())["study"]
    assert study["seeds"] == [0, 1, 2] and study["baselines"] == ["only_image", "only_text"]
    assert len(study["per_seed"]) == 3 * 4  # seeds x (2 strategies + 2 baselines), one task
    assert {"accuracy", "macro_f1", "auroc", "train_seconds", "best_epoch"} <= set(study["per_seed"][0])
    row = study["statistics"][0]
    assert len(row["accuracy"]["values"]) == 3 and len(row["accuracy"]["ci95"]) == 2
    assert {c["strategy"] for c in study["complexity"]} == {"concat", "tfn", "only_image", "only_text"}
    assert study["robustness"] == []


def test_bad_strategy_lr_is_refused_by_name() -> None:
    from mmdemo.errors import ConfigError

    with pytest.raises(ConfigError, match="NAME=RATE"):
        train_cli.parse_strategy_lr("attention")
    assert train_cli.parse_strategy_lr("attention=1e-3, gmu=0.01") == {"attention": 1e-3, "gmu": 0.01}


def test_the_cli_trains_with_the_labs_defaults_fusion_settings_included() -> None:
    from mmdemo.lab import LAB_TRAIN_DEFAULTS

    config = train_cli.config_from_args(train_cli.build_parser().parse_args(["--synthetic", "xor"]))
    assert config == LAB_TRAIN_DEFAULTS
    deeper = train_cli.config_from_args(train_cli.build_parser().parse_args(["--synthetic", "xor", "--head-layers", "2"]))
    assert deeper.fusion.head_layers == 2
