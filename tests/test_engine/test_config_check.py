"""Config mistakes fail before training starts and name the config key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mmengine.config import Config

from panoptic.engine.config_check import ConfigError, check_config
from panoptic.engine.training import prepare_train_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.py"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'type="EngineTestModel"',
            'type="EngineTestModle"',
            r"model\.type: 'EngineTestModle'.*"
            r"Did you mean: EngineTestModel",
        ),
        (
            'type="EngineTestModel", ',
            'type="EngineTestModel", sleep=1, ',
            r"model\.sleep: EngineTestModel has no keyword 'sleep'.*Did you mean: sleep_s",
        ),
        (
            'dataset=dict(type="EngineTestDataset", size=32)',
            'dataset=dict(type="EngineTestDataset", sise=32)',
            r"train_dataloader\.dataset\.sise: EngineTestDataset has no keyword",
        ),
        (
            'val_evaluator = dict(type="EngineTestMetric")',
            'val_evaluator = dict(type="EngineTestMetrc")',
            r"val_evaluator\.type: 'EngineTestMetrc'",
        ),
        (
            "lr=0.05",
            "lr=0.05, momentun=0.5",
            r"optim_wrapper\.optimizer\.momentun: SGD has no keyword.*Did you mean: momentum",
        ),
        (
            'dict(type="LinearLR",',
            'dict(type="LinearLRR",',
            r"param_scheduler\[0\]\.type: 'LinearLRR'",
        ),
        (
            'dict(type="RNGStateHook")',
            'dict(type="RNGStateHook", every=3)',
            r"custom_hooks\[1\]\.every: RNGStateHook has no keyword 'every'",
        ),
        (
            "interval=1)",
            "intervall=1)",
            r"default_hooks\.logger\.intervall: LoggerHook",
        ),
        ("batch_size=4,", "batch_sise=4,", r"train_dataloader\.batch_sise: DataLoader"),
    ],
)
def test_mistake_is_named_before_training(
    tiny_components: Any,
    tiny_config: Callable[..., str],
    tmp_path: Path,
    old: str,
    new: str,
    expected: str,
) -> None:
    text = tiny_config()
    assert old in text
    path = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=expected):
        prepare_train_config(path, work_dir=tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_every_mistake_is_listed(tiny_components: Any, tiny_config: Callable[..., str]) -> None:
    cfg = Config.fromstring(tiny_config(), file_format=".py")
    cfg.merge_from_dict({"model.sleep": 1, "optim_wrapper.clip_gradd": 1})
    with pytest.raises(ConfigError) as info:
        check_config(cfg)
    assert "model.sleep" in str(info.value) and "optim_wrapper.clip_gradd" in str(info.value)


def test_class_objects_are_checked_too(tiny_components: Any) -> None:
    cfg = Config(
        dict(default_scope="panoptic", model=dict(type=tiny_components.EngineTestModel, nan=1))
    )
    with pytest.raises(ConfigError, match=r"model\.nan: EngineTestModel has no keyword 'nan'"):
        check_config(cfg)


def test_clean_config_passes(tiny_components: Any, tiny_config: Callable[..., str]) -> None:
    check_config(Config.fromstring(tiny_config(), file_format=".py"))


def test_repository_training_bases_pass() -> None:
    root = Path(__file__).resolve().parents[2] / "configs" / "_base_"
    runtime = Config.fromfile(str(root / "default_runtime.py"))
    for schedule in sorted((root / "schedules").glob("*.py")):
        cfg = Config.fromfile(str(schedule))
        cfg.merge_from_dict(runtime.to_dict())
        cfg.default_scope = "panoptic"
        check_config(cfg)
