"""TrackingHead: shapes, VPSNet's association targets and loss, gradients, learning."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import InstanceData

from panoptic.models.tracking.tracking_head import (
    TrackingHead,
    association_logits,
    association_loss,
    association_targets,
    jitter_boxes,
)
from panoptic.structures import PanopticDataSample


def _head(**overrides: object) -> TrackingHead:
    cfg = dict(
        in_channels=8,
        featmap_names=["p3", "p4"],
        roi_size=7,
        sampling_ratio=2,
        hidden_channels=32,
        embed_channels=16,
        temperature=0.1,
        box_jitter=0.0,
    )
    cfg.update(overrides)
    return TrackingHead(**cfg)


def _features(batch: int) -> dict[str, torch.Tensor]:
    return {"p3": torch.randn(batch, 8, 16, 16), "p4": torch.randn(batch, 8, 8, 8)}


def test_shapes_including_an_image_without_boxes() -> None:
    head = _head()
    boxes = [torch.tensor([[0.0, 0.0, 20.0, 30.0], [40.0, 40.0, 120.0, 100.0]]), torch.zeros(0, 4)]
    out = head(_features(2), boxes, (128, 128))
    assert [tuple(e.shape) for e in out] == [(2, 16), (0, 16)]
    unit = head.predict(_features(2), boxes, (128, 128))
    torch.testing.assert_close(unit[0].norm(dim=1), torch.ones(2))


def test_targets_point_at_the_same_id_or_new() -> None:
    targets = association_targets(torch.tensor([5, 9, 2]), torch.tensor([2, 7, 5]))
    assert targets.tolist() == [3, 0, 1]
    logits = association_logits(torch.eye(2), torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), 0.5)
    torch.testing.assert_close(logits, torch.tensor([[0.0, 2.0, -2.0], [0.0, 0.0, 0.0]]))


def test_loss_without_pairs_is_zero_and_keeps_a_graph() -> None:
    emb = [torch.randn(2, 4, requires_grad=True), torch.zeros(0, 4, requires_grad=True)]
    ids = [torch.tensor([1, 2]), torch.zeros(0, dtype=torch.long)]
    loss = association_loss(emb, ids, clip_len=2, temperature=0.1)
    assert loss.item() == 0.0 and loss.requires_grad
    with pytest.raises(ValueError, match="clips of 3"):
        association_loss(emb, ids, clip_len=3, temperature=0.1)


def _clip_samples() -> list[PanopticDataSample]:
    samples = []
    for t in range(2):
        sample = PanopticDataSample()
        sample.gt_instances = InstanceData(
            boxes=torch.tensor([[4.0 + t, 4.0, 40.0 + t, 50.0], [60.0, 60.0 + t, 110.0, 120.0]]),
            labels=torch.tensor([0, 1]),
            instance_ids=torch.tensor([3, 8]) if t == 0 else torch.tensor([8, 3]),
            iscrowd=torch.tensor([False, False]),
        )
        samples.append(sample)
    return samples


def test_one_clip_gives_a_positive_loss_with_gradients_and_learns() -> None:
    head = _head()
    features = _features(2)
    samples = _clip_samples()
    loss = head.loss(features, samples, clip_len=2, input_shape=(128, 128))["loss_track"]
    assert loss.item() > 0
    loss.backward()
    assert head.fc1.weight.grad.abs().sum() > 0 and head.fc2.weight.grad.abs().sum() > 0
    optimizer = torch.optim.SGD(head.parameters(), lr=0.05)
    first = loss.item()
    for _ in range(30):
        optimizer.zero_grad()
        loss = head.loss(features, samples, clip_len=2, input_shape=(128, 128))["loss_track"]
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.5 * first


def test_jitter_keeps_boxes_valid_and_near() -> None:
    boxes = torch.tensor([[10.0, 10.0, 30.0, 50.0], [0.0, 0.0, 1.0, 1.0]])
    out = jitter_boxes(boxes, 0.1)
    assert (out[:, 2:] > out[:, :2]).all()
    assert (out - boxes).abs().max() <= 0.1 * 40 + 1e-5
