"""The demo's training, evaluation, picture and summary steps on a few iterations."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO_ROOT / "configs" / "panoptic" / "yolact_upsnet_r18_synthetic.py"


def _load_demo() -> ModuleType:
    spec = importlib.util.spec_from_file_location("demo_tool", REPO_ROOT / "tools" / "demo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_demo_trains_evaluates_and_draws(tmp_path: Path) -> None:
    config = tmp_path / "short_demo.py"
    config.write_text(
        f'_base_ = ["{DEMO_CONFIG}"]\n'
        'default_scope = "panoptic"\n'
        "train_dataloader = dict(batch_size=2, dataset=dict(num_images=8))\n"
        "val_dataloader = dict(batch_size=4, dataset=dict(num_images=4))\n"
        'train_cfg = dict(type="ResumableIterBasedTrainLoop", max_iters=2, val_interval=100)\n'
        "default_hooks = dict(logger=dict(interval=1))\n"
    )
    demo = _load_demo()
    runner = demo.train_model(config, tmp_path / "train")
    assert runner.iter == 2
    assert (tmp_path / "train" / "last_checkpoint").is_file()
    metrics = demo.evaluate_model(runner)
    assert {"panoptic/PQ", "panoptic/SQ", "panoptic/RQ", "coco/segm_mAP"} <= set(metrics)
    assert all(0.0 <= metrics[k] <= 100.0 for k in ("panoptic/PQ", "panoptic/SQ"))
    pictures = demo.write_predictions(runner, tmp_path / "pictures", num=3)
    written = sorted(pictures.glob("*.png"))
    assert len(written) == 3
    table = demo.summary(metrics, {"predictions": pictures})
    assert "PQ" in table and "mask AP" in table and str(pictures) in table
    percent = demo.summary({"panoptic/PQ": 51.25, "coco/segm_mAP": 0.4125}, {})
    assert "51.2" in percent and "41.2" in percent

    # A second call resumes from the finished run and trains no further.
    again = demo.train_model(config, tmp_path / "train")
    assert again.iter == 2
