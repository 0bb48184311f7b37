"""Parity of the PQ core with panopticapi on real COCO panoptic data and edge cases."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import multiprocessing
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from panopticapi import evaluation as panopticapi_eval

from panoptic.evaluation.coco_writers import CocoPanopticWriter
from panoptic.evaluation.pq import (
    ImagePQ,
    PQAccumulator,
    crowd_rows,
    pq_image,
    results_to_json,
    segment_overlaps,
)
from panoptic.evaluation.pq_files import evaluate_panoptic_files, read_panoptic_ids


def load_sample(sample_dir: Path) -> tuple[dict[str, Any], list[np.ndarray]]:
    gt_json = json.loads((sample_dir / "panoptic_examples.json").read_text())
    maps = [
        read_panoptic_ids(sample_dir / "panoptic_examples" / a["file_name"]).astype(np.int32)
        for a in gt_json["annotations"]
    ]
    return gt_json, maps


def perturb(
    gt_map: np.ndarray,
    gt_segments: list[dict[str, Any]],
    categories: list[dict[str, Any]],
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A random prediction: kept, dropped, relabelled, shifted, cut, grown, split and
    merged segments, blobs on VOID and crowd, false-positive blobs; random large ids."""
    H, W = gt_map.shape
    pred = np.zeros((H, W), dtype=np.int32)
    pool = rng.choice(np.arange(1, 256**3), size=400, replace=False)
    segments: list[dict[str, Any]] = []
    merged_ids: dict[int, int] = {}

    def paint(mask: np.ndarray, category_id: int, segment_id: int | None = None) -> None:
        if segment_id is None:
            segment_id = int(pool[len(segments)])
            segments.append({"id": segment_id, "category_id": int(category_id)})
        pred[mask] = segment_id

    category_ids = [c["id"] for c in categories]
    for segment in gt_segments:
        mask = gt_map == segment["id"]
        category = segment["category_id"]
        action = rng.integers(9)
        if action == 1:
            continue
        if action == 2:
            category = int(rng.choice(category_ids))
        elif action == 3:
            mask = np.roll(mask, tuple(rng.integers(-20, 21, size=2)), axis=(0, 1))
        elif action == 4:
            flat = np.flatnonzero(mask)
            keep = flat[: round(rng.uniform(0.4, 0.62) * flat.size)]
            mask = np.zeros_like(mask)
            mask.flat[keep] = True
        elif action == 5:
            mask = mask | np.roll(mask, int(rng.integers(1, 12)), axis=1)
        elif action == 6:
            cols = np.nonzero(mask)[1]
            if cols.size:
                cut = int(np.median(cols))
                left = mask.copy()
                left[:, cut:] = False
                paint(left, category)
                mask = mask & ~left
        elif action == 7:
            if category in merged_ids:
                paint(mask, category, merged_ids[category])
                continue
            paint(mask, category)
            merged_ids[category] = segments[-1]["id"]
            continue
        paint(mask, category)
    for _ in range(int(rng.integers(0, 4))):
        y, x = rng.integers(0, H - 10), rng.integers(0, W - 10)
        h, w = rng.integers(5, 80, size=2)
        box = np.zeros((H, W), dtype=bool)
        box[y : y + h, x : x + w] = True
        paint(box, int(rng.choice(category_ids)))
    crowds = [s for s in gt_segments if s["iscrowd"]]
    if crowds and rng.random() < 0.7:
        crowd = crowds[int(rng.integers(len(crowds)))]
        x, y, w, h = crowd["bbox"]
        box = np.zeros((H, W), dtype=bool)
        box[y : y + max(h // 2, 1), x : x + max(w // 2, 1)] = True
        paint(box, crowd["category_id"])
    if rng.random() < 0.7:
        void = np.flatnonzero(gt_map == 0)
        if void.size:
            y, x = np.unravel_index(void[int(rng.integers(void.size))], (H, W))
            box = np.zeros((H, W), dtype=bool)
            box[max(y - 15, 0) : y + 15, max(x - 15, 0) : x + 15] = True
            paint(box, int(rng.choice(category_ids)))
    present = set(np.unique(pred).tolist())
    return pred, [s for s in segments if s["id"] in present]


def as_counts(image: ImagePQ) -> dict[int, tuple[int, int, int, float]]:
    counts: dict[int, list[Any]] = {}
    for name, cats in (("tp", image.tp_categories), ("fn", image.fn_categories)):
        for cat in cats.tolist():
            counts.setdefault(cat, [0, 0, 0, 0.0])[0 if name == "tp" else 2] += 1
    for cat in image.fp_categories.tolist():
        counts.setdefault(cat, [0, 0, 0, 0.0])[1] += 1
    for cat, iou in zip(image.tp_categories.tolist(), image.tp_ious.tolist()):
        counts[cat][3] += iou
    return {k: tuple(v) for k, v in counts.items()}


def panopticapi_image(
    gt_ann: dict, pred_ann: dict, gt_dir: Path, pred_dir: Path, categories: list[dict]
) -> dict[int, tuple[int, int, int, float]]:
    """panopticapi's own per-image counts (its single-core worker on one image)."""
    with contextlib.redirect_stdout(io.StringIO()):
        stat = panopticapi_eval.pq_compute_single_core(
            0,
            [(copy.deepcopy(gt_ann), copy.deepcopy(pred_ann))],
            str(gt_dir),
            str(pred_dir),
            {c["id"]: c for c in categories},
        )
    return {
        cat: (s.tp, s.fp, s.fn, s.iou) for cat, s in stat.pq_per_cat.items() if s.tp or s.fp or s.fn
    }


def panopticapi_pq(gt_json: Path, pred_json: Path, gt_dir: Path, pred_dir: Path) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):
        return panopticapi_eval.pq_compute(str(gt_json), str(pred_json), str(gt_dir), str(pred_dir))


def assert_same_results(ours: dict, ref: dict, categories: list[dict]) -> None:
    for split in ("All", "Things", "Stuff"):
        assert ours[split]["n"] == ref[split]["n"]
        for key in ("pq", "sq", "rq"):
            assert abs(ours[split][key] - ref[split][key]) <= 1e-12, (split, key)
    for cat in categories:
        for key in ("pq", "sq", "rq"):
            assert (
                abs(ours["per_class"][cat["id"]][key] - ref["per_class"][cat["id"]][key]) <= 1e-12
            )


def write_gt(
    tmp: Path,
    images: list[tuple[int, np.ndarray, list[dict]]],
    categories: list[dict],
    name: str = "gt",
) -> tuple[Path, Path]:
    """Maps written with their ids as given: PNGs in ``tmp/name`` + ``tmp/name.json``."""
    gt_dir = tmp / name
    gt_dir.mkdir()
    annotations = []
    for image_id, id_map, segments in images:
        rgb = id_map.astype("<u4")[..., None].view(np.uint8)[..., :3]
        cv2.imwrite(str(gt_dir / f"{image_id}.png"), np.ascontiguousarray(rgb[..., ::-1]))
        annotations.append(
            {"image_id": image_id, "file_name": f"{image_id}.png", "segments_info": segments}
        )
    path = tmp / f"{name}.json"
    path.write_text(json.dumps({"annotations": annotations, "categories": categories}))
    return path, gt_dir


def test_random_predictions_match_panopticapi_per_image(coco_sample_dir: Path, tmp_path: Path):
    gt_json, maps = load_sample(coco_sample_dir)
    categories = gt_json["categories"]
    category_ids = frozenset(c["id"] for c in categories)
    rng = np.random.default_rng(0)
    writer = CocoPanopticWriter(tmp_path, categories, "pred")
    num_checked, num_tp, num_fp = 0, 0, 0
    for seed in range(24):
        for gt_ann, gt_map in zip(gt_json["annotations"], maps):
            pred_map, pred_segments = perturb(gt_map, gt_ann["segments_info"], categories, rng)
            image_id = gt_ann["image_id"]
            in_memory = pq_image(
                gt_map, gt_ann["segments_info"], pred_map, pred_segments, category_ids, image_id
            )
            pred_ann = writer.add(image_id, pred_map, pred_segments, f"{seed}_{image_id}.png")
            from_files = pq_image(
                read_panoptic_ids(coco_sample_dir / "panoptic_examples" / gt_ann["file_name"]),
                gt_ann["segments_info"],
                read_panoptic_ids(writer.png_dir / pred_ann["file_name"]),
                pred_ann["segments_info"],
                category_ids,
                image_id,
            )
            ref = panopticapi_image(
                gt_ann, pred_ann, coco_sample_dir / "panoptic_examples", writer.png_dir, categories
            )
            assert as_counts(in_memory) == ref
            assert as_counts(from_files) == ref
            num_checked += 1
            num_tp += in_memory.tp_categories.size
            num_fp += in_memory.fp_categories.size
    assert num_checked == 48 and num_tp > 200 and num_fp > 50


@pytest.mark.slow
def test_file_evaluator_matches_pq_compute(coco_sample_dir: Path, tmp_path: Path):
    """Many perturbed copies of the sample: every count and PQ equal to panopticapi's."""
    gt_json, maps = load_sample(coco_sample_dir)
    categories = gt_json["categories"]
    rng = np.random.default_rng(1)
    writer = CocoPanopticWriter(tmp_path, categories, "pred")
    annotations = []
    for copy_index in range(20):
        for gt_ann, gt_map in zip(gt_json["annotations"], maps):
            image_id = copy_index * 10**6 + gt_ann["image_id"]
            annotations.append({**gt_ann, "image_id": image_id})
            pred_map, pred_segments = perturb(gt_map, gt_ann["segments_info"], categories, rng)
            writer.add(image_id, pred_map, pred_segments, f"{image_id}.png")
    pred_json = writer.write_json()
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps({**gt_json, "annotations": annotations}))
    gt_dir = coco_sample_dir / "panoptic_examples"

    ref = panopticapi_pq(gt_path, pred_json, gt_dir, writer.png_dir)
    processes = multiprocessing.cpu_count()
    ours, accumulator = evaluate_panoptic_files(
        gt_path, gt_dir, pred_json, writer.png_dir, workers=processes, progress=False
    )
    assert_same_results(ours, ref, categories)
    # Same chunking as panopticapi: the float sums are bit-identical.
    for split in ("All", "Things", "Stuff"):
        assert ours[split]["pq"] == ref[split]["pq"]
    assert accumulator.tp.sum() > 300 and accumulator.fp.sum() > 100
    single, _ = evaluate_panoptic_files(gt_path, gt_dir, pred_json, writer.png_dir, progress=False)
    assert_same_results(single, ref, categories)
    assert json.loads(json.dumps(results_to_json(ours)))["All"]["n"] == ref["All"]["n"]


CATS = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142]},
    {"id": 10, "name": "sky", "isthing": 0, "color": [70, 130, 180]},
    {"id": 11, "name": "road", "isthing": 0, "color": [128, 64, 128]},
]


def edge_cases() -> list[tuple[int, np.ndarray, list[dict], np.ndarray, list[dict]]]:
    """(image id, gt map, gt segments, pred map, pred segments) of hand-built cases."""
    cases = []
    # IoU exactly 0.5 (no match) beside IoU just above 0.5 (match).
    gt = np.zeros((8, 10), np.int32)
    gt[:, :4] = 5
    gt[:, 5:9] = 7
    pred = np.zeros_like(gt)
    pred[:4, :4] = 3  # I = 16, U = 32: IoU = 0.5 exactly
    pred[:5, 5:9] = 4  # I = 20, U = 32: IoU = 0.625
    gt_segs = [
        {"id": 5, "category_id": 1, "iscrowd": 0, "area": 32},
        {"id": 7, "category_id": 1, "iscrowd": 0, "area": 32},
    ]
    pred_segs = [{"id": 3, "category_id": 1}, {"id": 4, "category_id": 1}]
    cases.append((1, gt, gt_segs, pred, pred_segs))
    # Two crowd regions of one category: only the last listed one excuses predictions.
    gt = np.zeros((6, 12), np.int32)
    gt[:, :4] = 21
    gt[:, 4:8] = 22
    gt[:, 8:] = 23
    pred = np.zeros_like(gt)
    pred[:, :4] = 1  # on the first crowd region: a false positive
    pred[:, 4:8] = 2  # on the last crowd region: ignored
    pred[:, 8:] = 9  # on the stuff segment
    gt_segs = [
        {"id": 21, "category_id": 2, "iscrowd": 1, "area": 24},
        {"id": 22, "category_id": 2, "iscrowd": 1, "area": 24},
        {"id": 23, "category_id": 10, "iscrowd": 0, "area": 24},
    ]
    pred_segs = [
        {"id": 1, "category_id": 2},
        {"id": 2, "category_id": 2},
        {"id": 9, "category_id": 10},
    ]
    cases.append((2, gt, gt_segs, pred, pred_segs))
    # JSON areas that disagree with the PNG (smaller and larger than counted).
    gt = np.zeros((10, 10), np.int32)
    gt[:5] = 31
    gt[5:] = 32
    pred = np.zeros_like(gt)
    pred[:3] = 1  # I = 30; with the PNG area 50, IoU = 0.6; with JSON area 70, IoU = 30/70
    pred[5:8] = 2  # I = 30; with the PNG area 50, IoU = 0.6 -> JSON area 35 gives 30/35
    gt_segs = [
        {"id": 31, "category_id": 11, "iscrowd": 0, "area": 70},
        {"id": 32, "category_id": 1, "iscrowd": 0, "area": 35},
    ]
    pred_segs = [{"id": 1, "category_id": 11}, {"id": 2, "category_id": 1}]
    cases.append((3, gt, gt_segs, pred, pred_segs))
    # A ground-truth id in the PNG but missing from the JSON (not VOID, not a segment).
    gt = np.zeros((6, 6), np.int32)
    gt[:, :3] = 41
    gt[:, 3:] = 99  # unlisted
    pred = np.zeros_like(gt)
    pred[:, :4] = 1  # over 41 and 6 pixels of the unlisted id
    pred[:, 5:] = 2  # wholly on the unlisted id: a false positive, not VOID
    gt_segs = [{"id": 41, "category_id": 2, "iscrowd": 0, "area": 18}]
    pred_segs = [{"id": 1, "category_id": 2}, {"id": 2, "category_id": 1}]
    cases.append((4, gt, gt_segs, pred, pred_segs))
    # An empty image: nothing in the ground truth, a prediction on VOID (ignored).
    gt = np.zeros((5, 7), np.int32)
    pred = np.zeros_like(gt)
    pred[1:3, 1:3] = 8
    cases.append((5, gt, [], pred, [{"id": 8, "category_id": 1}]))
    # Empty on both sides.
    cases.append((6, np.zeros((4, 4), np.int32), [], np.zeros((4, 4), np.int32), []))
    return cases


def test_edge_cases_match_panopticapi(tmp_path: Path):
    cases = edge_cases()
    gt_path, gt_dir = write_gt(tmp_path, [(i, g, s) for i, g, s, _, _ in cases], CATS)
    pred_path, pred_dir = write_gt(tmp_path, [(i, p, s) for i, _, _, p, s in cases], CATS, "pred")
    for image_id, gt_map, gt_segs, pred_map, pred_segs in cases:
        ours = pq_image(gt_map, gt_segs, pred_map, pred_segs, {1, 2, 10, 11}, image_id)
        ref = panopticapi_image(
            {"image_id": image_id, "file_name": f"{image_id}.png", "segments_info": gt_segs},
            {"image_id": image_id, "file_name": f"{image_id}.png", "segments_info": pred_segs},
            gt_dir,
            pred_dir,
            CATS,
        )
        assert as_counts(ours) == ref, image_id
    by_id = {i: pq_image(g, gs, p, ps, {1, 2, 10, 11}, i) for i, g, gs, p, ps in cases}
    assert by_id[1].tp_ious.tolist() == [0.625]  # 0.5 exactly is not a match
    assert sorted(by_id[1].fn_categories.tolist()) == [1] and by_id[1].fp_categories.tolist() == [1]
    assert by_id[2].fp_categories.tolist() == [2]  # only the last crowd region excuses
    assert by_id[3].tp_ious.tolist() == [30 / 35]  # areas from the JSON
    assert by_id[4].fp_categories.tolist() == [1] and by_id[4].tp_ious.size == 1
    assert by_id[5].fp_categories.size == 0 and by_id[6].tp_ious.size == 0

    ref = panopticapi_pq(gt_path, pred_path, gt_dir, pred_dir)
    ours, _ = evaluate_panoptic_files(gt_path, gt_dir, pred_path, pred_dir, progress=False)
    assert_same_results(ours, ref, CATS)


def test_missing_split_is_absent_where_panopticapi_crashes(tmp_path: Path):
    gt = np.zeros((4, 4), np.int32)
    gt[:2] = 3
    pred = np.where(gt == 3, 5, 0).astype(np.int32)
    gt_segs = [{"id": 3, "category_id": 10, "iscrowd": 0, "area": 8}]
    pred_segs = [{"id": 5, "category_id": 10}]
    gt_path, gt_dir = write_gt(tmp_path, [(1, gt, gt_segs)], CATS)
    pred_path, pred_dir = write_gt(tmp_path, [(1, pred, pred_segs)], CATS, "pred")
    with pytest.raises(ZeroDivisionError):
        panopticapi_pq(gt_path, pred_path, gt_dir, pred_dir)
    ours, _ = evaluate_panoptic_files(gt_path, gt_dir, pred_path, pred_dir, progress=False)
    assert "Things" not in ours
    assert ours["Stuff"] == {"pq": 1.0, "sq": 1.0, "rq": 1.0, "n": 1}
    assert ours["All"] == ours["Stuff"]


def test_bad_inputs_raise_naming_the_image(tmp_path: Path):
    gt = np.zeros((4, 6), np.int32)
    gt[:, :3] = 3
    gt_segs = [{"id": 3, "category_id": 1, "iscrowd": 0, "area": 12}]
    pred = np.where(gt == 3, 5, 0).astype(np.int32)
    ok = [{"id": 5, "category_id": 1}]
    cats = {1, 2, 10, 11}
    with pytest.raises(KeyError, match="ID 77 segment with ID 5 is presented in PNG"):
        pq_image(gt, gt_segs, pred, [], cats, 77)
    with pytest.raises(KeyError, match=r"ID 77 the following segment IDs \[6\]"):
        pq_image(gt, gt_segs, pred, [*ok, {"id": 6, "category_id": 1}], cats, 77)
    with pytest.raises(
        KeyError, match="ID 77 predicted segment with ID 5 has unknown category_id 4"
    ):
        pq_image(gt, gt_segs, pred, [{"id": 5, "category_id": 4}], cats, 77)
    with pytest.raises(ValueError, match=r"ID 77 .*shape \(4, 6\).*\(4, 5\)"):
        pq_image(gt, gt_segs, pred[:, :5], ok, cats, 77)
    with pytest.raises(ValueError, match=r"ID 77 .*repeats the ids \[5\]"):
        pq_image(gt, gt_segs, pred, [*ok, *ok], cats, 77)
    with pytest.raises(ValueError, match="reserved for VOID"):
        pq_image(gt, gt_segs, pred, [*ok, {"id": 0, "category_id": 1}], cats, 77)

    gt_path, gt_dir = write_gt(tmp_path, [(1, gt, gt_segs), (2, gt, gt_segs)], CATS)
    pred_path, pred_dir = write_gt(tmp_path, [(1, pred, ok)], CATS, "pred")
    with pytest.raises(KeyError, match="no prediction for the image with id: 2"):
        evaluate_panoptic_files(gt_path, gt_dir, pred_path, pred_dir, progress=False)
    data = json.loads(pred_path.read_text())
    data["annotations"].append({"image_id": 2, "file_name": "2.png", "segments_info": ok})
    pred_path.write_text(json.dumps(data))
    with pytest.raises(FileNotFoundError, match=r"ID 2 the PNG .*2\.png does not exist"):
        evaluate_panoptic_files(gt_path, gt_dir, pred_path, pred_dir, progress=False)


def test_overlaps_and_crowd_rows_on_any_shape():
    rng = np.random.default_rng(3)
    gt = rng.integers(0, 4, size=(3, 5, 7)).astype(np.int32)  # a stacked clip (T, H, W)
    pred = rng.integers(0, 3, size=(3, 5, 7)).astype(np.int32) * 1000
    overlaps = segment_overlaps(gt, [1, 2], pred, [1000, 2000])
    expected = np.zeros((4, 3), np.int64)
    for g, p in zip(gt.ravel(), pred.ravel()):
        row = {0: 0, 1: 1, 2: 2, 3: 3}[int(g)]
        expected[row, int(p) // 1000] += 1
    assert np.array_equal(overlaps.counts, expected)
    assert overlaps.pred_areas.tolist() == [int((pred == 1000).sum()), int((pred == 2000).sum())]
    assert crowd_rows([1, 2, 1, 1], [True, False, True, False]) == {1: 2}
    empty = segment_overlaps(np.zeros((0, 3), np.int32), [], np.zeros((0, 3), np.int32), [])
    assert empty.counts.shape == (2, 1) and empty.counts.sum() == 0


def test_accumulator_merge_equals_one_pass():
    rng = np.random.default_rng(5)
    acc_all, acc_a, acc_b = (PQAccumulator(CATS) for _ in range(3))
    for k in range(6):
        gt = rng.integers(0, 3, size=(12, 12)).astype(np.int32)
        gt_segs = [
            {"id": 1, "category_id": 1, "iscrowd": 0, "area": int((gt == 1).sum())},
            {"id": 2, "category_id": 10, "iscrowd": 0, "area": int((gt == 2).sum())},
        ]
        pred = np.where(rng.random((12, 12)) < 0.8, gt, 0).astype(np.int32)
        pred_segs = [{"id": 1, "category_id": 1}, {"id": 2, "category_id": 10}]
        image = acc_all.add_image(gt, gt_segs, pred, pred_segs, k)
        (acc_a if k < 3 else acc_b).add(image)
    merged = acc_a.merge(acc_b)
    assert np.array_equal(merged.tp, acc_all.tp) and np.array_equal(merged.fn, acc_all.fn)
    assert np.allclose(merged.iou, acc_all.iou, rtol=0, atol=1e-12)
    assert merged.tp.tolist() == [6, 0, 6, 0]
    assert merged.results()["All"]["n"] == 2
