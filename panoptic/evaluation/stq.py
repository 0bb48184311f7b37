"""Segmentation and Tracking Quality (STQ) as deeplab2 defines it.

STQ = sqrt(AQ x IoU) (Weber et al., 2021):

- **AQ** (association quality) looks only at *thing* pixels and has no 0.5
  threshold. Per video, every non-crowd ground-truth tube ``g`` (a thing id over
  all of the video's frames) scores ``1/|g| sum_p TPA(p, g) x IoU(p, g)`` over
  the predicted thing tubes ``p`` that overlap it, with ``TPA`` their overlap in
  pixels and the tube IoU ``TPA / (|p| + |g| - TPA)``. Pixels of ground-truth
  crowd are left out of both sides; predicted areas include ground-truth VOID
  pixels. AQ is the sum of the scores over all videos divided by the number of
  ground-truth tubes.
- **IoU** is the semantic mean IoU from one confusion matrix pooled over all
  frames: ground-truth VOID pixels are ignored; predicted VOID on valid ground
  truth counts as an extra "void" class column, which (as in deeplab2) enters
  the mean with IoU 0 whenever it occurs; classes with an empty union are left
  out of the mean.

Every frame is first reduced to its pixel-count table (see
:func:`panoptic.evaluation.vpq.frame_stats`), so the accumulator never touches
pixels. Legend: G ground-truth segments, P predicted segments, C categories.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from panoptic.evaluation.vpq import FrameStats

_Key = TypeVar("_Key", bound=Hashable)


def _merge_counts(
    mine: dict[Hashable, dict[_Key, int]], theirs: dict[Hashable, dict[_Key, int]]
) -> None:
    """Add per-video count tables into ``mine``."""
    for video_id, table in theirs.items():
        target = mine.setdefault(video_id, {})
        for key, value in table.items():
            target[key] = target.get(key, 0) + value


class STQStats:
    """Streaming STQ accumulator over any number of videos.

    Args:
        categories: COCO panoptic category dicts (``id``, ``isthing``).
    """

    def __init__(self, categories: Sequence[Mapping[str, Any]]) -> None:
        self.category_ids = np.array([int(c["id"]) for c in categories], dtype=np.int64)
        self.thing_ids = np.array(
            [int(c["id"]) for c in categories if c.get("isthing", 0)], dtype=np.int64
        )
        num = len(self.category_ids)
        # The last row / column is the void class (ignored rows, predicted VOID columns).
        self.confusion = np.zeros((num + 1, num + 1), dtype=np.int64)
        self.gt_sizes: dict[Hashable, dict[int, int]] = {}
        # Predicted tubes are (id, category id) pairs, like deeplab2's class-and-id labels.
        self.pred_sizes: dict[Hashable, dict[tuple[int, int], int]] = {}
        self.overlaps: dict[Hashable, dict[tuple[int, tuple[int, int]], int]] = {}

    def _class_index(self, category_ids: np.ndarray) -> np.ndarray:
        order = np.argsort(self.category_ids)
        pos = np.searchsorted(self.category_ids[order], category_ids)
        pos = pos.clip(max=max(len(order) - 1, 0))
        if len(category_ids) and (self.category_ids[order][pos] != category_ids).any():
            unknown = sorted(set(category_ids.tolist()) - set(self.category_ids.tolist()))
            raise KeyError(f"unknown category_id(s) {unknown}")
        return order[pos]

    def add(self, stats: FrameStats, video_id: Hashable) -> None:
        """Accumulate one frame of video ``video_id``.

        Args:
            stats: the frame's pixel-count table.
            video_id: any hashable video key; tubes are per video.
        """
        counts = stats.counts
        void = len(self.category_ids)
        rows = np.concatenate([[void], self._class_index(stats.gt_categories)])
        cols = np.concatenate([[void], self._class_index(stats.pred_categories)])
        np.add.at(self.confusion, (rows[:, None], cols[None, :]), counts)

        gt_thing = np.isin(stats.gt_categories, self.thing_ids)  # (G,)
        gt_crowd_thing = gt_thing & stats.gt_crowd
        gt_tube = gt_thing & ~stats.gt_crowd
        pred_thing = np.isin(stats.pred_categories, self.thing_ids)  # (P,)
        not_crowd_rows = np.concatenate([[True], ~gt_crowd_thing])  # (G + 1,)

        gt_sizes = self.gt_sizes.setdefault(video_id, {})
        pred_sizes = self.pred_sizes.setdefault(video_id, {})
        overlaps = self.overlaps.setdefault(video_id, {})
        gt_area = counts[1:].sum(axis=1)  # (G,)
        for g in np.flatnonzero(gt_tube):
            key = int(stats.gt_ids[g])
            gt_sizes[key] = gt_sizes.get(key, 0) + int(gt_area[g])
        pred_area = counts[not_crowd_rows, 1:].sum(axis=0)  # (P,)
        for p in np.flatnonzero(pred_thing & (pred_area > 0)):
            pkey = (int(stats.pred_ids[p]), int(stats.pred_categories[p]))
            pred_sizes[pkey] = pred_sizes.get(pkey, 0) + int(pred_area[p])
        tube_overlap = counts[1:, 1:] * (gt_tube[:, None] & pred_thing[None, :])  # (G, P)
        for g, p in zip(*np.nonzero(tube_overlap), strict=True):
            okey = (int(stats.gt_ids[g]), (int(stats.pred_ids[p]), int(stats.pred_categories[p])))
            overlaps[okey] = overlaps.get(okey, 0) + int(tube_overlap[g, p])

    def merge(self, other: STQStats) -> None:
        """Add an accumulator over other videos (same categories) into this one."""
        self.confusion += other.confusion
        _merge_counts(self.gt_sizes, other.gt_sizes)
        _merge_counts(self.pred_sizes, other.pred_sizes)
        _merge_counts(self.overlaps, other.overlaps)

    def association_quality(self) -> float:
        """AQ pooled over all videos (a fraction; 0 when there is no thing tube)."""
        total, num_tubes = 0.0, 0
        for video_id, gt_sizes in self.gt_sizes.items():
            pred_sizes = self.pred_sizes.get(video_id, {})
            num_tubes += len(gt_sizes)
            for (gt_id, pred_id), tpa in self.overlaps.get(video_id, {}).items():
                gt_size, pred_size = gt_sizes[gt_id], pred_sizes[pred_id]
                total += tpa * (tpa / (gt_size + pred_size - tpa)) / gt_size
        return total / num_tubes if num_tubes else 0.0

    def mean_iou(self) -> float:
        """Semantic mean IoU over classes with a non-empty union (a fraction)."""
        confusion = self.confusion.copy()
        confusion[-1, :] = 0  # ground-truth VOID pixels are ignored
        intersection = np.diag(confusion)
        union = confusion.sum(axis=0) + confusion.sum(axis=1) - intersection
        present = union > 0
        if not present.any():
            return 0.0
        return float((intersection[present] / union[present]).sum() / present.sum())

    def summary(self) -> dict[str, float]:
        """``{"stq", "aq", "iou"}`` as fractions."""
        aq, iou = self.association_quality(), self.mean_iou()
        return {"stq": float(np.sqrt(aq * iou)), "aq": aq, "iou": iou}
