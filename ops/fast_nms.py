"""Fast NMS (YOLACT, Bolya et al. 2019): a PyTorch reference and a Triton kernel.

Fast NMS suppresses a box when any higher-scoring box of the same class overlaps it by more than
``iou_thresh``, whether or not that higher-scoring box was itself suppressed. Per class it is a
matrix operation: sort, keep the ``top_k`` best, compute the pairwise IoU, keep the strict upper
triangle and take the column maximum. The reference reproduces the authors' code
(dbolya/yolact ``Detect.fast_nms`` / ``cc_fast_nms`` with ``box_utils.jaccard``) operation by
operation, so that its keep flags are bit-identical to theirs. The kernel computes the same keep
flags without materialising the (C, k, k) IoU tensor: one program per class and block of boxes.

Shape legend: N boxes (anchors kept by the caller), C classes, k = min(top_k, N) candidates per
class, M detections returned, B a block of boxes inside the kernel.
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl

__all__ = ["fast_nms", "fast_nms_reference"]

_BACKENDS = ("auto", "reference", "triton")


def _pairwise_iou(boxes: torch.Tensor) -> torch.Tensor:
    """IoU of every pair of boxes within each class, as the authors' ``jaccard`` computes it.

    Args:
        boxes: (C, k, 4) x1y1x2y2 boxes.

    Returns:
        (C, k, k) IoU; 0/0 (two empty boxes) gives NaN exactly as in the authors' code.
    """
    C, k, _ = boxes.shape
    max_xy = torch.min(
        boxes[:, :, None, 2:].expand(C, k, k, 2), boxes[:, None, :, 2:].expand(C, k, k, 2)
    )  # (C, k, k, 2)
    min_xy = torch.max(
        boxes[:, :, None, :2].expand(C, k, k, 2), boxes[:, None, :, :2].expand(C, k, k, 2)
    )  # (C, k, k, 2)
    inter = torch.clamp(max_xy - min_xy, min=0).prod(3)  # (C, k, k)
    areas = (boxes[:, :, 2] - boxes[:, :, 0]) * (boxes[:, :, 3] - boxes[:, :, 1])  # (C, k)
    union = areas[:, :, None].expand_as(inter) + areas[:, None, :].expand_as(inter) - inter
    return inter / union


def _keep_reference(boxes: torch.Tensor, order: torch.Tensor, iou_thresh: float) -> torch.Tensor:
    """Keep flags of the score-sorted candidates, in matrix form.

    Args:
        boxes: (N, 4) x1y1x2y2 boxes.
        order: (C, k) int64 indices into N, each row sorted by descending score.
        iou_thresh: a box is kept when its IoU with every higher-scoring box is <= this.

    Returns:
        (C, k) bool keep flags.
    """
    C, k = order.shape
    cand_boxes = boxes[order.reshape(-1)].view(C, k, 4)  # (C, k, 4)
    iou = _pairwise_iou(cand_boxes).triu_(diagonal=1)  # (C, k, k)
    iou_max, _ = iou.max(dim=1)  # (C, k): best overlap with any higher-scoring box
    return iou_max <= iou_thresh


def _sort_candidates(
    scores: torch.Tensor, top_k: int, cross_class: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class (or cross-class) candidates sorted by descending score.

    Returns:
        ``order`` (C', k) indices into N, ``sorted_scores`` (C', k) and ``classes`` (C', k), where
        C' = C per class and 1 across classes.
    """
    if cross_class:
        best_scores, best_classes = scores.max(dim=0)  # (N,)
        _, order = best_scores.sort(0, descending=True)
        order = order[:top_k][None]  # (1, k)
        return order, best_scores[order], best_classes[order]
    sorted_scores, order = scores.sort(1, descending=True)  # (C, N)
    order = order[:, :top_k].contiguous()  # (C, k)
    sorted_scores = sorted_scores[:, :top_k]  # (C, k)
    classes = torch.arange(scores.shape[0], device=scores.device)[:, None].expand_as(order)
    return order, sorted_scores, classes


def _select(
    keep: torch.Tensor,
    order: torch.Tensor,
    sorted_scores: torch.Tensor,
    classes: torch.Tensor,
    max_num_detections: int,
    cross_class: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The kept (box, class) pairs, best first, at most ``max_num_detections``."""
    indices, kept_classes, kept_scores = order[keep], classes[keep], sorted_scores[keep]  # (M,)
    if not cross_class:
        # The authors pool every class and sort once more; across classes the single row is
        # already sorted.
        kept_scores, rank = kept_scores.sort(0, descending=True)
        indices, kept_classes = indices[rank], kept_classes[rank]
    return (
        indices[:max_num_detections],
        kept_classes[:max_num_detections],
        kept_scores[:max_num_detections],
    )


def _check_inputs(boxes: torch.Tensor, scores: torch.Tensor, top_k: int) -> None:
    if top_k < 1:
        raise ValueError(f"fast_nms: top_k must be at least 1, got {top_k}")
    if boxes.dim() != 2 or boxes.shape[1] != 4:
        raise ValueError(f"fast_nms: boxes must be (N, 4), got {tuple(boxes.shape)}")
    if scores.dim() != 2 or scores.shape[1] != boxes.shape[0]:
        raise ValueError(
            f"fast_nms: scores must be (C, N) with N = {boxes.shape[0]} boxes, "
            f"got {tuple(scores.shape)}"
        )


def _empty_result(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    empty_long = torch.zeros(0, dtype=torch.long, device=scores.device)
    return empty_long, empty_long.clone(), scores.new_zeros(0)


def fast_nms_reference(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_thresh: float,
    top_k: int,
    max_num_detections: int,
    cross_class: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fast NMS in plain PyTorch, operation for operation as the YOLACT authors compute it.

    No score threshold is applied here: the caller drops the anchors whose best class score is
    too low before calling.

    Args:
        boxes: (N, 4) x1y1x2y2 boxes shared by all classes (any consistent unit).
        scores: (C, N) per-class scores.
        iou_thresh: a box is suppressed when its IoU with a higher-scoring box of its class
            exceeds this.
        top_k: candidates per class (across classes: in total) considered by NMS.
        max_num_detections: at most this many detections are returned.
        cross_class: one NMS over every box with its best class (the authors' ``cc_fast_nms``)
            instead of one NMS per class.

    Returns:
        ``indices`` (M,) int64 into N, ``classes`` (M,) int64 into C and ``scores`` (M,), sorted by
        descending score.
    """
    _check_inputs(boxes, scores, top_k)
    if boxes.shape[0] == 0 or scores.shape[0] == 0:
        return _empty_result(scores)
    order, sorted_scores, classes = _sort_candidates(scores, top_k, cross_class)
    keep = _keep_reference(boxes, order, iou_thresh)
    return _select(keep, order, sorted_scores, classes, max_num_detections, cross_class)


@triton.jit
def _fast_nms_kernel(
    boxes_ptr,
    order_ptr,
    keep_ptr,
    num_cand,
    iou_thresh,
    BLOCK: tl.constexpr,
):
    # One program: one class (axis 0) and one block of candidates j (axis 1). It walks the blocks
    # of higher-scoring candidates i <= j and ORs "IoU(i, j) > thresh" into a flag per j, so only a
    # (BLOCK, BLOCK) tile of IoUs ever exists.
    cls = tl.program_id(0)
    offs_j = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)  # (B,)
    valid_j = offs_j < num_cand
    idx_j = tl.load(order_ptr + cls * num_cand + offs_j, mask=valid_j, other=0)
    x1_j = tl.load(boxes_ptr + idx_j * 4 + 0, mask=valid_j, other=0.0)
    y1_j = tl.load(boxes_ptr + idx_j * 4 + 1, mask=valid_j, other=0.0)
    x2_j = tl.load(boxes_ptr + idx_j * 4 + 2, mask=valid_j, other=0.0)
    y2_j = tl.load(boxes_ptr + idx_j * 4 + 3, mask=valid_j, other=0.0)
    area_j = (x2_j - x1_j) * (y2_j - y1_j)
    suppressed = tl.zeros((BLOCK,), dtype=tl.int32)
    for start_i in range(0, (tl.program_id(1) + 1) * BLOCK, BLOCK):
        offs_i = start_i + tl.arange(0, BLOCK)  # (B,)
        valid_i = offs_i < num_cand
        idx_i = tl.load(order_ptr + cls * num_cand + offs_i, mask=valid_i, other=0)
        x1_i = tl.load(boxes_ptr + idx_i * 4 + 0, mask=valid_i, other=0.0)
        y1_i = tl.load(boxes_ptr + idx_i * 4 + 1, mask=valid_i, other=0.0)
        x2_i = tl.load(boxes_ptr + idx_i * 4 + 2, mask=valid_i, other=0.0)
        y2_i = tl.load(boxes_ptr + idx_i * 4 + 3, mask=valid_i, other=0.0)
        area_i = (x2_i - x1_i) * (y2_i - y1_i)
        # The same float operations in the same order as the reference, so IoUs match bitwise.
        inter_w = tl.minimum(x2_i[:, None], x2_j[None, :]) - tl.maximum(
            x1_i[:, None], x1_j[None, :]
        )
        inter_h = tl.minimum(y2_i[:, None], y2_j[None, :]) - tl.maximum(
            y1_i[:, None], y1_j[None, :]
        )
        inter = tl.maximum(inter_w, 0.0) * tl.maximum(inter_h, 0.0)  # (B, B)
        union = area_i[:, None] + area_j[None, :] - inter
        iou = tl.math.div_rn(inter, union)
        # "not (iou <= thresh)" so that NaN (0/0 of two empty boxes) suppresses, like torch.max.
        over = (iou <= iou_thresh) == 0
        pair = (offs_i[:, None] < offs_j[None, :]) & valid_i[:, None]
        suppressed = tl.maximum(suppressed, tl.max((over & pair).to(tl.int32), axis=0))
    tl.store(keep_ptr + cls * num_cand + offs_j, (suppressed == 0).to(tl.int8), mask=valid_j)


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _fast_nms_keep_triton(
    boxes: torch.Tensor, order: torch.Tensor, iou_thresh: float
) -> torch.Tensor:
    """Launches the keep-flag kernel.

    Args:
        boxes: (N, 4) float32 contiguous boxes.
        order: (C, k) int64 contiguous indices into N, rows sorted by descending score.
        iou_thresh: IoU threshold.

    Returns:
        (C, k) bool keep flags.
    """
    if boxes.device.type != "cuda" and not _interpreting():
        raise RuntimeError(
            "fast_nms(backend='triton') needs CUDA tensors, or TRITON_INTERPRET=1 set before "
            "panoptic.ops is imported to run the kernel in Triton's CPU interpreter; "
            f"got tensors on {boxes.device}"
        )
    if boxes.dtype != torch.float32:
        raise TypeError(f"fast_nms(backend='triton'): boxes must be float32, got {boxes.dtype}")
    if order.device != boxes.device:
        raise ValueError("fast_nms(backend='triton'): boxes and scores on different devices")
    boxes = boxes.contiguous()
    order = order.contiguous()
    C, k = order.shape
    keep = torch.empty((C, k), dtype=torch.int8, device=boxes.device)
    block = max(16, min(64, triton.next_power_of_2(k)))
    grid = (C, triton.cdiv(k, block))
    # No FMA contraction: the IoU must round exactly like the reference's separate operations.
    _fast_nms_kernel[grid](
        boxes, order, keep, k, float(iou_thresh), BLOCK=block, enable_fp_fusion=False
    )
    return keep.bool()


def _use_triton(backend: str, boxes: torch.Tensor) -> bool:
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {_BACKENDS}, got {backend!r}")
    if backend == "auto":
        return boxes.is_cuda and boxes.dtype == torch.float32
    return backend == "triton"


def fast_nms(
    boxes: torch.Tensor,
    scores: torch.Tensor,
    iou_thresh: float,
    top_k: int,
    max_num_detections: int,
    cross_class: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fast NMS (YOLACT): per-class (or cross-class) matrix NMS without a score threshold.

    Args:
        boxes: (N, 4) x1y1x2y2 boxes shared by all classes.
        scores: (C, N) per-class scores.
        iou_thresh: a box is suppressed when its IoU with a higher-scoring box exceeds this.
        top_k: candidates per class (across classes: in total) considered by NMS.
        max_num_detections: at most this many detections are returned.
        cross_class: one NMS over every box with its best class instead of one per class.
        backend: ``"auto"`` (Triton for float32 CUDA boxes, the reference otherwise),
            ``"reference"`` or ``"triton"`` (on the CPU only under ``TRITON_INTERPRET=1``).

    Returns:
        ``indices`` (M,) int64 into N, ``classes`` (M,) int64 into C and ``scores`` (M,), sorted by
        descending score.
    """
    if not _use_triton(backend, boxes):
        return fast_nms_reference(boxes, scores, iou_thresh, top_k, max_num_detections, cross_class)
    _check_inputs(boxes, scores, top_k)
    if boxes.shape[0] == 0 or scores.shape[0] == 0:
        return _empty_result(scores)
    order, sorted_scores, classes = _sort_candidates(scores, top_k, cross_class)
    keep = _fast_nms_keep_triton(boxes, order, iou_thresh)
    return _select(keep, order, sorted_scores, classes, max_num_detections, cross_class)
