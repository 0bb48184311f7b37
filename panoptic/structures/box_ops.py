"""Box conversions, IoU and the YOLACT/SSD box coding, as free functions.

Legend: A priors (anchors), N boxes, M boxes, G batch of box sets.

Boxes are x1y1x2y2 unless the name says ``_cxcywh``. The coding functions work on
relative (0..1) boxes as YOLACT does, but nothing here depends on the unit.
The order of floating-point operations follows the authors' code so that decoded
boxes match theirs bit for bit.
"""

from __future__ import annotations

import torch
from torch import Tensor

BOX_VARIANCES: tuple[float, float] = (0.1, 0.2)


def cxcywh_to_xyxy(boxes_cxcywh: Tensor) -> Tensor:
    """Centre form to corner form.

    Args:
        boxes_cxcywh: (..., 4) boxes as (cx, cy, w, h).

    Returns:
        (..., 4) boxes as (x1, y1, x2, y2).
    """
    centres = boxes_cxcywh[..., :2]
    sizes = boxes_cxcywh[..., 2:]
    return torch.cat((centres - sizes / 2, centres + sizes / 2), dim=-1)


def xyxy_to_cxcywh(boxes: Tensor) -> Tensor:
    """Corner form to centre form.

    Args:
        boxes: (..., 4) boxes as (x1, y1, x2, y2).

    Returns:
        (..., 4) boxes as (cx, cy, w, h).
    """
    return torch.cat(((boxes[..., 2:] + boxes[..., :2]) / 2, boxes[..., 2:] - boxes[..., :2]), -1)


def box_area(boxes: Tensor) -> Tensor:
    """Areas of x1y1x2y2 boxes: (..., 4) -> (...)."""
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_intersection(boxes_a: Tensor, boxes_b: Tensor) -> Tensor:
    """Pairwise intersection areas.

    Args:
        boxes_a: (..., N, 4) x1y1x2y2.
        boxes_b: (..., M, 4) x1y1x2y2, same leading dims as ``boxes_a``.

    Returns:
        (..., N, M) intersection areas (0 for disjoint boxes).
    """
    max_xy = torch.min(boxes_a[..., :, None, 2:], boxes_b[..., None, :, 2:])  # (..., N, M, 2)
    min_xy = torch.max(boxes_a[..., :, None, :2], boxes_b[..., None, :, :2])  # (..., N, M, 2)
    return torch.clamp(max_xy - min_xy, min=0).prod(-1)


def box_iou(boxes_a: Tensor, boxes_b: Tensor) -> Tensor:
    """Pairwise IoU (the authors' ``jaccard``).

    Args:
        boxes_a: (..., N, 4) x1y1x2y2.
        boxes_b: (..., M, 4) x1y1x2y2.

    Returns:
        (..., N, M) intersection over union.
    """
    inter = box_intersection(boxes_a, boxes_b)  # (..., N, M)
    area_a = box_area(boxes_a)[..., :, None]  # (..., N, 1)
    area_b = box_area(boxes_b)[..., None, :]  # (..., 1, M)
    return inter / (area_a + area_b - inter)


def box_ioa(boxes_a: Tensor, boxes_b: Tensor) -> Tensor:
    """Pairwise intersection over the area of ``boxes_a`` (how much of a lies in b).

    This is the authors' ``jaccard(..., iscrowd=True)``, used to ignore priors that
    fall inside crowd regions.

    Args:
        boxes_a: (..., N, 4) x1y1x2y2.
        boxes_b: (..., M, 4) x1y1x2y2.

    Returns:
        (..., N, M) intersection / area(a).
    """
    inter = box_intersection(boxes_a, boxes_b)  # (..., N, M)
    return inter / box_area(boxes_a)[..., :, None]


def encode_boxes(
    matched: Tensor, priors_cxcywh: Tensor, variances: tuple[float, float] = BOX_VARIANCES
) -> Tensor:
    """Regression targets of matched boxes with respect to their priors (SSD coding).

    Args:
        matched: (A, 4) x1y1x2y2 ground-truth box assigned to each prior.
        priors_cxcywh: (A, 4) priors as (cx, cy, w, h).
        variances: scale of the centre and size terms.

    Returns:
        (A, 4) targets (dx, dy, dw, dh).
    """
    centre_offsets = (matched[:, :2] + matched[:, 2:]) / 2 - priors_cxcywh[:, :2]
    centre_offsets = centre_offsets / (variances[0] * priors_cxcywh[:, 2:])
    size_ratios = (matched[:, 2:] - matched[:, :2]) / priors_cxcywh[:, 2:]
    log_sizes = torch.log(size_ratios) / variances[1]
    return torch.cat((centre_offsets, log_sizes), dim=1)


def decode_boxes(
    loc: Tensor, priors_cxcywh: Tensor, variances: tuple[float, float] = BOX_VARIANCES
) -> Tensor:
    """Boxes from regressions and priors, the inverse of :func:`encode_boxes`.

    Args:
        loc: (A, 4) or (B, A, 4) predicted (dx, dy, dw, dh).
        priors_cxcywh: (A, 4) priors as (cx, cy, w, h).
        variances: scale of the centre and size terms.

    Returns:
        Boxes x1y1x2y2 with the shape of ``loc``, in the priors' unit.
    """
    centres = priors_cxcywh[..., :2] + loc[..., :2] * variances[0] * priors_cxcywh[..., 2:]
    sizes = priors_cxcywh[..., 2:] * torch.exp(loc[..., 2:] * variances[1])
    top_left = centres - sizes / 2
    return torch.cat((top_left, sizes + top_left), dim=-1)
