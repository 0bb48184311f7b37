"""YOLACT post-processing as free functions: detection, then masks and boxes in the image.

Legend: A priors, C thing classes (class probabilities carry C + 1 columns,
background first), K prototypes, N detections, H/W heights and widths.

Detection (decode, score filter, Fast NMS) is kept apart from mask assembly so
that other heads (the panoptic head) can reuse the detections, their
coefficients and the prototypes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from torch import Tensor

from panoptic.ops import assemble_masks, fast_nms
from panoptic.structures.box_ops import decode_boxes


def detect_instances(
    loc: Tensor,
    cls_probs: Tensor,
    coeffs: Tensor,
    priors_cxcywh: Tensor,
    conf_thresh: float,
    iou_thresh: float,
    top_k: int,
    max_num_detections: int,
    cross_class: bool = False,
) -> InstanceData:
    """Detections of one image, as the authors' ``Detect``.

    Priors whose best thing-class probability is at most ``conf_thresh`` are
    dropped; Fast NMS (per class, or across classes) runs on the rest. Scores of
    the kept (prior, class) pairs are not thresholded again.

    Args:
        loc: (A, 4) box regressions.
        cls_probs: (A, C + 1) class probabilities (softmax), background first.
        coeffs: (A, K) mask coefficients.
        priors_cxcywh: (A, 4) priors.
        conf_thresh: minimum best-class probability of a prior.
        iou_thresh: Fast NMS IoU threshold.
        top_k: candidates per class entering NMS.
        max_num_detections: most detections returned.
        cross_class: one Fast NMS over all classes instead of one per class.

    Returns:
        InstanceData with ``boxes_rel`` (N, 4) relative x1y1x2y2, ``labels`` (N,)
        int64 thing labels, ``scores`` (N,) and ``coeffs`` (N, K), sorted by
        descending score.
    """
    cls_probs = cls_probs.float()
    keep = cls_probs[:, 1:].max(dim=1).values > conf_thresh  # (A,)
    # Select the priors first, then transpose only the survivors to (C, N).
    boxes_rel = decode_boxes(loc[keep].float(), priors_cxcywh[keep])  # (N, 4)
    thing_probs = cls_probs[keep, 1:].t().contiguous()  # (C, N)
    coeffs = coeffs[keep].float()  # (N, K)
    if boxes_rel.shape[0] == 0:
        return InstanceData(
            boxes_rel=boxes_rel,
            labels=torch.zeros(0, dtype=torch.long, device=loc.device),
            scores=boxes_rel.new_zeros(0),
            coeffs=coeffs,
        )
    indices, labels, scores = fast_nms(
        boxes_rel,
        thing_probs,
        iou_thresh=iou_thresh,
        top_k=top_k,
        max_num_detections=max_num_detections,
        cross_class=cross_class,
    )
    return InstanceData(
        boxes_rel=boxes_rel[indices], labels=labels.long(), scores=scores, coeffs=coeffs[indices]
    )


def boxes_to_image(boxes_rel: Tensor, height: int, width: int) -> Tensor:
    """Relative boxes to absolute image pixels, ordered and clamped to the image.

    Args:
        boxes_rel: (N, 4) relative x1y1x2y2.
        height: image height in pixels.
        width: image width in pixels.

    Returns:
        (N, 4) float absolute x1y1x2y2 in ``[0, width] x [0, height]`` (the authors
        then truncate to integers).
    """
    xs = boxes_rel[:, 0::2] * width  # (N, 2)
    ys = boxes_rel[:, 1::2] * height  # (N, 2)
    x1 = torch.clamp(xs.min(dim=1).values, min=0)
    x2 = torch.clamp(xs.max(dim=1).values, max=width)
    y1 = torch.clamp(ys.min(dim=1).values, min=0)
    y2 = torch.clamp(ys.max(dim=1).values, max=height)
    return torch.stack((x1, y1, x2, y2), dim=1)


def instances_to_image(
    detections: InstanceData,
    protos: Tensor,
    ori_shape: tuple[int, int],
    valid_rel: tuple[float, float] = (1.0, 1.0),
    mask_thresh: float = 0.5,
) -> InstanceData:
    """Image-space results of one image's detections: boxes, binary masks.

    Masks are ``sigmoid(protos @ coeffs^T)`` cropped to the boxes (1-cell padding),
    upsampled bilinearly to the original image and thresholded.

    Args:
        detections: output of :func:`detect_instances`.
        protos: (Hp, Wp, K) prototypes of the image.
        ori_shape: (H, W) of the original image.
        valid_rel: fraction (h, w) of the network input covered by the image; 1 when
            the input was resized without padding, as the authors do.
        mask_thresh: probability above which a mask pixel is on.

    Returns:
        InstanceData with ``boxes`` (N, 4) absolute x1y1x2y2, ``labels``, ``scores``,
        ``masks`` (N, H, W) bool, plus ``boxes_rel`` and ``coeffs`` from the detections.
    """
    height, width = ori_shape
    boxes_rel = detections.boxes_rel
    protos = protos.float()
    if valid_rel == (1.0, 1.0):
        masks = assemble_masks(
            protos, detections.coeffs, boxes_rel, out_size=(height, width), threshold=mask_thresh
        )
    else:
        valid_h = round(protos.shape[0] * valid_rel[0])
        valid_w = round(protos.shape[1] * valid_rel[1])
        mask_probs = assemble_masks(protos, detections.coeffs, boxes_rel)  # (N, Hp, Wp)
        mask_probs = mask_probs[:, :valid_h, :valid_w]
        if mask_probs.shape[0] > 0:
            mask_probs = F.interpolate(
                mask_probs[None], (height, width), mode="bilinear", align_corners=False
            )[0]
        else:
            mask_probs = mask_probs.new_zeros((0, height, width))
        masks = mask_probs > mask_thresh
        boxes_rel = boxes_rel / boxes_rel.new_tensor([valid_rel[1], valid_rel[0]] * 2)
    results = InstanceData(
        boxes=boxes_to_image(boxes_rel, height, width),
        labels=detections.labels,
        scores=detections.scores,
        masks=masks.reshape(-1, height, width).bool(),
    )
    results.boxes_rel = detections.boxes_rel
    results.coeffs = detections.coeffs
    return results
