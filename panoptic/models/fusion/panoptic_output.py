"""From fused logits to the COCO-style ``pred_panoptic``: resizing and segment lists.

Both fusion modules describe their result per pixel as a *channel map* over the
panoptic channel layout ``[stuff (S) | unknown (1) | instances (N)]``: channel
``s < S`` is stuff class ``T + s``, channel ``S`` is unknown (VOID in the
output) and channel ``S + 1 + n`` is instance slot ``n``. This module turns a
channel map into the int32 id map and the segment list of
``docs/architecture.md``.

Shapes: C channels, H/W of the logit grid, H0/W0 of the original image,
N instance slots, S stuff classes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement
from torch import Tensor


def crop_to_image(logits: Tensor, img_shape: Sequence[int], stride: float) -> Tensor:
    """Crops the batch padding off logit maps.

    Args:
        logits: (C, H, W) maps on the logit grid of the padded input.
        img_shape: (h, w) of the resized, unpadded image inside the padded input.
        stride: input pixels per logit pixel.

    Returns:
        (C, ceil(h / stride), ceil(w / stride)) view (at most (C, H, W)).
    """
    h = min(math.ceil(img_shape[0] / stride), logits.shape[-2])
    w = min(math.ceil(img_shape[1] / stride), logits.shape[-1])
    return logits[:, :h, :w]


def resize_logits(logits: Tensor, ori_shape: Sequence[int]) -> Tensor:
    """Bilinear (``align_corners=False``) resizing of logit maps to the original image.

    Args:
        logits: (C, h, w) maps covering exactly the image.
        ori_shape: (H0, W0) of the original image.

    Returns:
        (C, H0, W0) float maps (channels-last in memory: bilinear resizing of many
        channels is several times faster that way on the CPU).
    """
    size = (int(ori_shape[0]), int(ori_shape[1]))
    if logits.shape[0] == 0:
        return logits.new_zeros((0, *size))
    crop = logits[None].contiguous(memory_format=torch.channels_last)  # (1, C, h, w)
    return F.interpolate(crop, size=size, mode="bilinear", align_corners=False)[0]


def resize_to_original(
    logits: Tensor, img_shape: Sequence[int], stride: float, ori_shape: Sequence[int]
) -> Tensor:
    """:func:`crop_to_image` then :func:`resize_logits`: (C, H, W) -> (C, H0, W0)."""
    return resize_logits(crop_to_image(logits, img_shape, stride), ori_shape)


def channels_that_can_win(logits: Tensor) -> Tensor:
    """Channels that can be the argmax somewhere after bilinear resizing (exact test).

    A bilinearly resized value is a convex combination of the four grid values
    around it, so channel c cannot win anywhere inside a grid cell when some
    channel's smallest value on the cell's corners is above c's largest; c is
    dropped when that holds for every cell. Stuff classes absent from the image
    and instances hidden by others fall out, and the resize then handles only
    the channels that matter.

    Args:
        logits: (C, h, w) maps covering the image.

    Returns:
        (C,) bool.
    """
    C = logits.shape[0]
    if C <= 1:
        return torch.ones(C, dtype=torch.bool, device=logits.device)
    # Replicate the last row and column: resizing clamps at the border, so border
    # pixels interpolate within degenerate cells.
    padded = F.pad(logits[None].float(), (0, 1, 0, 1), mode="replicate")[0]  # (C, h+1, w+1)
    cell_max = _cell_reduce(padded, torch.maximum)  # (C, h, w)
    cell_min = _cell_reduce(padded, torch.minimum)  # (C, h, w)
    best_min = cell_min.amax(dim=0)  # (h, w)
    return (cell_max >= best_min).flatten(1).any(dim=1)


def _cell_reduce(maps: Tensor, op: Callable[[Tensor, Tensor], Tensor]) -> Tensor:
    """``op`` over the 2x2 corners of every grid cell: (C, h+1, w+1) -> (C, h, w).

    Two separable passes of an elementwise op (CPU max-pooling with stride 1 is
    an order of magnitude slower).
    """
    rows = op(maps[:, :-1], maps[:, 1:])  # (C, h, w+1)
    return op(rows[:, :, :-1], rows[:, :, 1:])


def segment_boxes(segment_map: Tensor, num_segments: int) -> Tensor:
    """Tight x, y, w, h boxes of every value ``0..num_segments-1`` of a map.

    Args:
        segment_map: (H, W) int64 values in ``0..num_segments-1``.
        num_segments: number of values.

    Returns:
        (num_segments, 4) int64 boxes ``x, y, w, h`` (zeros for absent values).
    """
    H, W = segment_map.shape
    flat = segment_map.reshape(-1)  # (H*W,)
    ys = torch.arange(H, device=flat.device).repeat_interleave(W)  # (H*W,)
    xs = torch.arange(W, device=flat.device).repeat(H)  # (H*W,)
    big = H + W
    mins_x = torch.full((num_segments,), big, device=flat.device).scatter_reduce(
        0, flat, xs, "amin"
    )
    mins_y = torch.full((num_segments,), big, device=flat.device).scatter_reduce(
        0, flat, ys, "amin"
    )
    maxs_x = torch.full((num_segments,), -1, device=flat.device).scatter_reduce(0, flat, xs, "amax")
    maxs_y = torch.full((num_segments,), -1, device=flat.device).scatter_reduce(0, flat, ys, "amax")
    present = maxs_x >= 0
    boxes = torch.stack([mins_x, mins_y, maxs_x - mins_x + 1, maxs_y - mins_y + 1], dim=1)
    return torch.where(present[:, None], boxes, torch.zeros_like(boxes))


def panoptic_from_channels(
    channel_map: Tensor,
    num_thing_classes: int,
    num_stuff_classes: int,
    inst_labels: Tensor,
    inst_scores: Tensor,
    min_stuff_area: float,
    label2cat: Sequence[int] | dict[int, int],
) -> BaseDataElement:
    """Builds ``pred_panoptic`` (id map + segments) from a channel map.

    Unknown pixels, stuff segments smaller than ``min_stuff_area`` of the image
    and instance slots without pixels become VOID (id 0). Segment ids are
    ``1, 2, ...`` in channel order (stuff classes, then instances by slot).

    Args:
        channel_map: (H0, W0) int64 channel indices ``0..S+N``.
        num_thing_classes: T.
        num_stuff_classes: S.
        inst_labels: (N,) int64 thing labels of the instance slots.
        inst_scores: (N,) float scores of the instance slots.
        min_stuff_area: smallest stuff segment kept, as a fraction of H0 * W0.
        label2cat: semantic label (things first) -> dataset category id.

    Returns:
        ``BaseDataElement(id_map=(H0, W0) int32, segments=list of dicts)`` with
        ``id``, ``category_id``, ``isthing``, ``score``, ``area``, ``bbox`` (x, y, w, h).
    """
    S = num_stuff_classes
    N = inst_labels.numel()
    num_channels = S + 1 + N
    H0, W0 = channel_map.shape
    areas = torch.bincount(channel_map.reshape(-1), minlength=num_channels)  # (S+1+N,)

    kept = areas > 0
    kept[S] = False
    kept[:S] &= areas[:S] >= min_stuff_area * H0 * W0
    ids = torch.cumsum(kept.long(), 0) * kept  # (S+1+N,) 0 for VOID channels
    id_map = ids[channel_map].to(torch.int32)  # (H0, W0)

    boxes = segment_boxes(channel_map, num_channels).tolist()
    areas_list = areas.tolist()
    labels_list = inst_labels.tolist()
    scores_list = inst_scores.tolist()
    segments: list[dict[str, Any]] = []
    for channel in torch.nonzero(kept).flatten().tolist():
        if channel < S:
            label, isthing, score = num_thing_classes + channel, False, 1.0
        else:
            slot = channel - S - 1
            label, isthing, score = int(labels_list[slot]), True, float(scores_list[slot])
        segments.append(
            dict(
                id=len(segments) + 1,
                category_id=int(label2cat[label]),
                isthing=isthing,
                score=score,
                area=int(areas_list[channel]),
                bbox=[int(v) for v in boxes[channel]],
            )
        )
    return BaseDataElement(id_map=id_map, segments=segments)


def clip_boxes_to_images(
    boxes: Tensor, img_shapes: Sequence[Sequence[int]], stride: float
) -> Tensor:
    """Clips boxes on the logit grid to each image's unpadded area.

    Args:
        boxes: (B, N, 4) x1y1x2y2 in logit-grid pixels.
        img_shapes: B pairs (h, w) of the unpadded images in input pixels.
        stride: input pixels per logit pixel.

    Returns:
        (B, N, 4) clipped boxes, so nothing reads the batch padding.
    """
    limits = torch.tensor(
        [[w / stride, h / stride] for h, w in (s[:2] for s in img_shapes)],
        dtype=boxes.dtype,
        device=boxes.device,
    )  # (B, 2) as (w, h)
    upper = limits.repeat(1, 2)[:, None, :]  # (B, 1, 4)
    return torch.minimum(boxes.clamp(min=0), upper)
