"""Heuristic (Panoptic FPN) fusion on hand-built inputs: exact id maps."""

from __future__ import annotations

import torch

from panoptic.models.fusion.heuristic_fusion import HeuristicFusion, heuristic_channel_map
from panoptic.models.fusion.upsnet_panoptic_head import box_masks
from panoptic.registry import MODELS
from panoptic.structures import PanopticDataSample

LABEL2CAT = [1, 10, 20]  # thing 0 -> 1, stuff labels 1, 2 -> 10, 20


def _fusion(overlap_thresh: float = 0.5, min_stuff_area: float = 0.0) -> HeuristicFusion:
    return MODELS.build(
        dict(
            type="HeuristicFusion",
            num_thing_classes=1,
            num_stuff_classes=2,
            overlap_thresh=overlap_thresh,
            score_thresh=0.3,
            min_stuff_area=min_stuff_area,
        )
    )


def test_channel_map_pastes_by_score_then_stuff() -> None:
    masks = torch.zeros(3, 6, 6, dtype=torch.bool)
    masks[0, 0:3, 0:3] = True  # low score, overlaps the best one by 1/9: pasted on free pixels
    masks[1, 2:5, 2:5] = True  # best score
    masks[2, 0:2, 4:6] = True  # below the score threshold
    sem = torch.full((6, 6), 1)
    sem[3:, :] = 2
    sem[5, 5] = 0  # a free thing pixel: unknown
    channel_map = heuristic_channel_map(
        masks, torch.tensor([0.6, 0.9, 0.2]), sem, 1, 2, overlap_thresh=0.5, score_thresh=0.3
    )
    S = 2
    expected = torch.tensor(
        [
            [3, 3, 3, 0, 0, 0],
            [3, 3, 3, 0, 0, 0],
            [3, 3, 4, 4, 4, 0],
            [1, 1, 4, 4, 4, 1],
            [1, 1, 4, 4, 4, 1],
            [1, 1, 1, 1, 1, S],
        ]
    )
    assert channel_map.equal(expected)


def test_mostly_covered_instance_is_skipped() -> None:
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :, :] = True
    masks[1, 0:2, 0:3] = True
    sem = torch.full((4, 4), 1)
    channel_map = heuristic_channel_map(
        masks, torch.tensor([0.9, 0.8]), sem, 1, 2, overlap_thresh=0.5, score_thresh=0.3
    )
    assert channel_map.eq(3).all()


def test_predict_builds_segments_and_drops_small_stuff() -> None:
    sem = torch.full((1, 3, 8, 8), -1.0)
    sem[0, 1] = 1.0
    sem[0, 2, 6:, 6:] = 2.0  # 4 pixels of stuff 2, below 1/10 of the image
    boxes = torch.tensor([[[1.0, 1.0, 4.0, 4.0], [2.0, 2.0, 5.0, 5.0]]])
    mask_logits = torch.full((1, 2, 8, 8), 3.0)  # positive everywhere, cut by the boxes
    sample = PanopticDataSample(metainfo=dict(img_shape=(8, 8), ori_shape=(8, 8)))
    result = _fusion(min_stuff_area=0.1).predict(
        sem,
        mask_logits,
        boxes,
        torch.zeros(1, 2, dtype=torch.long),
        torch.tensor([[0.5, 0.9]]),
        torch.ones(1, 2, dtype=torch.bool),
        [sample],
        1.0,
        LABEL2CAT,
    )[0]
    expected = torch.ones(8, 8, dtype=torch.int32)
    expected[6:, 6:] = 0  # small stuff -> VOID
    expected[1:4, 1:4] = 2  # the worse instance, ids in channel order
    expected[2:5, 2:5] = 3  # the better one, pasted first
    assert result.id_map.equal(expected)
    assert [(s["id"], s["category_id"], s["area"]) for s in result.segments] == [
        (1, 10, 64 - 4 - 9 - 5),
        (2, 1, 5),
        (3, 1, 9),
    ]
    assert _fusion().loss() == {}


def test_box_masks_limit_instances() -> None:
    inside = box_masks(torch.tensor([[0.0, 0.0, 2.0, 2.0]]), (4, 4))
    assert inside.sum() == 4
