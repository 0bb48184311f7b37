"""YOLACT losses: matching, OHEM, empty and crowd-only ground truth, gradients."""

from __future__ import annotations

import math

import torch
from mmengine.structures import InstanceData

from panoptic.losses.yolact_loss import (
    IGNORE,
    classification_loss,
    crop_masks,
    mask_loss,
    match_priors,
    ohem_negatives,
)
from panoptic.models.yolact import Yolact
from panoptic.structures.panoptic_data_sample import PanopticDataSample

SIZE = 96


def tiny_yolact() -> Yolact:
    return Yolact(
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
            prior_base_size=SIZE,
        ),
        protonet=dict(type="Protonet", in_channels=16, channels=16, num_prototypes=4),
    ).train()


def sample_with(
    boxes: list[list[float]], labels: list[int], iscrowd: list[bool]
) -> PanopticDataSample:
    masks = torch.zeros(len(boxes), SIZE, SIZE, dtype=torch.bool)
    for mask, (x1, y1, x2, y2) in zip(masks, boxes):
        mask[int(y1) : int(y2), int(x1) : int(x2)] = True
    gt = InstanceData(
        boxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.long),
        masks=masks,
        iscrowd=torch.tensor(iscrowd, dtype=torch.bool),
    )
    sample = PanopticDataSample(metainfo={"img_shape": (SIZE, SIZE), "ori_shape": (SIZE, SIZE)})
    sample.gt_instances = gt
    return sample


def test_empty_ground_truth_gives_zero_box_and_mask_loss() -> None:
    model = tiny_yolact()
    losses = model(torch.randn(2, 3, SIZE, SIZE), [sample_with([], [], [])] * 2, mode="loss")
    assert losses["loss_box"].item() == 0
    assert losses["loss_mask"].item() == 0
    assert torch.isfinite(losses["loss_cls"])
    assert torch.isfinite(losses["loss_sem"])
    sum(losses.values()).backward()


def test_crowd_only_image_trains_without_nan() -> None:
    model = tiny_yolact()
    sample = sample_with([[10, 10, 80, 80]], [1], [True])
    losses = model(torch.randn(1, 3, SIZE, SIZE), [sample], mode="loss")
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_box"].item() == 0


def test_one_object_gives_positive_losses_and_gradients_everywhere() -> None:
    model = tiny_yolact()
    samples = [sample_with([[20, 16, 70, 80]], [2], [False])]
    losses = model(torch.randn(1, 3, SIZE, SIZE), samples, mode="loss")
    assert set(losses) == {"loss_box", "loss_cls", "loss_mask", "loss_sem"}
    assert all(value.item() > 0 for value in losses.values())
    sum(losses.values()).backward()
    for module in (model.backbone, model.neck, model.protonet):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    head = model.instance_head
    for conv in (
        head.extra_conv,
        head.box_conv,
        head.cls_conv,
        head.coeff_conv,
        head.semantic_conv,
    ):
        assert conv.weight.grad is not None and conv.weight.grad.abs().sum() > 0


def test_matching_thresholds_forced_match_and_crowd() -> None:
    priors = torch.tensor(
        [
            [0.25, 0.25, 0.5, 0.5],  # IoU 1 with the object
            [0.30, 0.25, 0.5, 0.5],  # IoU ~0.82: positive
            [0.45, 0.25, 0.5, 0.5],  # IoU ~0.43: ignored
            [0.75, 0.75, 0.5, 0.5],  # disjoint: negative
            [0.80, 0.80, 0.1, 0.1],  # disjoint, inside the crowd box: ignored
        ]
    )
    gt = torch.tensor([[0.0, 0.0, 0.5, 0.5]])
    crowd = torch.tensor([[0.7, 0.7, 0.9, 0.9]])
    assignment = match_priors(gt, torch.tensor([4]), priors, crowd_boxes_rel=crowd)
    assert assignment.labels.tolist() == [5, 5, IGNORE, 0, IGNORE]
    assert assignment.gt_index[:2].tolist() == [0, 0]
    # A tiny object below every threshold still claims its best prior.
    tiny = torch.tensor([[0.24, 0.24, 0.26, 0.26]])
    forced = match_priors(tiny, torch.tensor([0]), priors)
    assert forced.positive.sum() == 1 and forced.labels[0] == 1
    empty = match_priors(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), priors)
    assert empty.negative.all()


def test_ohem_keeps_three_negatives_per_positive() -> None:
    logits = torch.randn(2, 500, 5)
    labels = torch.zeros(2, 500, dtype=torch.long)
    labels[0, :7] = 2
    labels[0, 7:20] = IGNORE
    labels[1, 100:103] = 1
    negatives = ohem_negatives(logits, labels, neg_pos_ratio=3)
    assert negatives.sum(dim=1).tolist() == [21, 9]
    assert not (negatives & (labels != 0)).any()
    # The kept negatives are the hardest: highest background cross-entropy.
    hardness = torch.logsumexp(logits[0], -1) - logits[0, :, 0]
    hardness[labels[0] != 0] = -1
    assert set(negatives[0].nonzero().flatten().tolist()) == set(hardness.topk(21).indices.tolist())
    loss = classification_loss(logits, labels)
    selected = (labels > 0) | negatives
    expected = torch.nn.functional.cross_entropy(
        logits[selected], labels[selected], reduction="sum"
    )
    torch.testing.assert_close(loss, expected)


def test_mask_loss_crops_with_padding_and_normalises_by_box_area() -> None:
    protos = torch.zeros(10, 10, 3)  # sigmoid(0) = 0.5 everywhere before the crop
    coeffs = torch.zeros(1, 3)
    box = torch.tensor([[0.2, 0.2, 0.6, 0.6]])  # cells 2..5, 4 x 4
    target = torch.zeros(1, 10, 10)
    target[0, 2:6, 2:6] = 1
    # Kept cells: the box padded by one cell, [1, 7) x [1, 7): 36 cells at p = 0.5 cost
    # ln 2 each; outside the crop p = 0 against target 0 costs nothing.
    expected = 36 * math.log(2) / 16
    torch.testing.assert_close(mask_loss(protos, coeffs, target, box), torch.tensor(expected))
    # More positives than max_masks: a subset trains, scaled back to the full count.
    many = mask_loss(protos, coeffs.repeat(5, 1), target.repeat(5, 1, 1), box.repeat(5, 1), 2)
    torch.testing.assert_close(many, torch.tensor(5 * expected))


def test_crop_masks_matches_the_authors_rule() -> None:
    masks = torch.ones(8, 8, 1)
    cropped = crop_masks(masks, torch.tensor([[0.25, 0.5, 0.5, 0.75]]), padding=1)
    rows, cols = cropped[..., 0].nonzero(as_tuple=True)
    assert (rows.min().item(), rows.max().item()) == (3, 6)
    assert (cols.min().item(), cols.max().item()) == (1, 4)
