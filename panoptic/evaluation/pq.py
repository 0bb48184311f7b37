"""Panoptic quality (PQ) with exactly panopticapi's rules, in linear time.

The core works on one image at a time: a ground-truth id map with its segment
list and a predicted id map with its segment list. It counts the pixels of
every (ground-truth segment, predicted segment) pair and then applies the
rules of ``panopticapi.evaluation.pq_compute_single_core``:

- the ground-truth area comes from the JSON segment list (not recounted), the
  predicted area from the predicted map;
- a pair matches when both segments have the same category, the ground truth
  is not crowd and ``IoU = I / (A_pred + A_gt - I - |pred on GT VOID|)`` is
  strictly above 0.5; every such pair counts as a true positive;
- an unmatched non-crowd ground truth is a false negative;
- an unmatched prediction is a false positive unless more than half of it lies
  on VOID plus the crowd region of its own category (the crowd region is the
  last crowd segment of that category in the ground-truth list);
- PQ, SQ and RQ are averaged without weights over the categories with
  ``TP + FP + FN > 0``, for All, Things and Stuff.

Pixel counting never sorts pixels: the two maps are cut into runs of constant
(ground truth, prediction) id pairs, only the run heads are looked up among
the listed segment ids and the run lengths are added per pair
(:mod:`panoptic.evaluation.pair_counts`, compiled with numba when installed,
else in numpy). Id maps of any shape work (a video clip stacked as
(T, H, W) counts as one image), so video metrics reuse the same functions.

Float sums follow panopticapi's order (matches in increasing (gt id, pred id)
order, images in order, accumulators merged in order), so a run over the same
image chunks gives bit-identical numbers.

Shapes: G listed ground-truth segments, P listed predicted segments, R runs,
M matches, C categories.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from panoptic.evaluation.pair_counts import VOID_ID, pair_counts

SPLITS = (("All", None), ("Things", True), ("Stuff", False))


@dataclass(frozen=True)
class SegmentOverlaps:
    """Pixel counts of every (ground-truth, predicted) segment pair of one image.

    Attributes:
        counts: (G + 2, P + 1) int64. Rows: 0 = ground-truth VOID, 1..G = the
            listed ground-truth segments in increasing id order, G + 1 = pixels
            whose ground-truth id is not listed. Columns: 0 = predicted VOID,
            1..P = the listed predicted segments in increasing id order.
        gt_ids: (G,) listed ground-truth ids, increasing.
        pred_ids: (P,) listed predicted ids, increasing.
        unlisted_pred_ids: (U,) predicted ids present in the map but not listed.
    """

    counts: np.ndarray
    gt_ids: np.ndarray
    pred_ids: np.ndarray
    unlisted_pred_ids: np.ndarray

    @property
    def pred_areas(self) -> np.ndarray:
        """(P,) int64 pixel count of each listed prediction in the map."""
        return self.counts[:, 1:].sum(axis=0)

    @property
    def pred_on_void(self) -> np.ndarray:
        """(P,) int64 pixels of each listed prediction on ground-truth VOID."""
        return self.counts[0, 1:]

    @property
    def intersections(self) -> np.ndarray:
        """(G, P) int64 pixels shared by listed ground-truth and predicted segments."""
        return self.counts[1:-1, 1:]


def _check_ids(ids: Sequence[int] | np.ndarray, what: str, image_id: Any) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if (ids == VOID_ID).any():
        raise ValueError(
            f"In the image with ID {image_id} the {what} segment list uses the id 0, "
            "which is reserved for VOID."
        )
    unique = np.sort(ids)
    if (unique[1:] == unique[:-1]).any():
        values, counts = np.unique(ids, return_counts=True)
        raise ValueError(
            f"In the image with ID {image_id} the {what} segment list repeats the ids "
            f"{values[counts > 1].tolist()}."
        )
    return unique


def segment_overlaps(
    gt_map: np.ndarray,
    gt_ids: Sequence[int] | np.ndarray,
    pred_map: np.ndarray,
    pred_ids: Sequence[int] | np.ndarray,
    image_id: Any = None,
) -> SegmentOverlaps:
    """Count the pixels of every (ground-truth, predicted) segment pair.

    Args:
        gt_map: ground-truth id map of any shape (0 = VOID), integer dtype.
        gt_ids: the ids listed in the ground-truth segment list.
        pred_map: predicted id map of the same shape.
        pred_ids: the ids listed in the predicted segment list.
        image_id: named in error messages.

    Returns:
        The pair histogram; see :class:`SegmentOverlaps`.

    Raises:
        ValueError: the maps differ in shape, or a list repeats an id or uses 0.
    """
    if gt_map.shape != pred_map.shape:
        raise ValueError(
            f"In the image with ID {image_id} the ground-truth map has shape "
            f"{tuple(gt_map.shape)} but the prediction has shape {tuple(pred_map.shape)}."
        )
    gt_sorted = _check_ids(gt_ids, "ground-truth", image_id)
    pred_sorted = _check_ids(pred_ids, "predicted", image_id)
    counts, unlisted_pred_ids = pair_counts(
        np.ravel(gt_map), np.ravel(pred_map), gt_sorted, pred_sorted
    )
    return SegmentOverlaps(
        counts=counts,
        gt_ids=gt_sorted,
        pred_ids=pred_sorted,
        unlisted_pred_ids=unlisted_pred_ids,
    )


def match_segments(
    intersections: np.ndarray,
    pred_on_void: np.ndarray,
    gt_areas: np.ndarray,
    pred_areas: np.ndarray,
    gt_categories: np.ndarray,
    pred_categories: np.ndarray,
    gt_iscrowd: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs that match under panopticapi's rule, in increasing (gt, pred) order.

    A pair matches when it overlaps, both segments share a category, the
    ground truth is not crowd and ``I / (A_pred + A_gt - I - V_pred) > 0.5``
    with ``V_pred`` the prediction's pixels on ground-truth VOID.

    Args:
        intersections: (G, P) pixel counts.
        pred_on_void: (P,) pixels of each prediction on ground-truth VOID.
        gt_areas: (G,) ground-truth areas (from the JSON list).
        pred_areas: (P,) predicted areas (counted in the map).
        gt_categories: (G,) category ids; pred_categories: (P,).
        gt_iscrowd: (G,) bool.

    Returns:
        gt indices (M,), pred indices (M,) and IoUs (M,) float64.
    """
    gt_index, pred_index = np.nonzero(intersections)
    inter = intersections[gt_index, pred_index]
    keep = (gt_categories[gt_index] == pred_categories[pred_index]) & ~gt_iscrowd[gt_index]
    gt_index, pred_index, inter = gt_index[keep], pred_index[keep], inter[keep]
    union = (
        pred_areas[pred_index].astype(np.float64)
        + np.asarray(gt_areas, dtype=np.float64)[gt_index]
        - inter
        - pred_on_void[pred_index]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    matched = iou > 0.5
    return gt_index[matched], pred_index[matched], iou[matched]


def crowd_rows(
    gt_categories: Sequence[int] | np.ndarray, gt_iscrowd: Sequence[bool] | np.ndarray
) -> dict[int, int]:
    """The crowd region of each category: the last crowd segment listed for it.

    Args:
        gt_categories: category id of each ground-truth segment, in list order.
        gt_iscrowd: crowd flag of each, in list order.

    Returns:
        ``{category id: position in the list}``.
    """
    rows: dict[int, int] = {}
    categories, crowds = np.asarray(gt_categories).tolist(), np.asarray(gt_iscrowd).tolist()
    for position, (category, crowd) in enumerate(zip(categories, crowds)):
        if crowd:
            rows[int(category)] = position
    return rows


def false_positive_is_ignored(on_void_and_crowd: np.ndarray, pred_areas: np.ndarray) -> np.ndarray:
    """Whether unmatched predictions are ignored: more than half on VOID + own crowd.

    Args:
        on_void_and_crowd: (P,) pixels on VOID plus the crowd region of the
            prediction's category.
        pred_areas: (P,) predicted areas, all positive.

    Returns:
        (P,) bool.
    """
    return on_void_and_crowd / pred_areas > 0.5


@dataclass(frozen=True)
class ImagePQ:
    """What one image adds to the per-category sums (category ids, not indices).

    Attributes:
        tp_categories: (M,) category id of each match, in panopticapi's order.
        tp_ious: (M,) IoU of each match.
        fn_categories: category ids of the false negatives.
        fp_categories: category ids of the false positives.
    """

    tp_categories: np.ndarray
    tp_ious: np.ndarray
    fn_categories: np.ndarray
    fp_categories: np.ndarray


def concat_images(images: Sequence[ImagePQ]) -> tuple[ImagePQ, np.ndarray]:
    """Join images' counts in order, so that one ``PQAccumulator.add`` adds them all.

    ``np.add.at`` adds in index order, so adding the join gives the same floats
    as adding the images one by one.

    Returns:
        The joined counts and the (num_images, 3) number of entries each image
        put in ``tp_categories``, ``fn_categories`` and
        ``fp_categories`` (``tp_ious`` follows ``tp_categories``), for
        :func:`slice_images`.
    """
    fields = ("tp_categories", "tp_ious", "fn_categories", "fp_categories")
    joined = {
        name: np.concatenate([getattr(im, name) for im in images])
        if images
        else np.zeros(0, np.float64 if name == "tp_ious" else np.int64)
        for name in fields
    }
    sizes = np.array(
        [[im.tp_categories.size, im.fn_categories.size, im.fp_categories.size] for im in images],
        dtype=np.int64,
    ).reshape(-1, 3)
    return ImagePQ(**joined), sizes


def slice_images(joined: ImagePQ, sizes: np.ndarray, start: int, stop: int) -> ImagePQ:
    """The joined counts of images ``start..stop-1`` of a :func:`concat_images` result."""
    offsets = np.concatenate((np.zeros((1, 3), np.int64), np.cumsum(sizes, axis=0)))
    (tp0, fn0, fp0), (tp1, fn1, fp1) = offsets[start], offsets[stop]
    return ImagePQ(
        tp_categories=joined.tp_categories[tp0:tp1],
        tp_ious=joined.tp_ious[tp0:tp1],
        fn_categories=joined.fn_categories[fn0:fn1],
        fp_categories=joined.fp_categories[fp0:fp1],
    )


def _segment_table(
    segments: Sequence[Mapping[str, Any]], keys: Sequence[str], what: str, image_id: Any
) -> dict[str, np.ndarray]:
    table = {}
    for key in keys:
        try:
            if key == "iscrowd":
                values = [segment.get(key, 0) for segment in segments]
            else:
                values = [segment[key] for segment in segments]
        except KeyError:
            bad = next(segment for segment in segments if key not in segment)
            raise KeyError(
                f"In the image with ID {image_id} a {what} segment lacks '{key}': {bad}"
            ) from None
        table[key] = np.array(values, dtype=np.float64 if key == "area" else np.int64)
    return table


def pq_image(
    gt_map: np.ndarray,
    gt_segments: Sequence[Mapping[str, Any]],
    pred_map: np.ndarray,
    pred_segments: Sequence[Mapping[str, Any]],
    category_ids: Iterable[int],
    image_id: Any = None,
) -> ImagePQ:
    """Match one image's prediction against its ground truth (panopticapi's rules).

    Args:
        gt_map: ground-truth id map of any shape (0 = VOID).
        gt_segments: ground-truth segment dicts with ``id``, ``category_id``,
            ``area`` (used as is) and ``iscrowd`` (0 when missing).
        pred_map: predicted id map, same shape.
        pred_segments: predicted segment dicts with ``id`` and ``category_id``;
            their areas are counted in ``pred_map``.
        category_ids: the known category ids.
        image_id: named in error messages.

    Returns:
        The image's true positives, false negatives and false positives.

    Raises:
        KeyError: a predicted id is in the map but not in the list or the
            reverse, or a prediction has an unknown category (as panopticapi).
        ValueError: the maps differ in shape, or a list repeats an id or uses 0.
    """
    gt = _segment_table(
        gt_segments, ("id", "category_id", "area", "iscrowd"), "ground-truth", image_id
    )
    pred = _segment_table(pred_segments, ("id", "category_id"), "predicted", image_id)
    overlaps = segment_overlaps(gt_map, gt["id"], pred_map, pred["id"], image_id)
    if overlaps.unlisted_pred_ids.size:
        raise KeyError(
            f"In the image with ID {image_id} segment with ID "
            f"{int(overlaps.unlisted_pred_ids[0])} is presented in PNG and not presented in JSON."
        )
    # Reorder both lists to increasing id (the rows and columns of the histogram).
    gt_order = np.argsort(gt["id"], kind="stable")
    pred_order = np.argsort(pred["id"], kind="stable")
    pred_categories = pred["category_id"][pred_order]
    known_ids = category_ids if isinstance(category_ids, set | frozenset) else set(category_ids)
    for what, table in (("ground-truth", gt), ("predicted", pred)):
        for segment_id, category in zip(table["id"].tolist(), table["category_id"].tolist()):
            if category not in known_ids:
                raise KeyError(
                    f"In the image with ID {image_id} {what} segment with ID {segment_id} "
                    f"has unknown category_id {category}."
                )
    pred_areas = overlaps.pred_areas
    if (pred_areas == 0).any():
        raise KeyError(
            f"In the image with ID {image_id} the following segment IDs "
            f"{overlaps.pred_ids[pred_areas == 0].tolist()} are presented in JSON and not "
            "presented in PNG."
        )
    gt_categories = gt["category_id"][gt_order]
    gt_iscrowd = gt["iscrowd"][gt_order] == 1
    gt_index, pred_index, ious = match_segments(
        overlaps.intersections,
        overlaps.pred_on_void,
        gt["area"][gt_order],
        pred_areas,
        gt_categories,
        pred_categories,
        gt_iscrowd,
    )
    gt_matched = np.zeros(gt_categories.size, dtype=bool)
    gt_matched[gt_index] = True
    pred_matched = np.zeros(pred_categories.size, dtype=bool)
    pred_matched[pred_index] = True

    on_void_and_crowd = overlaps.pred_on_void.copy()
    crowd = crowd_rows(gt["category_id"], gt["iscrowd"] == 1)
    if crowd:
        row_of_list_position = np.empty(gt_order.size, dtype=np.int64)
        row_of_list_position[gt_order] = np.arange(gt_order.size)
        for category, position in crowd.items():
            same = pred_categories == category
            row = row_of_list_position[position]
            on_void_and_crowd[same] += overlaps.intersections[row, same]
    ignored = false_positive_is_ignored(on_void_and_crowd, pred_areas)
    return ImagePQ(
        tp_categories=gt_categories[gt_index],
        tp_ious=ious,
        fn_categories=gt_categories[~gt_matched & ~gt_iscrowd],
        fp_categories=pred_categories[~pred_matched & ~ignored],
    )


@dataclass
class PQAccumulator:
    """Per-category TP / FP / FN / summed IoU over many images.

    Attributes:
        categories: COCO panoptic category dicts (``id``, ``isthing``, ...), in
            the order that averages and tables follow.
        tp, fp, fn: (C,) int64 counts. iou: (C,) float64 summed IoU of matches.
    """

    categories: list[dict[str, Any]]
    tp: np.ndarray = field(init=False)
    fp: np.ndarray = field(init=False)
    fn: np.ndarray = field(init=False)
    iou: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.categories = [dict(c) for c in self.categories]
        num = len(self.categories)
        self.category_ids = np.array([int(c["id"]) for c in self.categories], dtype=np.int64)
        if np.unique(self.category_ids).size != num:
            raise ValueError("category ids repeat in the category list")
        self._sorter = np.argsort(self.category_ids)
        self.category_set = frozenset(self.category_ids.tolist())
        self.tp = np.zeros(num, dtype=np.int64)
        self.fp = np.zeros(num, dtype=np.int64)
        self.fn = np.zeros(num, dtype=np.int64)
        self.iou = np.zeros(num, dtype=np.float64)

    def index_of(self, category_ids: np.ndarray) -> np.ndarray:
        """Positions of category ids in :attr:`categories`; KeyError when unknown."""
        category_ids = np.asarray(category_ids, dtype=np.int64)
        pos = np.searchsorted(self.category_ids, category_ids, sorter=self._sorter)
        pos = np.minimum(pos, len(self.categories) - 1)
        index = self._sorter[pos] if len(self.categories) else pos
        if category_ids.size and not (self.category_ids[index] == category_ids).all():
            bad = category_ids[self.category_ids[index] != category_ids]
            raise KeyError(f"unknown category ids {sorted(set(bad.tolist()))}")
        return index

    def add(self, image: ImagePQ) -> None:
        """Add one image's counts (IoUs in order, as panopticapi adds them)."""
        np.add.at(self.tp, self.index_of(image.tp_categories), 1)
        np.add.at(self.iou, self.index_of(image.tp_categories), image.tp_ious)
        np.add.at(self.fn, self.index_of(image.fn_categories), 1)
        np.add.at(self.fp, self.index_of(image.fp_categories), 1)

    def add_image(
        self,
        gt_map: np.ndarray,
        gt_segments: Sequence[Mapping[str, Any]],
        pred_map: np.ndarray,
        pred_segments: Sequence[Mapping[str, Any]],
        image_id: Any = None,
    ) -> ImagePQ:
        """Evaluate one image with :func:`pq_image` and add it; returns its counts."""
        image = pq_image(gt_map, gt_segments, pred_map, pred_segments, self.category_set, image_id)
        self.add(image)
        return image

    def merge(self, other: PQAccumulator) -> PQAccumulator:
        """Add another accumulator over the same categories into this one."""
        if not np.array_equal(self.category_ids, other.category_ids):
            raise ValueError("cannot merge PQ accumulators over different categories")
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou += other.iou
        return self

    def results(self) -> dict[str, Any]:
        """PQ / SQ / RQ in panopticapi's shape (fractions), plus per-class counts.

        Returns:
            ``{"All": {"pq", "sq", "rq", "n"}, "Things": ..., "Stuff": ...,
            "per_class": {category id: {"pq", "sq", "rq", "tp", "fp", "fn", "iou"}}}``.
            A split without any counted category (where panopticapi divides by
            zero) is left out.
        """
        results: dict[str, Any] = {}
        per_class: dict[int, dict[str, float | int]] = {}
        for name, isthing in SPLITS:
            pq_sum, sq_sum, rq_sum, n = 0.0, 0.0, 0.0, 0
            for k, category in enumerate(self.categories):
                if isthing is not None and (category["isthing"] == 1) != isthing:
                    continue
                tp, fp, fn, iou = self.tp[k], self.fp[k], self.fn[k], self.iou[k]
                pq_class, sq_class, rq_class = 0.0, 0.0, 0.0
                if tp + fp + fn > 0:
                    n += 1
                    pq_class = float(iou / (tp + 0.5 * fp + 0.5 * fn))
                    sq_class = float(iou / tp) if tp != 0 else 0.0
                    rq_class = float(tp / (tp + 0.5 * fp + 0.5 * fn))
                    pq_sum += pq_class
                    sq_sum += sq_class
                    rq_sum += rq_class
                if isthing is None:
                    per_class[int(category["id"])] = {
                        "pq": pq_class,
                        "sq": sq_class,
                        "rq": rq_class,
                        "tp": int(tp),
                        "fp": int(fp),
                        "fn": int(fn),
                        "iou": float(iou),
                    }
            if n > 0:
                results[name] = {"pq": pq_sum / n, "sq": sq_sum / n, "rq": rq_sum / n, "n": n}
        results["per_class"] = per_class
        return results


def results_to_json(results: Mapping[str, Any]) -> dict[str, Any]:
    """Results in panopticapi's shape with string category keys, ready for ``json.dump``."""
    out = {k: dict(v) for k, v in results.items() if k != "per_class"}
    out["per_class"] = {str(k): dict(v) for k, v in results.get("per_class", {}).items()}
    return out


def format_pq_table(
    results: Mapping[str, Any], categories: Sequence[Mapping[str, Any]] = ()
) -> str:
    """A text table of PQ / SQ / RQ in percent: per category (when given), then the splits.

    Args:
        results: the output of :meth:`PQAccumulator.results`.
        categories: category dicts (``id``, ``name``) for the per-class rows.

    Returns:
        The table, one row per line.
    """
    lines = []
    header = f"{'':24s}| {'PQ':>6s} {'SQ':>6s} {'RQ':>6s} {'N / TP':>7s} {'FP':>6s} {'FN':>6s}"
    lines += [header, "-" * len(header)]
    per_class = results.get("per_class", {})
    for category in categories:
        row = per_class.get(int(category["id"])) or per_class.get(str(category["id"]))
        if row is None or row["tp"] + row["fp"] + row["fn"] == 0:
            continue
        name = str(category.get("name", category["id"]))[:24]
        lines.append(
            f"{name:24s}| {100 * row['pq']:6.2f} {100 * row['sq']:6.2f} {100 * row['rq']:6.2f} "
            f"{row['tp']:7d} {row['fp']:6d} {row['fn']:6d}"
        )
    if categories:
        lines.append("-" * len(header))
    for name, _ in SPLITS:
        split = results.get(name)
        if split is None:
            lines.append(f"{name:24s}| {'absent: no category counted':>27s}")
            continue
        lines.append(
            f"{name:24s}| {100 * split['pq']:6.2f} {100 * split['sq']:6.2f} "
            f"{100 * split['rq']:6.2f} {split['n']:7d}"
        )
    return "\n".join(lines)
