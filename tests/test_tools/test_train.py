"""tools/train.py command line: help, clear errors before any training."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_tool", REPO_ROOT / "tools" / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help_lists_every_option() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "train.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0
    for option in ("--work-dir", "--resume", "--amp", "--precision", "--cfg-options", "--launcher"):
        assert option in result.stdout


def test_missing_config_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tool = _load_tool()
    assert tool.main([str(tmp_path / "nope.py")]) == 2
    assert "nope.py does not exist" in capsys.readouterr().err


def test_unknown_model_type_fails_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.py"
    config.write_text(
        'default_scope = "panoptic"\n'
        'model = dict(type="PanopticYolactt")\n'
        "optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentun=0.9))\n"
    )
    tool = _load_tool()
    assert tool.main([str(config), "--work-dir", str(tmp_path / "work")]) == 2
    err = capsys.readouterr().err
    assert "model.type: 'PanopticYolactt' is not registered" in err
    assert "optim_wrapper.optimizer.momentun: SGD has no keyword" in err
    assert not (tmp_path / "work").exists()


def test_missing_resume_checkpoint_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cfg.py"
    config.write_text('default_scope = "panoptic"\n')
    tool = _load_tool()
    assert tool.main([str(config), "--resume", str(tmp_path / "gone.pth")]) == 2
    assert "gone.pth does not exist" in capsys.readouterr().err
