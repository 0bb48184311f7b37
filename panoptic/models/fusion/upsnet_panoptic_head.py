"""UPSNet's parameter-free panoptic head, driven by YOLACT's full-image mask logits.

UPSNet (Xiong et al., CVPR 2019) fuses semantic and instance logits into one
per-pixel classification over ``[stuff classes | unknown | instances]``:

- stuff channels: the semantic head's stuff logits;
- instance channel n (class c_n, box b_n): the semantic logit of c_n plus the
  instance's mask logit (YOLACT: prototypes @ coefficients, before the
  sigmoid) inside b_n, a large negative ``OUTSIDE_LOGIT`` outside;
- unknown channel: ``max_t X_t - max_n X_crop_n`` with X the semantic thing
  logits and ``X_crop_n`` the semantic logit of c_n inside b_n, zero outside
  (UPSNet's ``SegTerm``); 0 stands for the instance term when an image has no
  instance. High where the semantic head sees a thing no instance explains.

UPSNet runs one image per GPU and loops over instances; here images and
instances are padded tensors: instance slots carry a ``valid`` flag, and
invalid slots never win the argmax nor enter the unknown term, so a batch gives
exactly the per-image results.

Training (UPSNet's recipe): ground-truth boxes and classes with the mask logits
of their matched coefficients, a random ``drop_fraction`` of the instances left
out and their pixels made the unknown target, cross-entropy over the channels.
Inference: detections scoring under ``score_thresh`` are left out, instances
whose mask lies mostly (``overlap_thresh``) inside the mask of a higher-scoring
instance of the same class are removed, the logits are resized to the original
image and arg-maxed; unknown pixels and stuff segments
under ``min_stuff_area`` (fraction of the image) become VOID.

Shapes: B batch, N instance slots, T thing classes, S stuff classes,
C = T + S semantic classes, H/W of the logit grid (stride 4 of the input).
Boxes are absolute x1y1x2y2 in logit-grid pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.structures import BaseDataElement
from torch import Tensor

from panoptic.models.fusion.panoptic_output import (
    channels_that_can_win,
    clip_boxes_to_images,
    crop_to_image,
    panoptic_from_channels,
    resize_logits,
)
from panoptic.registry import MODELS
from panoptic.structures import PanopticDataSample

# Instance channels outside their box: finite, so that bilinear resizing and
# bf16 stay NaN-free, yet far below any real logit.
OUTSIDE_LOGIT = -1e4


def box_masks(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Pixels touched by each box.

    Pixel (i, j) covers ``[j, j+1) x [i, i+1)``; it is inside box
    ``x1, y1, x2, y2`` when the two overlap.

    Args:
        boxes: (..., 4) absolute x1y1x2y2 in the grid's pixels.
        size: (H, W) of the grid.

    Returns:
        (..., H, W) bool masks.
    """
    H, W = size
    cols = torch.arange(W, device=boxes.device, dtype=boxes.dtype)  # (W,)
    rows = torch.arange(H, device=boxes.device, dtype=boxes.dtype)  # (H,)
    x1, y1, x2, y2 = (boxes[..., i, None] for i in range(4))  # (..., 1) each
    in_x = (cols + 1 > x1) & (cols < x2)  # (..., W)
    in_y = (rows + 1 > y1) & (rows < y2)  # (..., H)
    return in_y[..., :, None] & in_x[..., None, :]  # (..., H, W)


def instance_semantic_logits(sem_logits: Tensor, labels: Tensor, num_thing_classes: int) -> Tensor:
    """The semantic logit of each instance's class, over the whole grid.

    Args:
        sem_logits: (B, C, H, W) semantic logits, things first.
        labels: (B, N) int64 thing labels (any value in invalid slots).
        num_thing_classes: T.

    Returns:
        (B, N, H, W) logits.
    """
    H, W = sem_logits.shape[-2:]
    index = labels.clamp(0, num_thing_classes - 1)[:, :, None, None].expand(-1, -1, H, W)
    return torch.gather(sem_logits[:, :num_thing_classes], 1, index)  # (B, N, H, W)


def panoptic_logits(
    sem_logits: Tensor,
    mask_logits: Tensor,
    boxes: Tensor,
    labels: Tensor,
    valid: Tensor,
    num_thing_classes: int,
) -> Tensor:
    """UPSNet's panoptic logits over ``[stuff (S) | unknown (1) | instances (N)]``.

    Args:
        sem_logits: (B, T + S, H, W) semantic logits, things first.
        mask_logits: (B, N, H, W) instance mask logits (before the sigmoid).
        boxes: (B, N, 4) x1y1x2y2 in logit-grid pixels.
        labels: (B, N) int64 thing labels.
        valid: (B, N) bool, False for padding (and dropped / removed instances).
        num_thing_classes: T.

    Returns:
        (B, S + 1 + N, H, W) float32 logits; invalid slots are ``OUTSIDE_LOGIT``.
    """
    sem_logits = sem_logits.float()
    T = num_thing_classes
    H, W = sem_logits.shape[-2:]
    inside = box_masks(boxes.float(), (H, W)) & valid[:, :, None, None]  # (B, N, H, W)
    inst_sem = instance_semantic_logits(sem_logits, labels, T)  # (B, N, H, W)

    inst = torch.where(inside, inst_sem + mask_logits.float(), OUTSIDE_LOGIT)  # (B, N, H, W)

    # Unknown: semantic "thing-ness" not explained by any instance's crop.
    # Zero outside the box; -inf for invalid slots, which must not enter the max.
    fill = torch.where(valid, 0.0, float("-inf"))[:, :, None, None]  # (B, N, 1, 1)
    crop = torch.where(inside, inst_sem, fill)  # (B, N, H, W)
    has_instances = valid.any(dim=1)[:, None, None]  # (B, 1, 1)
    if crop.shape[1] > 0:
        crop_max = torch.where(has_instances, crop.amax(dim=1), 0.0)  # (B, H, W)
    else:
        crop_max = sem_logits.new_zeros(sem_logits.shape[0], H, W)
    thing_max = sem_logits[:, :T].amax(dim=1)  # (B, H, W)
    unknown = (thing_max - crop_max)[:, None]  # (B, 1, H, W)

    return torch.cat([sem_logits[:, T:], unknown, inst], dim=1)  # (B, S+1+N, H, W)


def drop_instances(
    valid: Tensor, drop_fraction: float, generator: torch.Generator | None
) -> Tensor:
    """Chooses the ground-truth instances that stay in the panoptic head in training.

    As UPSNet: of an image's n instances, ``max(int(n * (1 - drop_fraction)), 1)``
    chosen at random stay (none when n is 0); the others are dropped and their
    pixels become the unknown target.

    Args:
        valid: (B, N) bool real instance slots.
        drop_fraction: fraction dropped, in [0, 1).
        generator: random generator (None: the global one).

    Returns:
        (B, N) bool, a subset of ``valid``.
    """
    num_valid = valid.sum(dim=1)  # (B,)
    num_keep = (num_valid.float() * (1.0 - drop_fraction)).floor().long().clamp(min=1)
    num_keep = torch.minimum(num_keep, num_valid)  # (B,)
    noise = torch.rand(valid.shape, generator=generator, device=valid.device)
    noise = torch.where(valid, noise, 2.0)  # padding sorts last
    rank = noise.argsort(dim=1).argsort(dim=1)  # (B, N) rank of each slot
    return valid & (rank < num_keep[:, None])


def panoptic_targets(
    sem_targets: Tensor,
    inst_masks: Tensor,
    valid: Tensor,
    keep: Tensor,
    num_thing_classes: int,
    num_stuff_classes: int,
    ignore_index: int,
) -> Tensor:
    """Per-pixel targets over ``[stuff (S) | unknown (1) | instances (N)]``.

    Stuff pixels take their stuff channel, pixels of a kept instance its slot's
    channel, pixels of a valid but dropped instance the unknown channel. VOID
    pixels and thing pixels that no valid instance covers (crowd regions, for
    instance) are ignored. Where instance masks overlap, the first slot wins.

    Args:
        sem_targets: (B, H, W) int64 semantic labels (things first) or ``ignore_index``.
        inst_masks: (B, N, H, W) bool instance masks on the same grid.
        valid: (B, N) bool real instance slots (crowd instances excluded).
        keep: (B, N) bool instances that have a channel (subset of ``valid``).
        num_thing_classes: T.
        num_stuff_classes: S.
        ignore_index: VOID label.

    Returns:
        (B, H, W) int64 targets in ``0..S+N`` or ``ignore_index``.
    """
    T, S = num_thing_classes, num_stuff_classes
    is_stuff = (sem_targets >= T) & (sem_targets < T + S)
    targets = torch.where(is_stuff, sem_targets - T, ignore_index)  # (B, H, W)
    if inst_masks.shape[1] == 0:
        return targets
    masks = inst_masks & valid[:, :, None, None]  # (B, N, H, W)
    covered = masks.any(dim=1)  # (B, H, W)
    slot = masks.to(torch.uint8).argmax(dim=1)  # (B, H, W) first slot covering the pixel
    slot_kept = torch.gather(keep, 1, slot.flatten(1)).view_as(slot)  # (B, H, W)
    inst_targets = torch.where(slot_kept, S + 1 + slot, S)  # (B, H, W)
    return torch.where(covered, inst_targets, targets)


def panoptic_loss(pan_logits: Tensor, pan_targets: Tensor, ignore_index: int) -> Tensor:
    """Cross-entropy over the panoptic channels, averaged over non-ignored pixels.

    Args:
        pan_logits: (B, S + 1 + N, H, W).
        pan_targets: (B, H, W) int64 channel indices or ``ignore_index``.
        ignore_index: ignored target value.

    Returns:
        Scalar loss (0 when every pixel is ignored).
    """
    num_valid = (pan_targets != ignore_index).sum()
    loss = F.cross_entropy(pan_logits, pan_targets, ignore_index=ignore_index, reduction="sum")
    return loss / num_valid.clamp(min=1)


def suppress_covered(
    mask_logits: Tensor,
    boxes: Tensor,
    labels: Tensor,
    scores: Tensor,
    valid: Tensor,
    overlap_thresh: float,
) -> Tensor:
    """Removes instances whose mask lies mostly inside a better instance of their class.

    Instance i is removed when, for some valid j of the same class with a higher
    score (ties: the lower slot wins), ``|m_i & m_j| / |m_i| > overlap_thresh``,
    with m the mask (logit > 0 inside the box); empty masks are removed too. As in
    YOLACT's Fast NMS, all pairs are compared at once, so a removed instance can
    still remove a worse one.

    Args:
        mask_logits: (B, N, H, W) mask logits.
        boxes: (B, N, 4) x1y1x2y2 in logit-grid pixels.
        labels: (B, N) int64 thing labels.
        scores: (B, N) scores.
        valid: (B, N) bool real slots.
        overlap_thresh: covered fraction above which an instance is removed.

    Returns:
        (B, N) bool instances kept (a subset of ``valid``).
    """
    N, H, W = mask_logits.shape[1:]
    masks = (mask_logits > 0) & box_masks(boxes.float(), (H, W)) & valid[:, :, None, None]
    flat = masks.flatten(2).float()  # (B, N, H*W)
    inter = torch.bmm(flat, flat.transpose(1, 2))  # (B, N, N) |m_i & m_j|
    area = flat.sum(dim=2)  # (B, N)

    slots = torch.arange(N, device=scores.device)
    s_i, s_j = scores[:, :, None], scores[:, None, :]  # (B, N, 1), (B, 1, N)
    better = (s_j > s_i) | ((s_j == s_i) & (slots[None, None, :] < slots[None, :, None]))
    same = labels[:, :, None] == labels[:, None, :]  # (B, N, N)
    covers = inter > overlap_thresh * area[:, :, None]  # (B, N, N)
    removed = (better & same & valid[:, None, :] & covers).any(dim=2) | (area == 0)
    return valid & ~removed


def panoptic_channel_map(
    pan_logits: Tensor,
    channels: Tensor,
    img_shape: Sequence[int],
    stride: float,
    ori_shape: Sequence[int],
) -> Tensor:
    """Argmax of one image's panoptic logits at its original size.

    Args:
        pan_logits: (S + 1 + N, H, W) logits of one image.
        channels: (K,) int64 channels that can win (stuff, unknown, kept instances).
        img_shape: (h, w) of the unpadded resized image.
        stride: input pixels per logit pixel.
        ori_shape: (H0, W0) of the original image.

    Returns:
        (H0, W0) int64 indices into ``channels``.
    """
    logits = crop_to_image(pan_logits[channels], img_shape, stride)  # (K, h, w)
    candidates = torch.nonzero(channels_that_can_win(logits)).flatten()  # (K',)
    resized = resize_logits(logits[candidates], ori_shape)  # (K', H0, W0)
    return candidates[resized.argmax(dim=0)]


@MODELS.register_module()
class UPSNetPanopticHead(BaseModule):
    """Parameter-free panoptic head (UPSNet) on semantic and YOLACT mask logits.

    Args:
        num_thing_classes: T.
        num_stuff_classes: S.
        drop_fraction: fraction of ground-truth instances dropped in training.
        score_thresh: smallest detection score entering the head at inference.
        overlap_thresh: covered fraction above which an instance is removed at inference.
        min_stuff_area: smallest stuff segment kept, as a fraction of the image area.
        ignore_index: VOID label.
        loss_weight: weight of ``loss_panoptic``.
    """

    def __init__(
        self,
        num_thing_classes: int,
        num_stuff_classes: int,
        drop_fraction: float,
        score_thresh: float,
        overlap_thresh: float,
        min_stuff_area: float,
        ignore_index: int,
        loss_weight: float,
    ) -> None:
        super().__init__()
        if not 0.0 <= drop_fraction < 1.0:
            raise ValueError(f"drop_fraction must be in [0, 1), got {drop_fraction}")
        self.num_thing_classes = num_thing_classes
        self.num_stuff_classes = num_stuff_classes
        self.drop_fraction = drop_fraction
        self.score_thresh = score_thresh
        self.overlap_thresh = overlap_thresh
        self.min_stuff_area = min_stuff_area
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight

    def forward(
        self, sem_logits: Tensor, mask_logits: Tensor, boxes: Tensor, labels: Tensor, valid: Tensor
    ) -> Tensor:
        """Panoptic logits (see :func:`panoptic_logits`), (B, S + 1 + N, H, W)."""
        return panoptic_logits(
            sem_logits, mask_logits, boxes, labels, valid, self.num_thing_classes
        )

    def loss(
        self,
        sem_logits: Tensor,
        mask_logits: Tensor,
        boxes: Tensor,
        labels: Tensor,
        valid: Tensor,
        inst_masks: Tensor,
        sem_targets: Tensor,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Panoptic cross-entropy on ground-truth instances, some dropped to unknown.

        Args:
            sem_logits: (B, T + S, H, W) semantic logits.
            mask_logits: (B, N, H, W) mask logits of the ground-truth instances
                (their matched coefficients @ prototypes).
            boxes: (B, N, 4) ground-truth boxes in logit-grid pixels.
            labels: (B, N) ground-truth thing labels.
            valid: (B, N) bool real, non-crowd instances.
            inst_masks: (B, N, H, W) bool ground-truth masks on the logit grid.
            sem_targets: (B, H, W) ground-truth semantic labels on the logit grid.
            generator: random generator for the dropped instances (None: global).

        Returns:
            ``{"loss_panoptic": scalar}``.
        """
        keep = drop_instances(valid, self.drop_fraction, generator)
        logits = self.forward(sem_logits, mask_logits, boxes, labels, keep)
        targets = panoptic_targets(
            sem_targets,
            inst_masks,
            valid,
            keep,
            self.num_thing_classes,
            self.num_stuff_classes,
            self.ignore_index,
        )
        loss = panoptic_loss(logits, targets, self.ignore_index)
        return {"loss_panoptic": loss * self.loss_weight}

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
        """``pred_panoptic`` of every image.

        Args:
            sem_logits: (B, T + S, H, W) semantic logits.
            mask_logits: (B, N, H, W) mask logits of the detections.
            boxes: (B, N, 4) detection boxes in logit-grid pixels.
            labels: (B, N) thing labels.
            scores: (B, N) scores.
            valid: (B, N) bool real detections.
            batch_data_samples: samples with ``img_shape`` and ``ori_shape`` metainfo.
            stride: input pixels per logit pixel.
            label2cat: semantic label (things first) -> dataset category id.

        Returns:
            One ``BaseDataElement(id_map, segments)`` per image (see
            :func:`panoptic_from_channels`).
        """
        S = self.num_stuff_classes
        boxes = clip_boxes_to_images(boxes, [s.img_shape for s in batch_data_samples], stride)
        valid = valid & (scores >= self.score_thresh)
        keep = suppress_covered(mask_logits, boxes, labels, scores, valid, self.overlap_thresh)
        logits = self.forward(sem_logits, mask_logits, boxes, labels, keep)
        results = []
        for b, sample in enumerate(batch_data_samples):
            slots = torch.nonzero(keep[b]).flatten()  # (K,)
            channels = torch.cat([torch.arange(S + 1, device=slots.device), S + 1 + slots])
            channel_map = panoptic_channel_map(
                logits[b], channels, sample.img_shape, stride, sample.ori_shape
            )
            results.append(
                panoptic_from_channels(
                    channel_map,
                    self.num_thing_classes,
                    S,
                    labels[b, slots],
                    scores[b, slots],
                    self.min_stuff_area,
                    label2cat,
                )
            )
        return results
