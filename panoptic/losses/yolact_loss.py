"""YOLACT training losses as free functions, following the authors' MultiBoxLoss.

Legend: B batch, A priors, N ground-truth instances, C thing classes (the class
logits have C + 1 channels, background first), K prototypes, H/W prototype or
semantic map height/width.

Boxes here are relative (0..1) x1y1x2y2, like the priors. Every function returns a
*sum*; the caller divides by the number of positive priors (box, class and mask
losses) or by the batch size (semantic loss), as the authors do.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from panoptic.structures.box_ops import box_ioa, box_iou, cxcywh_to_xyxy, xyxy_to_cxcywh

IGNORE = -1


@dataclass
class PriorAssignment:
    """Result of :func:`match_priors` for one image.

    Attributes:
        gt_index: (A,) int64 index of the ground-truth instance each prior is matched
            to (meaningful only where ``labels > 0``; 0 elsewhere).
        labels: (A,) int64 class target: ``c + 1`` for a positive prior of thing class
            ``c``, 0 for background (negative), -1 (``IGNORE``) for priors that do
            not train the classifier.
        overlaps: (A,) best IoU of each prior with any instance (2 for the priors
            forced onto their instance).
    """

    gt_index: Tensor
    labels: Tensor
    overlaps: Tensor

    @property
    def positive(self) -> Tensor:
        """(A,) bool: priors matched to an instance."""
        return self.labels > 0

    @property
    def negative(self) -> Tensor:
        """(A,) bool: background priors."""
        return self.labels == 0

    @property
    def ignored(self) -> Tensor:
        """(A,) bool: priors between the thresholds or inside a crowd region."""
        return self.labels == IGNORE


def match_priors(
    gt_boxes_rel: Tensor,
    gt_labels: Tensor,
    priors_cxcywh: Tensor,
    crowd_boxes_rel: Tensor | None = None,
    pos_iou_thresh: float = 0.5,
    neg_iou_thresh: float = 0.4,
    crowd_iou_thresh: float = 0.7,
) -> PriorAssignment:
    """Assign ground truth to priors as the authors do.

    Each prior takes the instance it overlaps most. Then, greedily by best overlap,
    every instance claims its best prior (so each instance gets at least one).
    Priors with IoU >= ``pos_iou_thresh`` are positive, < ``neg_iou_thresh`` negative,
    in between ignored. A would-be negative whose area lies more than
    ``crowd_iou_thresh`` inside a crowd box is ignored too.

    Args:
        gt_boxes_rel: (N, 4) relative x1y1x2y2 of the non-crowd instances (N may be 0).
        gt_labels: (N,) int64 thing labels 0..C-1.
        priors_cxcywh: (A, 4) priors (cx, cy, w, h), relative.
        crowd_boxes_rel: (M, 4) relative x1y1x2y2 crowd boxes, or None.
        pos_iou_thresh: IoU at or above which a prior is positive.
        neg_iou_thresh: IoU below which a prior is negative.
        crowd_iou_thresh: fraction of a prior inside a crowd box above which it is
            ignored rather than negative.

    Returns:
        The :class:`PriorAssignment`.
    """
    num_priors = priors_cxcywh.shape[0]
    device = priors_cxcywh.device
    prior_boxes = cxcywh_to_xyxy(priors_cxcywh)  # (A, 4)
    if gt_boxes_rel.shape[0] == 0:
        gt_index = torch.zeros(num_priors, dtype=torch.long, device=device)
        labels = torch.zeros(num_priors, dtype=torch.long, device=device)
        best_overlap = torch.zeros(num_priors, dtype=prior_boxes.dtype, device=device)
    else:
        overlaps = box_iou(gt_boxes_rel, prior_boxes)  # (N, A)
        best_overlap, gt_index = overlaps.max(0)  # (A,)
        for _ in range(overlaps.shape[0]):
            best_prior_overlap, best_prior_index = overlaps.max(1)  # (N,)
            gt = best_prior_overlap.argmax()
            prior = best_prior_index[gt]
            overlaps[:, prior] = -1
            overlaps[gt, :] = -1
            best_overlap[prior] = 2
            gt_index[prior] = gt
        labels = gt_labels[gt_index] + 1
        labels[best_overlap < pos_iou_thresh] = IGNORE
        labels[best_overlap < neg_iou_thresh] = 0
    if crowd_boxes_rel is not None and crowd_boxes_rel.shape[0] > 0 and crowd_iou_thresh < 1:
        crowd_overlap = box_ioa(prior_boxes, crowd_boxes_rel).max(1).values  # (A,)
        labels[(labels <= 0) & (crowd_overlap > crowd_iou_thresh)] = IGNORE
    return PriorAssignment(gt_index=gt_index, labels=labels, overlaps=best_overlap)


def box_regression_loss(loc: Tensor, loc_targets: Tensor, positive: Tensor) -> Tensor:
    """Smooth-L1 loss of the positive priors' regressions, summed.

    Args:
        loc: (B, A, 4) predicted regressions.
        loc_targets: (B, A, 4) encoded targets (see ``encode_boxes``).
        positive: (B, A) bool.

    Returns:
        Scalar sum over positives and coordinates.
    """
    return F.smooth_l1_loss(loc[positive], loc_targets[positive], reduction="sum")


def ohem_negatives(cls_logits: Tensor, labels: Tensor, neg_pos_ratio: float = 3.0) -> Tensor:
    """Hard negatives: per image the ``neg_pos_ratio * num_pos`` hardest background priors.

    Hardness is the background cross-entropy ``logsumexp(logits) - logits[0]``;
    positives and ignored priors never count.

    Args:
        cls_logits: (B, A, C + 1) class logits.
        labels: (B, A) targets (-1 ignore, 0 background, > 0 positive).
        neg_pos_ratio: negatives kept per positive.

    Returns:
        (B, A) bool mask of the selected negatives.
    """
    with torch.no_grad():
        logits = cls_logits.detach().float()
        shift = logits.max()
        background_loss = (
            torch.log(torch.exp(logits - shift).sum(-1)) + shift - logits[..., 0]
        )  # (B, A)
        background_loss[labels != 0] = 0
        order = background_loss.argsort(dim=1, descending=True)  # (B, A)
        rank = order.argsort(dim=1)  # (B, A)
        num_pos = (labels > 0).sum(dim=1, keepdim=True)  # (B, 1)
        num_neg = torch.clamp(neg_pos_ratio * num_pos, max=labels.shape[1] - 1)
        return (rank < num_neg) & (labels == 0)


def classification_loss(cls_logits: Tensor, labels: Tensor, neg_pos_ratio: float = 3.0) -> Tensor:
    """Softmax cross-entropy over positives and OHEM-selected negatives, summed.

    Args:
        cls_logits: (B, A, C + 1) class logits.
        labels: (B, A) targets (-1 ignore, 0 background, > 0 positive).
        neg_pos_ratio: negatives kept per positive.

    Returns:
        Scalar sum of the cross-entropy over the selected priors.
    """
    selected = (labels > 0) | ohem_negatives(cls_logits, labels, neg_pos_ratio)  # (B, A)
    return F.cross_entropy(cls_logits[selected], labels[selected], reduction="sum")


def crop_masks(masks: Tensor, boxes_rel: Tensor, padding: int = 1) -> Tensor:
    """Zero a stack of masks outside their boxes, the authors' ``crop``.

    Box edges are scaled to the mask grid and widened by ``padding`` cells on each
    side (clamped to the grid); a cell is kept when its index lies in ``[x1, x2)``.

    Args:
        masks: (H, W, N) mask values.
        boxes_rel: (N, 4) relative x1y1x2y2.
        padding: cells added on each side.

    Returns:
        (H, W, N) cropped masks.
    """
    height, width, _ = masks.shape
    x1, x2 = _scaled_span(boxes_rel[:, 0], boxes_rel[:, 2], width, padding)  # (N,)
    y1, y2 = _scaled_span(boxes_rel[:, 1], boxes_rel[:, 3], height, padding)  # (N,)
    cols = torch.arange(width, device=masks.device, dtype=x1.dtype)[None, :, None]  # (1, W, 1)
    rows = torch.arange(height, device=masks.device, dtype=y1.dtype)[:, None, None]  # (H, 1, 1)
    inside = (cols >= x1) & (cols < x2) & (rows >= y1) & (rows < y2)  # (H, W, N)
    return masks * inside.to(masks.dtype)


def _scaled_span(lo: Tensor, hi: Tensor, size: int, padding: int) -> tuple[Tensor, Tensor]:
    lo, hi = lo * size, hi * size
    return (
        torch.clamp(torch.min(lo, hi) - padding, min=0),
        torch.clamp(torch.max(lo, hi) + padding, max=size),
    )


def mask_loss(
    protos: Tensor,
    coeffs: Tensor,
    gt_masks: Tensor,
    gt_boxes_rel: Tensor,
    max_masks: int = 100,
) -> Tensor:
    """Mask BCE of one image's positive priors, cropped to the ground-truth boxes.

    Each prior's mask ``sigmoid(protos @ coeff)`` is cropped to its instance's box
    (1-cell padding), compared with the instance mask by binary cross-entropy, and
    the sum over pixels is divided by the box area in prototype cells. With more
    than ``max_masks`` positives a random subset trains, scaled up to the full count.

    Args:
        protos: (H, W, K) prototypes.
        coeffs: (P, K) coefficients of the positive priors.
        gt_masks: (P, H, W) binary target of each positive prior, at prototype size.
        gt_boxes_rel: (P, 4) relative x1y1x2y2 box of each positive prior's instance.
        max_masks: most masks trained per image.

    Returns:
        Scalar: sum over priors of the area-normalised BCE (0 with no positive).
    """
    num_pos = coeffs.shape[0]
    if num_pos == 0:
        return protos.sum() * 0 + coeffs.sum() * 0
    if num_pos > max_masks:
        select = torch.randperm(num_pos, device=coeffs.device)[:max_masks]
        coeffs, gt_masks, gt_boxes_rel = coeffs[select], gt_masks[select], gt_boxes_rel[select]
    height, width, _ = protos.shape
    mask_probs = torch.sigmoid(protos @ coeffs.t())  # (H, W, P)
    mask_probs = crop_masks(mask_probs, gt_boxes_rel)
    targets = gt_masks.permute(1, 2, 0).to(mask_probs.dtype)  # (H, W, P)
    per_pixel = F.binary_cross_entropy(mask_probs.clamp(0, 1), targets, reduction="none")
    sizes = xyxy_to_cxcywh(gt_boxes_rel)[:, 2:]  # (P, 2)
    box_area = (sizes[:, 0] * width * sizes[:, 1] * height).clamp(min=1e-6)  # (P,)
    per_mask = per_pixel.sum(dim=(0, 1)) / box_area  # (P,)
    return per_mask.sum() * (num_pos / coeffs.shape[0])


def downsample_masks(masks: Tensor, size: tuple[int, int]) -> Tensor:
    """Binary masks resized bilinearly and thresholded at 0.5, as the authors' targets.

    Args:
        masks: (N, H, W) bool or float masks.
        size: (h, w) target size.

    Returns:
        (N, h, w) float32 0/1 masks.
    """
    if masks.shape[0] == 0:
        return masks.new_zeros((0, *size), dtype=torch.float32)
    resized = F.interpolate(masks[None].float(), size, mode="bilinear", align_corners=False)[0]
    return (resized > 0.5).float()


def semantic_aux_loss(sem_logits: Tensor, gt_masks: Tensor, gt_labels: Tensor) -> Tensor:
    """The authors' auxiliary semantic loss for one image: per-class BCE with logits.

    The target of class ``c`` is the union of the (downsampled, binarised) masks of
    the instances of class ``c``; the sum is divided by the map area.

    Args:
        sem_logits: (C, H, W) logits, one channel per thing class.
        gt_masks: (N, H', W') instance masks at any resolution.
        gt_labels: (N,) int64 thing labels.

    Returns:
        Scalar loss.
    """
    num_classes, height, width = sem_logits.shape
    with torch.no_grad():
        masks = downsample_masks(gt_masks, (height, width))  # (N, H, W)
        targets = sem_logits.new_zeros((num_classes, height, width), dtype=torch.float32)
        for mask, label in zip(masks, gt_labels.tolist()):
            targets[label] = torch.max(targets[label], mask)
    loss = F.binary_cross_entropy_with_logits(sem_logits.float(), targets, reduction="sum")
    return loss / (height * width)
