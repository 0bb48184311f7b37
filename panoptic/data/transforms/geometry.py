"""Geometry shared by the transforms: nearest-neighbour resampling of label maps
and keeping instances, boxes and segments consistent with the masks.

Label maps, masks and id maps are all resampled with the same index arrays,
so they stay pixel-aligned with each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Shapes: N instances, T frames, H/W height/width.

INSTANCE_KEYS = ("gt_masks", "gt_boxes", "gt_labels", "gt_iscrowd", "gt_instance_ids")


def nearest_indices(src_size: int, dst_size: int) -> np.ndarray:
    """Source index of every destination pixel (pixel centres aligned)."""
    centers = (np.arange(dst_size) + 0.5) * (src_size / dst_size)
    return np.minimum(np.floor(centers).astype(np.int64), src_size - 1)


def resize_nearest(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize the last two axes of ``array`` (..., H, W) to (height, width)."""
    rows = nearest_indices(array.shape[-2], height)
    cols = nearest_indices(array.shape[-1], width)
    return array[..., rows[:, None], cols[None, :]]


def masks_to_boxes(masks: np.ndarray) -> np.ndarray:
    """Tight boxes (N, 4) float32 abs x1y1x2y2 (x2, y2 exclusive) of (N, H, W) masks.

    Empty masks give zero boxes.
    """
    boxes = np.zeros((masks.shape[0], 4), dtype=np.float32)
    rows_any = np.asarray(masks.any(axis=2))  # (N, H)
    cols_any = np.asarray(masks.any(axis=1))  # (N, W)
    for k in range(masks.shape[0]):
        ys = np.flatnonzero(rows_any[k])
        xs = np.flatnonzero(cols_any[k])
        if ys.size:
            boxes[k] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    return boxes


def refresh_instances(results: dict[str, Any]) -> None:
    """After a geometric change: recompute boxes, drop vanished instances and segments.

    Works in place on whichever of ``gt_masks`` / ``gt_pan_id_map`` are present.
    """
    if "gt_masks" in results:
        masks = results["gt_masks"]
        keep = masks.reshape(masks.shape[0], -1).any(axis=1)
        for key in INSTANCE_KEYS:
            if key in results:
                results[key] = results[key][keep]
        results["gt_boxes"] = masks_to_boxes(results["gt_masks"])
    if "gt_pan_id_map" in results and "gt_segments" in results:
        present = set(np.unique(results["gt_pan_id_map"]).tolist())
        results["gt_segments"] = [s for s in results["gt_segments"] if s["id"] in present]
