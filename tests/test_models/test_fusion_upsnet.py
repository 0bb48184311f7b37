"""UPSNet panoptic head on hand-built logits: exact id maps, training targets, batching."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import BaseDataElement

from panoptic.models.fusion.upsnet_panoptic_head import (
    OUTSIDE_LOGIT,
    UPSNetPanopticHead,
    box_masks,
    drop_instances,
    panoptic_logits,
    panoptic_targets,
    suppress_covered,
)
from panoptic.structures import PanopticDataSample

# One thing class (label 0 -> category 1), two stuff classes (labels 1, 2 -> 10, 20).
LABEL2CAT = [1, 10, 20]


def _head(overlap_thresh: float = 0.5, min_stuff_area: float = 0.0) -> UPSNetPanopticHead:
    return UPSNetPanopticHead(
        num_thing_classes=1,
        num_stuff_classes=2,
        drop_fraction=0.3,
        score_thresh=0.3,
        overlap_thresh=overlap_thresh,
        min_stuff_area=min_stuff_area,
        ignore_index=255,
        loss_weight=1.0,
    )


def _sample(h: int, w: int, ori: tuple[int, int] | None = None) -> PanopticDataSample:
    return PanopticDataSample(metainfo=dict(img_shape=(h, w), ori_shape=ori or (h, w)))


def _two_stuff_sem(thing_region: torch.Tensor) -> torch.Tensor:
    """(1, 3, 8, 8): stuff 1 on the top half, stuff 2 below, the thing logit 3 on a region."""
    sem = torch.full((1, 3, 8, 8), -1.0)
    sem[0, 1, :4] = 1.0
    sem[0, 2, 4:] = 1.0
    sem[0, 0] = torch.where(thing_region, 3.0, -2.0)
    return sem


def _box_logits(boxes: torch.Tensor, values: list[float]) -> torch.Tensor:
    """(1, N, 8, 8) mask logits: ``values[n]`` inside box n, -5 outside."""
    inside = box_masks(boxes, (8, 8))
    return torch.where(inside, torch.tensor(values)[:, None, None], -5.0)[None]


def _predict(
    head: UPSNetPanopticHead,
    sem: torch.Tensor,
    boxes: torch.Tensor,
    mask_values: list[float],
    scores: list[float],
    labels: list[int] | None = None,
) -> BaseDataElement:
    n = boxes.shape[0]
    return head.predict(
        sem,
        _box_logits(boxes, mask_values),
        boxes[None],
        torch.tensor(labels or [0] * n)[None],
        torch.tensor(scores)[None],
        torch.ones(1, n, dtype=torch.bool),
        [_sample(8, 8)],
        stride=1.0,
        label2cat=LABEL2CAT,
    )[0]


def test_box_masks_cover_touched_pixels() -> None:
    masks = box_masks(torch.tensor([[1.0, 2.0, 3.0, 3.5]]), (5, 5))
    expected = torch.zeros(5, 5, dtype=torch.bool)
    expected[2:4, 1:3] = True
    assert masks[0].equal(expected)


def test_two_overlapping_things_of_one_class_on_two_stuff_regions() -> None:
    boxes = torch.tensor([[1.0, 1.0, 5.0, 5.0], [3.0, 3.0, 7.0, 7.0]])
    thing_region = box_masks(boxes, (8, 8)).any(0)
    sem = _two_stuff_sem(thing_region)
    # The second instance's mask logit is larger: it takes the 2x2 overlap.
    result = _predict(_head(), sem, boxes, [2.0, 4.0], [0.9, 0.8])

    expected = torch.tensor(
        [
            [1, 1, 1, 1, 1, 1, 1, 1],
            [1, 3, 3, 3, 3, 1, 1, 1],
            [1, 3, 3, 3, 3, 1, 1, 1],
            [1, 3, 3, 4, 4, 4, 4, 1],
            [2, 3, 3, 4, 4, 4, 4, 2],
            [2, 2, 2, 4, 4, 4, 4, 2],
            [2, 2, 2, 4, 4, 4, 4, 2],
            [2, 2, 2, 2, 2, 2, 2, 2],
        ],
        dtype=torch.int32,
    )
    assert result.id_map.dtype == torch.int32
    assert result.id_map.equal(expected)
    segments = {s["id"]: s for s in result.segments}
    assert [segments[i]["category_id"] for i in (1, 2, 3, 4)] == [10, 20, 1, 1]
    assert [segments[i]["isthing"] for i in (1, 2, 3, 4)] == [False, False, True, True]
    assert segments[3]["area"] == 12 and segments[4]["area"] == 16
    assert segments[3]["bbox"] == [1, 1, 4, 4]
    assert segments[4]["bbox"] == [3, 3, 4, 4]
    assert segments[1]["bbox"] == [0, 0, 8, 4]
    assert segments[3]["score"] == pytest.approx(0.9) and segments[4]["score"] == pytest.approx(0.8)


def test_unknown_channel_is_thing_max_minus_instance_crop() -> None:
    sem = torch.randn(1, 4, 6, 6)  # T = 2, S = 2
    boxes = torch.tensor([[[0.0, 0.0, 3.0, 3.0], [2.0, 2.0, 6.0, 6.0], [0.0, 0.0, 6.0, 6.0]]])
    labels = torch.tensor([[1, 0, 0]])
    valid = torch.tensor([[True, True, False]])
    masks = torch.randn(1, 3, 6, 6)
    logits = panoptic_logits(sem, masks, boxes, labels, valid, num_thing_classes=2)
    assert logits.shape == (1, 2 + 1 + 3, 6, 6)
    assert logits[:, :2].equal(sem[:, 2:])

    inside = box_masks(boxes[0], (6, 6))
    crop0 = torch.where(inside[0], sem[0, 1], 0.0)
    crop1 = torch.where(inside[1], sem[0, 0], 0.0)
    expected_unknown = sem[0, :2].amax(0) - torch.maximum(crop0, crop1)
    torch.testing.assert_close(logits[0, 2], expected_unknown)
    expected_inst0 = torch.where(inside[0], sem[0, 1] + masks[0, 0], OUTSIDE_LOGIT)
    torch.testing.assert_close(logits[0, 3], expected_inst0)
    assert (logits[0, 5] == OUTSIDE_LOGIT).all()  # the invalid slot never wins

    no_instances = panoptic_logits(sem, masks, boxes, labels, valid & False, 2)
    torch.testing.assert_close(no_instances[0, 2], sem[0, :2].amax(0))


def test_thing_pixels_without_instance_become_void() -> None:
    boxes = torch.tensor([[1.0, 1.0, 3.0, 3.0]])
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[1:3, 1:3] = True
    region[5:7, 5:7] = True  # the semantic head sees a second thing, no detection
    result = _predict(_head(), _two_stuff_sem(region), boxes, [2.0], [0.9])
    assert (result.id_map[5:7, 5:7] == 0).all()
    assert (result.id_map[1:3, 1:3] == 3).all()
    assert (result.id_map == 0).sum() == 4


def test_low_score_duplicate_is_suppressed() -> None:
    boxes = torch.tensor([[1.0, 1.0, 5.0, 5.0], [1.0, 1.0, 5.0, 4.0]])
    sem = _two_stuff_sem(box_masks(boxes, (8, 8)).any(0))
    # The duplicate has the larger mask logit: without suppression it would win.
    result = _predict(_head(overlap_thresh=0.5), sem, boxes, [2.0, 6.0], [0.9, 0.5])
    things = [s for s in result.segments if s["isthing"]]
    assert len(things) == 1 and things[0]["score"] == pytest.approx(0.9) and things[0]["area"] == 16
    assert (result.id_map[1:5, 1:5] == 3).all()

    keep = suppress_covered(
        _box_logits(boxes, [2.0, 6.0]),
        boxes[None],
        torch.tensor([[0, 0]]),
        torch.tensor([[0.9, 0.5]]),
        torch.ones(1, 2, dtype=torch.bool),
        overlap_thresh=0.5,
    )
    assert keep.tolist() == [[True, False]]
    # A different class, or the higher score, keeps it.
    other_class = suppress_covered(
        _box_logits(boxes, [2.0, 6.0]),
        boxes[None],
        torch.tensor([[0, 1]]),
        torch.tensor([[0.9, 0.5]]),
        torch.ones(1, 2, dtype=torch.bool),
        overlap_thresh=0.5,
    )
    assert other_class.tolist() == [[True, True]]
    higher = suppress_covered(
        _box_logits(boxes, [2.0, 6.0]),
        boxes[None],
        torch.tensor([[0, 0]]),
        torch.tensor([[0.5, 0.9]]),
        torch.ones(1, 2, dtype=torch.bool),
        overlap_thresh=0.5,
    )
    # The 4x4 one is covered 12/16 = 0.75 by the better 4x3 one.
    assert higher.tolist() == [[False, True]]


def test_small_stuff_region_becomes_void() -> None:
    sem = torch.full((1, 3, 8, 8), -1.0)
    sem[0, 1] = 1.0
    sem[0, 2, 6:, 6:] = 2.0  # 4 pixels of stuff 2: 1/16 of the image
    empty = torch.zeros(0, 4)
    kept = _predict(_head(min_stuff_area=0.05), sem, empty, [], [])
    assert kept.id_map[6:, 6:].eq(2).all()
    removed = _predict(_head(min_stuff_area=0.07), sem, empty, [], [])
    assert removed.id_map[6:, 6:].eq(0).all() and removed.id_map[:6].eq(1).all()
    assert [s["category_id"] for s in removed.segments] == [10]
    assert removed.segments[0]["area"] == 60


def test_dropped_instance_becomes_unknown_target() -> None:
    sem_targets = torch.full((1, 6, 6), 1)  # stuff label 1 -> channel 0
    sem_targets[0, 0, :] = 255
    masks = torch.zeros(1, 3, 6, 6, dtype=torch.bool)
    masks[0, 0, 1:3, 1:3] = True
    masks[0, 1, 3:5, 3:5] = True
    masks[0, 2, 4:6, 0:2] = True  # a padded slot: never a target
    sem_targets[0, 1:3, 1:3] = 0
    sem_targets[0, 3:5, 3:5] = 0
    sem_targets[0, 5, 5] = 0  # thing pixel of no instance: ignored
    valid = torch.tensor([[True, True, False]])
    keep = torch.tensor([[True, False, False]])
    targets = panoptic_targets(sem_targets, masks, valid, keep, 1, 2, 255)
    S = 2
    expected = torch.full((6, 6), 0)
    expected[0] = 255
    expected[1:3, 1:3] = S + 1 + 0
    expected[3:5, 3:5] = S  # dropped -> unknown
    expected[5, 5] = 255
    assert targets[0].equal(expected)


def test_drop_instances_keeps_seventy_percent_at_least_one() -> None:
    valid = torch.zeros(4, 12, dtype=torch.bool)
    valid[0, :10] = True
    valid[1, :1] = True
    valid[2, :3] = True
    keep = drop_instances(valid, 0.3, torch.Generator().manual_seed(0))
    assert keep.sum(1).tolist() == [7, 1, 2, 0]
    assert not (keep & ~valid).any()


def test_loss_is_finite_and_reaches_semantic_and_mask_logits() -> None:
    head = _head()
    sem = torch.randn(2, 3, 8, 8, requires_grad=True)
    masks = torch.randn(2, 2, 8, 8, requires_grad=True)
    boxes = torch.tensor([[[0.0, 0.0, 4.0, 4.0], [4.0, 4.0, 8.0, 8.0]]]).repeat(2, 1, 1)
    labels = torch.zeros(2, 2, dtype=torch.long)
    valid = torch.tensor([[True, True], [True, False]])
    gt_masks = box_masks(boxes, (8, 8))
    sem_targets = torch.where(gt_masks.any(1), 0, 2)
    loss = head.loss(sem, masks, boxes, labels, valid, gt_masks, sem_targets)["loss_panoptic"]
    loss.backward()
    assert torch.isfinite(loss) and loss > 0
    assert sem.grad.abs().sum() > 0 and masks.grad.abs().sum() > 0


def test_batch_gives_exactly_the_per_image_results() -> None:
    head = _head(overlap_thresh=0.4, min_stuff_area=0.02)
    sizes = [(9, 7), (10, 12), (6, 10)]  # logit grid sizes, stride 4
    counts = [3, 0, 5]
    H, W, N = 10, 12, 5
    per_image = []
    sem_b = torch.full((3, 3, H, W), -7.0)
    masks_b = torch.full((3, N, H, W), 3.0)
    boxes_b = torch.zeros(3, N, 4)
    labels_b = torch.zeros(3, N, dtype=torch.long)
    scores_b = torch.zeros(3, N)
    valid_b = torch.zeros(3, N, dtype=torch.bool)
    samples = []
    for b, ((h, w), n) in enumerate(zip(sizes, counts)):
        sem = torch.randn(1, 3, h, w) * 3
        xy1 = torch.rand(n, 2) * torch.tensor([w, h]) * 0.6
        wh = 1 + torch.rand(n, 2) * torch.tensor([w, h]) * 0.5
        boxes = torch.cat([xy1, xy1 + wh], 1)
        masks = torch.randn(1, n, h, w) * 3
        scores = torch.rand(n)
        sample = _sample(h * 4 - 2, w * 4 - 1, ori=(h * 5, w * 3))
        samples.append(sample)
        single = head.predict(
            sem,
            masks,
            boxes[None],
            torch.zeros(1, n, dtype=torch.long),
            scores[None],
            torch.ones(1, n, dtype=torch.bool),
            [sample],
            4.0,
            LABEL2CAT,
        )
        per_image.append(single[0])
        sem_b[b, :, :h, :w] = sem[0]
        masks_b[b, :n, :h, :w] = masks[0]
        boxes_b[b, :n] = boxes
        scores_b[b, :n] = scores
        valid_b[b, :n] = True
    # Padded slots carry junk that must not matter.
    boxes_b[~valid_b] = torch.tensor([0.0, 0.0, 12.0, 10.0])
    scores_b[~valid_b] = 1.0
    batched = head.predict(
        sem_b, masks_b, boxes_b, labels_b, scores_b, valid_b, samples, 4.0, LABEL2CAT
    )
    assert sum(len(r.segments) for r in per_image) > 6
    for single, batch in zip(per_image, batched):
        assert single.id_map.equal(batch.id_map)
        assert single.segments == batch.segments


def test_detections_under_the_score_threshold_are_left_out() -> None:
    boxes = torch.tensor([[1.0, 1.0, 5.0, 5.0]])
    sem = _two_stuff_sem(box_masks(boxes, (8, 8)).any(0))
    kept = _predict(_head(), sem, boxes, [2.0], [0.31])
    dropped = _predict(_head(), sem, boxes, [2.0], [0.29])
    assert (kept.id_map[1:5, 1:5] == 3).all()
    # Without its instance the thing region is unknown: VOID.
    assert (dropped.id_map[1:5, 1:5] == 0).all()
    assert not any(s["isthing"] for s in dropped.segments)


def test_channel_pruning_before_resizing_is_exact() -> None:
    from panoptic.models.fusion.panoptic_output import channels_that_can_win, resize_logits

    logits = torch.randn(12, 7, 9) * 2
    logits[3] = -40.0  # below every other channel everywhere: pruned
    logits[5] = OUTSIDE_LOGIT  # an empty instance channel: pruned
    # Second at both corners of a cell but first between them: kept.
    logits[7:10] = -20.0
    logits[7, 0, 0], logits[7, 0, 1] = 10.0, 0.0
    logits[8, 0, 0], logits[8, 0, 1] = 0.0, 10.0
    logits[9, 0, 0], logits[9, 0, 1] = 6.0, 6.0
    logits[:7, 0, :2] = -30.0
    logits[10:, 0, :2] = -30.0
    can_win = channels_that_can_win(logits)
    assert not can_win[3] and not can_win[5] and can_win[9]
    full = resize_logits(logits, (23, 31)).argmax(0)
    kept = torch.nonzero(can_win).flatten()
    pruned = kept[resize_logits(logits[kept], (23, 31)).argmax(0)]
    assert pruned.equal(full)
    assert (full == 9).any()
