"""Panoptic FPN's heuristic fusion (Kirillov et al., CVPR 2019), for ablation.

Instances are pasted in decreasing score order onto an empty canvas: one whose
mask is empty, whose score is below ``score_thresh`` or whose mask is covered
by already pasted instances for more than ``overlap_thresh`` of its area is
skipped; the others take their still-free pixels. Stuff classes of the
semantic argmax then fill the free pixels; stuff segments under
``min_stuff_area`` (fraction of the image) and free thing pixels become VOID.

Takes the same inputs as :class:`UPSNetPanopticHead.predict` and has no loss.
The paste is sequential by nature (each instance depends on those before it),
so it loops over the instances of an image.

Shapes: B batch, N instance slots, T thing / S stuff classes, H/W of the logit
grid, H0/W0 of the original image. Boxes are x1y1x2y2 in logit-grid pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement
from torch import Tensor

from panoptic.models.fusion.panoptic_output import (
    clip_boxes_to_images,
    panoptic_from_channels,
    resize_to_original,
)
from panoptic.models.fusion.upsnet_panoptic_head import OUTSIDE_LOGIT, box_masks
from panoptic.registry import MODELS
from panoptic.structures import PanopticDataSample


def heuristic_channel_map(
    inst_masks: Tensor,
    inst_scores: Tensor,
    sem_labels: Tensor,
    num_thing_classes: int,
    num_stuff_classes: int,
    overlap_thresh: float,
    score_thresh: float,
) -> Tensor:
    """Pastes instances by score, then stuff, into a channel map.

    Args:
        inst_masks: (N, H0, W0) bool instance masks.
        inst_scores: (N,) scores.
        sem_labels: (H0, W0) int64 semantic argmax, things first.
        num_thing_classes: T.
        num_stuff_classes: S.
        overlap_thresh: largest fraction of a mask already taken for it to be pasted.
        score_thresh: smallest score pasted.

    Returns:
        (H0, W0) int64 channel map over ``[stuff (S) | unknown (1) | instances (N)]``;
        unknown marks free thing pixels.
    """
    T, S = num_thing_classes, num_stuff_classes
    channel_map = torch.full(sem_labels.shape, S, dtype=torch.long, device=sem_labels.device)
    occupied = torch.zeros(sem_labels.shape, dtype=torch.bool, device=sem_labels.device)
    areas = inst_masks.flatten(1).sum(dim=1).tolist()  # (N,)
    for n in torch.argsort(inst_scores, descending=True, stable=True).tolist():
        if inst_scores[n] < score_thresh or areas[n] == 0:
            continue
        mask = inst_masks[n]
        if (mask & occupied).sum().item() > overlap_thresh * areas[n]:
            continue
        free = mask & ~occupied
        channel_map[free] = S + 1 + n
        occupied |= free
    stuff = (sem_labels >= T) & ~occupied
    return torch.where(stuff, sem_labels - T, channel_map)


@MODELS.register_module()
class HeuristicFusion(BaseModule):
    """Panoptic FPN's paste-by-score fusion, a drop-in for :class:`UPSNetPanopticHead`.

    Args:
        num_thing_classes: T.
        num_stuff_classes: S.
        overlap_thresh: largest fraction of a mask already taken for it to be pasted.
        score_thresh: smallest instance score pasted.
        min_stuff_area: smallest stuff segment kept, as a fraction of the image area.
    """

    def __init__(
        self,
        num_thing_classes: int,
        num_stuff_classes: int,
        overlap_thresh: float,
        score_thresh: float,
        min_stuff_area: float,
    ) -> None:
        super().__init__()
        self.num_thing_classes = num_thing_classes
        self.num_stuff_classes = num_stuff_classes
        self.overlap_thresh = overlap_thresh
        self.score_thresh = score_thresh
        self.min_stuff_area = min_stuff_area

    def loss(self, *args: object, **kwargs: object) -> dict[str, Tensor]:
        """No parameters and no loss: an empty dict."""
        return {}

    def predict(
        self,
        sem_logits: Tensor,
        mask_logits: Tensor,
        boxes: Tensor,
        labels: Tensor,
        scores: Tensor,
        valid: Tensor,
        batch_data_samples: Sequence[PanopticDataSample],
        stride: float,
        label2cat: Sequence[int] | dict[int, int],
    ) -> list[BaseDataElement]:
        """``pred_panoptic`` of every image; arguments as :meth:`UPSNetPanopticHead.predict`."""
        H, W = sem_logits.shape[-2:]
        boxes = clip_boxes_to_images(boxes, [s.img_shape for s in batch_data_samples], stride)
        inside = box_masks(boxes.float(), (H, W))  # (B, N, H, W)
        masked_logits = torch.where(inside, mask_logits.float(), OUTSIDE_LOGIT)
        results = []
        for b, sample in enumerate(batch_data_samples):
            slots = torch.nonzero(valid[b]).flatten()  # (K,)
            ori_shape, img_shape = sample.ori_shape, sample.img_shape
            sem_labels = resize_to_original(
                sem_logits[b].float(), img_shape, stride, ori_shape
            ).argmax(dim=0)  # (H0, W0)
            inst_masks = resize_to_original(masked_logits[b, slots], img_shape, stride, ori_shape)
            channel_map = heuristic_channel_map(
                inst_masks > 0,
                scores[b, slots],
                sem_labels,
                self.num_thing_classes,
                self.num_stuff_classes,
                self.overlap_thresh,
                self.score_thresh,
            )
            results.append(
                panoptic_from_channels(
                    channel_map,
                    self.num_thing_classes,
                    self.num_stuff_classes,
                    labels[b, slots],
                    scores[b, slots],
                    self.min_stuff_area,
                    label2cat,
                )
            )
        return results
