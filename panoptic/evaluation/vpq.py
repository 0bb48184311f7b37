"""Video Panoptic Quality (VPQ) as VPSNet defines it.

For each window length ``L`` (in annotated frames), windows slide by one frame
through each video; the segments that carry the same id across a window form one
tube, and panopticapi's matching rules are applied to the tubes exactly as if the
window's id maps had been concatenated along the width into one image: a
prediction matches a non-crowd ground-truth tube of its category when their IoU
exceeds 0.5, where the union leaves out the prediction's pixels on VOID; an
unmatched prediction is a false positive unless more than half of it lies on VOID
or on crowd of its category. True positives, false positives, false negatives and
the IoU of matches are pooled per category over all windows of all videos; PQ of
a window length averages over the categories seen, and VPQ is the mean over the
window lengths.

Rather than concatenating pixels, each annotated frame is reduced once to a table
of pixel counts (ground-truth segment x predicted segment, VOID included, see
:func:`frame_stats`); a window's tube table is the sum of its frames' tables
(:func:`window_stats`), which is what the concatenation would count. A
ground-truth id must keep its category within a video; a predicted id that
changes category (a track that switched class) starts a new tube. The one
departure from panopticapi: a prediction's overlap with crowd sums over every
crowd segment of its category (panopticapi keeps only the last one listed per
image; COCO panoptic merges crowd per category, so the two agree on COCO data).

Legend: G ground-truth segments, P predicted segments, C categories,
H/W frame height/width.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from panoptic.evaluation.pq import (
    ImagePQ,
    PQAccumulator,
    false_positive_is_ignored,
    match_segments,
)

VOID_ID = 0
PAIR_SHIFT = 24  # panoptic ids are below 256^3 = 2^24
_CATEGORY_BITS = 20  # category ids are below 2^20


@dataclass(frozen=True)
class FrameStats:
    """Pixel counts of one annotated frame (or one window of frames).

    Attributes:
        gt_ids: (G,) int64 ground-truth segment ids, ascending, VOID excluded.
        gt_categories: (G,) int64 category ids of the ground-truth segments.
        gt_crowd: (G,) bool, crowd ground-truth segments.
        pred_ids: (P,) int64 predicted segment ids, ascending, VOID excluded.
        pred_categories: (P,) int64 category ids of the predicted segments.
        counts: (G + 1, P + 1) int64 pixel counts; row 0 is ground-truth VOID,
            column 0 is predicted VOID.
    """

    gt_ids: np.ndarray
    gt_categories: np.ndarray
    gt_crowd: np.ndarray
    pred_ids: np.ndarray
    pred_categories: np.ndarray
    counts: np.ndarray


def _segment_lookup(
    segments: Iterable[Mapping[str, Any]], ids: np.ndarray, what: str, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Category id and crowd flag of every id in ``ids`` from a segments list."""
    by_id = {int(seg["id"]): seg for seg in segments}
    categories = np.empty(len(ids), dtype=np.int64)
    crowd = np.zeros(len(ids), dtype=bool)
    for i, seg_id in enumerate(ids.tolist()):
        seg = by_id.get(seg_id)
        if seg is None:
            raise KeyError(
                f"{name}: {what} segment id {seg_id} is in the PNG but not in segments_info"
            )
        categories[i] = int(seg["category_id"])
        crowd[i] = bool(seg.get("iscrowd", 0))
    return categories, crowd


def frame_stats(
    gt_id_map: np.ndarray,
    gt_segments: Sequence[Mapping[str, Any]],
    pred_id_map: np.ndarray,
    pred_segments: Sequence[Mapping[str, Any]],
    name: str = "frame",
) -> FrameStats:
    """Reduce one annotated frame to its ground-truth x prediction pixel counts.

    Segment areas come from the maps, not from the JSON; segments listed but
    absent from a map are dropped.

    Args:
        gt_id_map: (H, W) integer ground-truth segment ids (0 = VOID).
        gt_segments: ground-truth segments (``id``, ``category_id``, ``iscrowd``).
        pred_id_map: (H, W) integer predicted segment ids (0 = VOID).
        pred_segments: predicted segments (``id``, ``category_id``).
        name: how errors name this frame (e.g. its file name).

    Returns:
        The frame's :class:`FrameStats`.

    Raises:
        ValueError: the maps differ in shape.
        KeyError: a map holds an id that its segments list lacks.
    """
    if gt_id_map.shape != pred_id_map.shape:
        raise ValueError(
            f"{name}: ground truth is {gt_id_map.shape} but prediction is {pred_id_map.shape}"
        )
    pairs = (gt_id_map.astype(np.int64) << PAIR_SHIFT) | pred_id_map.astype(np.int64)
    keys, pair_counts = np.unique(pairs.ravel(), return_counts=True)
    return frame_stats_from_pairs(keys, pair_counts, gt_segments, pred_segments, name)


def frame_stats_from_pairs(
    keys: np.ndarray,
    pair_counts: np.ndarray,
    gt_segments: Sequence[Mapping[str, Any]],
    pred_segments: Sequence[Mapping[str, Any]],
    name: str = "frame",
) -> FrameStats:
    """:func:`frame_stats` from the distinct (ground truth, prediction) id pairs.

    Args:
        keys: (K,) int64 distinct pairs ``gt_id << PAIR_SHIFT | pred_id``.
        pair_counts: (K,) pixels of each pair.
        gt_segments: ground-truth segments (``id``, ``category_id``, ``iscrowd``).
        pred_segments: predicted segments (``id``, ``category_id``).
        name: how errors name this frame.

    Returns:
        The frame's :class:`FrameStats`.
    """
    keys = keys.astype(np.int64)
    gt_of_pair = keys >> PAIR_SHIFT
    pred_of_pair = keys & ((1 << PAIR_SHIFT) - 1)
    gt_all, gt_row = np.unique(gt_of_pair, return_inverse=True)
    pred_all, pred_col = np.unique(pred_of_pair, return_inverse=True)
    # Row / column 0 is VOID whether or not VOID pixels occur.
    gt_offset = 0 if gt_all.size and gt_all[0] == VOID_ID else 1
    pred_offset = 0 if pred_all.size and pred_all[0] == VOID_ID else 1
    gt_ids = gt_all[1 - gt_offset :]
    pred_ids = pred_all[1 - pred_offset :]
    counts = np.zeros((len(gt_ids) + 1, len(pred_ids) + 1), dtype=np.int64)
    counts[gt_row + gt_offset, pred_col + pred_offset] = pair_counts
    gt_categories, gt_crowd = _segment_lookup(gt_segments, gt_ids, "ground-truth", name)
    pred_categories, _ = _segment_lookup(pred_segments, pred_ids, "predicted", name)
    return FrameStats(gt_ids, gt_categories, gt_crowd, pred_ids, pred_categories, counts)


def _merge_ids(
    id_lists: Sequence[np.ndarray], category_lists: Sequence[np.ndarray], what: str
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Union of per-frame ids, their categories, and each frame's positions in it."""
    ids = np.unique(np.concatenate(id_lists)) if id_lists else np.zeros(0, np.int64)
    categories = np.full(len(ids), -1, dtype=np.int64)
    positions = []
    for frame_ids, frame_categories in zip(id_lists, category_lists, strict=True):
        pos = np.searchsorted(ids, frame_ids)
        seen = categories[pos]
        clash = (seen >= 0) & (seen != frame_categories)
        if clash.any():
            seg_id = int(frame_ids[np.flatnonzero(clash)[0]])
            raise ValueError(f"{what} segment id {seg_id} changes category within a video")
        categories[pos] = frame_categories
        positions.append(pos)
    return ids, categories, positions


def window_stats(frames: Sequence[FrameStats]) -> FrameStats:
    """Tube pixel counts of a window: the frames' tables summed by segment id.

    Args:
        frames: the window's annotated frames, in order.

    Returns:
        One :class:`FrameStats` whose ids are the tubes of the window.

    Raises:
        ValueError: one id carries two categories within the window.
    """
    if len(frames) == 1:
        return frames[0]
    gt_ids, gt_categories, gt_pos = _merge_ids(
        [f.gt_ids for f in frames], [f.gt_categories for f in frames], "ground-truth"
    )
    # A predicted id that changes category (a track that switched class) makes a
    # new tube, as in STQ, where a predicted tube is a (class, id) pair.
    pred_keys = [(f.pred_ids << _CATEGORY_BITS) | f.pred_categories for f in frames]
    merged_keys, _, pred_pos = _merge_ids(pred_keys, pred_keys, "predicted")
    pred_ids = merged_keys >> _CATEGORY_BITS
    pred_categories = merged_keys & ((1 << _CATEGORY_BITS) - 1)
    gt_crowd = np.zeros(len(gt_ids), dtype=bool)
    counts = np.zeros((len(gt_ids) + 1, len(pred_ids) + 1), dtype=np.int64)
    for frame, rows, cols in zip(frames, gt_pos, pred_pos, strict=True):
        gt_crowd[rows] |= frame.gt_crowd
        rows1 = np.concatenate([[0], rows + 1])
        cols1 = np.concatenate([[0], cols + 1])
        counts[np.ix_(rows1, cols1)] += frame.counts
    return FrameStats(gt_ids, gt_categories, gt_crowd, pred_ids, pred_categories, counts)


def match_tubes(stats: FrameStats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """panopticapi's matches of a frame or window (:func:`panoptic.evaluation.pq.match_segments`).

    Areas are the counted pixels of the tubes (the sum over the window's frames).

    Args:
        stats: a frame's or a window's pixel-count table.

    Returns:
        Ground-truth indices (M,), predicted indices (M,) and IoUs (M,) of the matches.
    """
    counts = stats.counts
    return match_segments(
        counts[1:, 1:],
        counts[0, 1:],
        counts[1:].sum(axis=1),
        counts[:, 1:].sum(axis=0),
        stats.gt_categories,
        stats.pred_categories,
        stats.gt_crowd,
    )


def count_id_switches(frames: Sequence[FrameStats]) -> int:
    """Identity switches of one video: a ground-truth segment matched (per frame,
    :func:`match_tubes`) to another predicted (id, category) than at its last match.

    Args:
        frames: the video's annotated frames in order.

    Returns:
        The number of switches.
    """
    last_match: dict[int, tuple[int, int]] = {}
    switches = 0
    for stats in frames:
        gt_index, pred_index, _ = match_tubes(stats)
        for g, p in zip(gt_index.tolist(), pred_index.tolist(), strict=True):
            gt_id = int(stats.gt_ids[g])
            pred_id = (int(stats.pred_ids[p]), int(stats.pred_categories[p]))
            switches += int(last_match.get(gt_id, pred_id) != pred_id)
            last_match[gt_id] = pred_id
    return switches


def tube_pq(stats: FrameStats) -> ImagePQ:
    """TP / FP / FN of one frame or tube window under panopticapi's rules.

    Args:
        stats: the frame's or window's pixel-count table.

    Returns:
        Its counts, ready for :meth:`panoptic.evaluation.pq.PQAccumulator.add`.
    """
    counts = stats.counts
    gt_index, pred_index, iou = match_tubes(stats)
    gt_matched = np.zeros(len(stats.gt_ids), dtype=bool)
    gt_matched[gt_index] = True
    pred_matched = np.zeros(len(stats.pred_ids), dtype=bool)
    pred_matched[pred_index] = True
    crowd_same = stats.gt_crowd[:, None] & (
        stats.gt_categories[:, None] == stats.pred_categories[None, :]
    )  # (G, P)
    on_void_and_crowd = counts[0, 1:] + (counts[1:, 1:] * crowd_same).sum(axis=0)  # (P,)
    ignored = false_positive_is_ignored(on_void_and_crowd, counts[:, 1:].sum(axis=0))
    return ImagePQ(
        tp_categories=stats.gt_categories[gt_index],
        tp_ious=iou,
        fn_categories=stats.gt_categories[~gt_matched & ~stats.gt_crowd],
        fp_categories=stats.pred_categories[~pred_matched & ~ignored],
    )


def accumulate_video(
    frames: Sequence[FrameStats],
    window_lengths: Sequence[int],
    stats: Mapping[int, PQAccumulator],
) -> None:
    """Pool every sliding window of one video into ``stats[window length]``.

    Args:
        frames: the video's annotated frames in order.
        window_lengths: window lengths in annotated frames.
        stats: one accumulator per window length, updated in place.
    """
    for length in window_lengths:
        for start in range(len(frames) - length + 1):
            stats[length].add(tube_pq(window_stats(frames[start : start + length])))


def vpq_summary(stats: Mapping[int, PQAccumulator], frame_gap: int) -> dict[str, Any]:
    """VPQ results keyed ``k{(L - 1) * frame_gap}`` plus their ``mean``.

    Args:
        stats: one accumulator per window length ``L``.
        frame_gap: raw frames between consecutive annotated frames.

    Returns:
        ``{"k0": {"All": {pq, sq, rq, n}, "Things": ..., "Stuff": ...}, ...,
        "mean": {"All": pq, "Things": pq, "Stuff": pq}}`` with fractions; a group
        without any category seen reports zeros and ``n = 0``.
    """
    out: dict[str, Any] = {}
    empty = {"pq": 0.0, "sq": 0.0, "rq": 0.0, "n": 0}
    for length in sorted(stats):
        results = stats[length].results()
        out[f"k{(length - 1) * frame_gap}"] = {
            group: dict(results.get(group, empty)) for group in ("All", "Things", "Stuff")
        }
    keys = list(out)
    out["mean"] = {
        group: float(np.mean([out[k][group]["pq"] for k in keys])) if keys else 0.0
        for group in ("All", "Things", "Stuff")
    }
    return out
