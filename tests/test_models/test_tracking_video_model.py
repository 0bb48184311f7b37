"""VideoPanopticYolact: track ids into instances and panoptic maps, frozen training."""

from __future__ import annotations

from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.structures import BaseDataElement, InstanceData

from panoptic.models.video_panoptic_yolact import (
    THING_ID_BASE,
    VideoPanopticYolact,
    apply_track_ids,
    segment_instances,
)
from panoptic.registry import MODELS
from panoptic.structures import PanopticDataSample

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs/_base_/models/video_yolact_upsnet_r18_fpn.py"
SIZE = 64


def _model() -> VideoPanopticYolact:
    cfg = Config.fromfile(str(CONFIG))
    cfg.model.data_preprocessor = dict(type="BaseDataPreprocessor")
    cfg.model.instance_head.prior_base_size = SIZE
    # An untrained model must still emit things.
    cfg.model.panoptic_head.score_thresh = 0.0
    cfg.model.instance_head.conf_thresh = 0.0
    model = MODELS.build(cfg.model)
    # Semantic logits that favour things let the untrained instances win pixels.
    num_things = cfg.model.semantic_head.num_thing_classes
    with torch.no_grad():
        model.semantic_head.classifier.bias[:num_things] = 20.0
        model.semantic_head.classifier.bias[num_things:] = -20.0
    return model


def test_segments_pair_with_instances_in_order_skipping_dropped_slots() -> None:
    segments = [
        {"id": 1, "category_id": 7, "isthing": False, "score": 1.0},
        {"id": 2, "category_id": 1, "isthing": True, "score": 0.8},
        {"id": 3, "category_id": 2, "isthing": True, "score": 0.6},
    ]
    # Instance 0 (0.9) and 2 (0.7) were dropped by the fusion.
    link = segment_instances(segments, [0, 0, 1, 1], [0.9, 0.8, 0.7, 0.6], {0: 1, 1: 2, 2: 7})
    assert link == [-1, 1, 3]


def test_track_ids_rewrite_map_and_segments() -> None:
    panoptic = BaseDataElement(
        id_map=torch.tensor([[1, 1, 2], [3, 0, 2]], dtype=torch.int32),
        segments=[
            {"id": 1, "category_id": 7, "isthing": False},
            {"id": 2, "category_id": 1, "isthing": True},
            {"id": 3, "category_id": 2, "isthing": True},
        ],
    )
    out = apply_track_ids(panoptic, [-1, 0, 2], torch.tensor([4, 0, 9]))
    a, b = THING_ID_BASE + 4, THING_ID_BASE + 9
    assert out.id_map.tolist() == [[7, 7, a], [b, 0, a]]
    assert [(s["id"], s["instance_id"]) for s in out.segments] == [(7, 0), (a, 4), (b, 9)]


def _frame(shift: int, video_id: str) -> tuple[torch.Tensor, PanopticDataSample]:
    g = torch.Generator().manual_seed(0)
    image = torch.randn(3, SIZE, SIZE, generator=g) * 0.1
    image[:, 10:30, 10 + shift : 34 + shift] += 2.0
    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), video_id=video_id)
    return image, PanopticDataSample(metainfo=meta)


def test_predict_writes_consistent_track_ids() -> None:
    model = _model().eval()
    frames = [_frame(s, "v0") for s in (0, 1, 2)] + [_frame(0, "v1")]
    seen: list[set[int]] = []
    with torch.no_grad():
        for image, sample in frames:
            (out,) = model.predict(image[None], [sample])
            ids = out.pred_instances.instance_ids
            assert ids.shape == (len(out.pred_instances),)
            things = [s for s in out.pred_panoptic.segments if s["isthing"]]
            assert things, "the untrained model should emit thing segments"
            for seg in out.pred_panoptic.segments:
                if seg["isthing"]:
                    assert seg["id"] == THING_ID_BASE + seg["instance_id"]
                    assert seg["instance_id"] in ids.tolist()
                else:
                    assert seg["id"] == seg["category_id"]
            map_ids = set(out.pred_panoptic.id_map.unique().tolist()) - {0}
            assert map_ids <= {s["id"] for s in out.pred_panoptic.segments}
            seen.append({s["instance_id"] for s in things})
    # Nearly identical frames keep their tracks; a new video starts again at 1.
    assert seen[1] & seen[0] and seen[2] & seen[0]
    assert min(seen[3]) == 1


def test_frozen_detector_trains_only_the_tracking_head() -> None:
    model = _model().train()
    assert not model.backbone.training and model.tracking_head.training
    samples = []
    for t in range(2):
        sample = PanopticDataSample(metainfo=dict(clip_len=2, img_shape=(SIZE, SIZE)))
        sample.gt_instances = InstanceData(
            boxes=torch.tensor([[4.0, 4.0, 30.0, 30.0], [34.0 + t, 30.0, 60.0, 62.0]]),
            labels=torch.tensor([0, 1]),
            instance_ids=torch.tensor([1, 2]) if t else torch.tensor([2, 1]),
            iscrowd=torch.tensor([False, False]),
        )
        samples.append(sample)
    losses = model(torch.randn(2, 3, SIZE, SIZE), samples, mode="loss")
    assert set(losses) == {"loss_track"}
    losses["loss_track"].backward()
    assert model.tracking_head.fc1.weight.grad is not None
    assert all(
        p.grad is None for n, p in model.named_parameters() if not n.startswith("tracking_head")
    )
