"""The benchmark helpers: stage timing on a tiny YOLACT, drift between detections, the CLI."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

from panoptic.benchmarking import STAGES, detection_drift, prepare_model, run_stages
from panoptic.models.yolact import Yolact

ROOT = Path(__file__).resolve().parents[2]


def tiny_model() -> Yolact:
    model_cfg = dict(
        backbone=dict(type="ResNet", depth=18, out_indices=(1, 2, 3)),
        neck=dict(type="YolactFPN", in_channels=[128, 256, 512], out_channels=16),
        instance_head=dict(
            type="YolactHead",
            in_channels=16,
            feat_channels=16,
            num_classes=3,
            num_prototypes=4,
            prior_scales=[[12], [24], [48], [96], [192]],
            prior_aspect_ratios=[[1, 0.5, 2]] * 5,
            prior_base_size=96,
            conf_thresh=0.0,
        ),
        protonet=dict(type="Protonet", in_channels=16, channels=16, num_prototypes=4),
    )
    model = Yolact(**model_cfg)
    preprocessor = dict(mean=[100.0, 110.0, 120.0], std=[50.0, 50.0, 50.0], bgr_to_rgb=True)
    model.cfg = Config(dict(model=dict(model_cfg, data_preprocessor=preprocessor)))
    return model


def test_run_stages_times_every_stage_and_detects() -> None:
    image = np.random.randint(0, 255, (60, 80, 3), dtype=np.uint8)
    for precision in ("fp32", "bf16"):
        model = prepare_model(tiny_model(), precision)
        result = run_stages(model, image, precision, repeat=2, warmup=0)
        assert all(len(result.times[stage]) == 2 for stage in STAGES)
        assert result.median("total") >= result.median("backbone") > 0
        assert result.instances.masks.shape[1:] == (60, 80)
        assert len(result.instances) > 0


def test_detection_drift_identity_and_shift() -> None:
    masks = torch.zeros(2, 20, 20, dtype=torch.bool)
    masks[0, 2:10, 2:10] = True
    masks[1, 10:18, 5:15] = True
    reference = InstanceData(
        boxes=torch.tensor([[2.0, 2, 10, 10], [5, 10, 15, 18]]),
        labels=torch.tensor([0, 1]),
        scores=torch.tensor([0.9, 0.8]),
        masks=masks,
    )
    same = detection_drift(reference, reference)
    assert same == {
        "matched": 1.0, "box_iou": 1.0, "mask_iou": 1.0, "score_abs_diff": 0.0, "same_order": 1.0
    }  # fmt: skip
    shifted = InstanceData(
        boxes=reference.boxes + torch.tensor([1.0, 0, 1, 0]),
        labels=reference.labels.clone(),
        scores=reference.scores - 0.1,
        masks=torch.roll(masks, 1, dims=2),
    )
    drift = detection_drift(reference, shifted)
    assert drift["matched"] == 1.0
    assert abs(drift["box_iou"] - (8 * 7 / (8 * 9) + 9 * 8 / (8 * 11)) / 2) < 1e-6
    assert 0.7 < drift["mask_iou"] < 1.0
    relabelled = InstanceData(**{k: v for k, v in shifted.items()})
    relabelled.labels = torch.tensor([2, 2])
    assert detection_drift(reference, relabelled)["matched"] == 0.0


def test_cli_rejects_a_missing_config(capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location("benchmark", ROOT / "tools" / "benchmark.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["configs/nope.py"]) == 1
    assert "configs/nope.py" in capsys.readouterr().err
