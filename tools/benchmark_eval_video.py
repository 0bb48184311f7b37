"""Time the video evaluator against a single-process VPSNet-style evaluation.

Writes a synthetic set of videos (default 50 videos x 6 annotated frames at
640x427, ground truth plus predictions with shifted boxes, missed objects and
identity switches) and evaluates VPQ for windows 1-4 with:

- ``vpsnet``: a faithful single-process re-implementation, written here, of the
  algorithm of VPSNet's ``eval_vpq.py`` (VPSNet's script itself is not available
  here): every video's PNGs are decoded with PIL, and for each window length and
  each window the frames' RGB images are turned into ids again, the predicted
  areas counted with ``np.unique``, the window stacked, and ``np.unique`` run on
  ``gt * 2^24 + pred`` before a Python loop over the pairs applies panopticapi's
  rules;
- ``ours``: :func:`panoptic.evaluation.video_metric.evaluate_video_panoptic`
  (one count table per frame, windows summed from tables), with 1 and with
  ``--workers`` processes (it also computes STQ, which the reference does not).

Both must agree on VPQ; the script prints ms per annotated frame and the speed-up.

Example:
    python tools/benchmark_eval_video.py --videos 50 --frames 6 --workers 2
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from panoptic.data.panoptic_io import write_panoptic_png
from panoptic.evaluation.video_metric import evaluate_video_panoptic, group_video_frames

CATEGORIES = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142]},
    {"id": 3, "name": "road", "isthing": 0, "color": [128, 64, 128]},
    {"id": 4, "name": "building", "isthing": 0, "color": [70, 70, 70]},
    {"id": 5, "name": "sky", "isthing": 0, "color": [70, 130, 180]},
]


def write_synthetic_videos(
    root: Path, num_videos: int, num_frames: int, height: int, width: int, seed: int = 0
) -> None:
    """Ground truth and predictions of moving boxes on three stuff bands."""
    rng = np.random.default_rng(seed)
    gt: dict[str, Any] = {"images": [], "annotations": [], "categories": CATEGORIES, "videos": []}
    pred: dict[str, Any] = {"annotations": []}
    image_id = 0
    for vid in tqdm(range(num_videos), desc="writing videos"):
        num_objects = int(rng.integers(6, 14))
        start = rng.uniform([0, 0], [width - 80, height - 80], size=(num_objects, 2))
        velocity = rng.uniform(-12, 12, size=(num_objects, 2))
        sizes = rng.integers(30, 90, size=(num_objects, 2))
        labels = rng.integers(1, 3, size=num_objects)
        pred_ids = np.arange(1, num_objects + 1) * 10
        ids = []
        for t in range(num_frames):
            gt_map = np.zeros((height, width), np.int32)
            gt_map[: height // 3] = 5000
            gt_map[height // 3 : 2 * height // 3] = 4000
            gt_map[2 * height // 3 :] = 3000
            gt_map[:, :4] = 0
            pred_map = gt_map.copy()
            pred_map[height // 3 : height // 3 + 5] = 3000
            for k in range(num_objects):
                x, y = (start[k] + t * velocity[k]).astype(int)
                w, h = sizes[k]
                gt_map[max(y, 0) : y + h, max(x, 0) : x + w] = k + 1
                if rng.random() < 0.1:
                    continue
                if rng.random() < 0.05:
                    pred_ids[k] += 1
                dx, dy = rng.integers(-4, 5, size=2)
                pred_map[max(y + dy, 0) : y + dy + h, max(x + dx, 0) : x + dx + w] = pred_ids[k]
            name = f"{vid:03d}_{t:02d}.png"
            gt_segs = _segments(gt_map, {k + 1: int(labels[k]) for k in range(num_objects)})
            pred_segs = _segments(
                pred_map, {int(pred_ids[k]): int(labels[k]) for k in range(num_objects)}
            )
            write_panoptic_png(root / "gt" / name, gt_map)
            write_panoptic_png(root / "pred" / name, pred_map)
            gt["images"].append(
                {"id": image_id, "file_name": name, "height": height, "width": width}
            )
            gt["annotations"].append(
                {"image_id": image_id, "file_name": name, "segments_info": gt_segs}
            )
            pred["annotations"].append(
                {"image_id": image_id, "file_name": name, "segments_info": pred_segs}
            )
            ids.append(image_id)
            image_id += 1
        gt["videos"].append({"video_id": vid, "image_ids": ids})
    (root / "gt.json").write_text(json.dumps(gt))
    (root / "pred.json").write_text(json.dumps(pred))


def _segments(id_map: np.ndarray, thing_labels: dict[int, int]) -> list[dict[str, Any]]:
    ids, areas = np.unique(id_map, return_counts=True)
    stuff = {3000: 3, 4000: 4, 5000: 5}
    return [
        {
            "id": int(i),
            "category_id": stuff.get(int(i), thing_labels.get(int(i))),
            "iscrowd": 0,
            "area": int(a),
        }
        for i, a in zip(ids, areas, strict=True)
        if i != 0
    ]


def _rgb2id(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.uint32)
    return rgb[..., 0] + rgb[..., 1] * 256 + rgb[..., 2] * 256 * 256


def vpsnet_style_vpq(root: Path, window_lengths: list[int]) -> dict[int, float]:
    """Single-process VPQ (All) per window length, following VPSNet's eval_vpq.py."""
    gt = json.loads((root / "gt.json").read_text())
    pred = json.loads((root / "pred.json").read_text())
    categories = {c["id"]: c for c in gt["categories"]}
    gt_anns = {a["image_id"]: a for a in gt["annotations"]}
    pred_anns = {a["image_id"]: a for a in pred["annotations"]}
    videos = []
    for image_ids in group_video_frames(gt).values():
        frames = []
        for image_id in image_ids:
            g, p = gt_anns[image_id], pred_anns[image_id]
            gt_png = np.array(Image.open(root / "gt" / g["file_name"]))
            pred_png = np.array(Image.open(root / "pred" / p["file_name"]))
            frames.append((g, p, gt_png, pred_png))
        videos.append(frames)
    out = {}
    for length in window_lengths:
        stat: dict[int, list[float]] = defaultdict(lambda: [0.0, 0, 0, 0])  # iou, tp, fp, fn
        for frames in videos:
            for start in range(len(frames) - length + 1):
                _vpsnet_window(frames[start : start + length], categories, stat)
        out[length] = _pq_all(stat, categories)
    return out


def _vpsnet_window(
    window: list[tuple], categories: dict[int, Any], stat: dict[int, list[float]]
) -> None:
    offset = 256 * 256 * 256
    gt_maps, pred_maps = [], []
    gt_segms: dict[int, dict[str, Any]] = {}
    pred_segms: dict[int, dict[str, Any]] = {}
    for gt_ann, pred_ann, gt_png, pred_png in window:
        pan_gt, pan_pred = _rgb2id(gt_png), _rgb2id(pred_png)
        frame_pred = {el["id"]: dict(el) for el in pred_ann["segments_info"]}
        labels, counts = np.unique(pan_pred, return_counts=True)
        for label, count in zip(labels, counts, strict=True):
            if label == 0:
                continue
            if label not in frame_pred:
                raise KeyError(f"segment {label} in PNG but not in JSON")
            frame_pred[label]["area"] = int(count)
            if frame_pred[label]["category_id"] not in categories:
                raise KeyError(f"unknown category {frame_pred[label]['category_id']}")
        for segms, frame in (
            (gt_segms, gt_ann["segments_info"]),
            (pred_segms, frame_pred.values()),
        ):
            for el in frame:
                if el["id"] in segms:
                    segms[el["id"]]["area"] += el["area"]
                else:
                    segms[el["id"]] = dict(el)
        gt_maps.append(pan_gt)
        pred_maps.append(pan_pred)
    vid_gt = np.stack(gt_maps).astype(np.uint64)
    vid_pred = np.stack(pred_maps).astype(np.uint64)
    labels, counts = np.unique(vid_gt * offset + vid_pred, return_counts=True)
    gt_pred_map = {
        (int(label // offset), int(label % offset)): int(c)
        for label, c in zip(labels, counts, strict=True)
    }
    gt_matched, pred_matched = set(), set()
    for (gt_label, pred_label), intersection in gt_pred_map.items():
        if gt_label not in gt_segms or pred_label not in pred_segms:
            continue
        if gt_segms[gt_label]["iscrowd"] == 1:
            continue
        if gt_segms[gt_label]["category_id"] != pred_segms[pred_label]["category_id"]:
            continue
        union = (
            pred_segms[pred_label]["area"]
            + gt_segms[gt_label]["area"]
            - intersection
            - gt_pred_map.get((0, pred_label), 0)
        )
        iou = intersection / union
        if iou > 0.5:
            stat[gt_segms[gt_label]["category_id"]][0] += iou
            stat[gt_segms[gt_label]["category_id"]][1] += 1
            gt_matched.add(gt_label)
            pred_matched.add(pred_label)
    crowd = {}
    for gt_label, info in gt_segms.items():
        if gt_label in gt_matched:
            continue
        if info["iscrowd"] == 1:
            crowd[info["category_id"]] = gt_label
            continue
        stat[info["category_id"]][3] += 1
    for pred_label, info in pred_segms.items():
        if pred_label in pred_matched:
            continue
        ignored = gt_pred_map.get((0, pred_label), 0)
        if info["category_id"] in crowd:
            ignored += gt_pred_map.get((crowd[info["category_id"]], pred_label), 0)
        if ignored / info["area"] > 0.5:
            continue
        stat[info["category_id"]][2] += 1


def _pq_all(stat: dict[int, list[float]], categories: dict[int, Any]) -> float:
    pqs = []
    for cat in categories:
        iou, tp, fp, fn = stat[cat]
        if tp + fp + fn:
            pqs.append(iou / (tp + 0.5 * fp + 0.5 * fn))
    return float(np.mean(pqs)) if pqs else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=50, help="number of videos")
    parser.add_argument("--frames", type=int, default=6, help="annotated frames per video")
    parser.add_argument("--height", type=int, default=427)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--workers", type=int, default=2, help="processes for our evaluator")
    parser.add_argument("--repeats", type=int, default=3, help="timing runs (median reported)")
    parser.add_argument("--data", type=Path, help="keep the synthetic data here (default: temp)")
    args = parser.parse_args(argv)
    lengths = [1, 2, 3, 4]
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data or Path(tmp)
        write_synthetic_videos(root, args.videos, args.frames, args.height, args.width)
        num_frames = args.videos * args.frames
        timings: dict[str, list[float]] = {}
        results: dict[int, dict[str, Any]] = {}
        for _ in tqdm(range(args.repeats), desc="timing runs"):
            start = time.perf_counter()
            reference = vpsnet_style_vpq(root, lengths)
            timings.setdefault("vpsnet-style, 1 process", []).append(time.perf_counter() - start)
            for workers in sorted({1, args.workers}):
                start = time.perf_counter()
                results[workers] = evaluate_video_panoptic(
                    root / "gt.json",
                    root / "gt",
                    root / "pred.json",
                    root / "pred",
                    lengths,
                    5,
                    workers,
                    progress=False,
                )
                name = f"ours, {workers} process(es)"
                timings.setdefault(name, []).append(time.perf_counter() - start)
    medians = {name: float(np.median(runs)) for name, runs in timings.items()}
    base = medians["vpsnet-style, 1 process"]
    print(f"median of {args.repeats} run(s), {num_frames} annotated frames")
    for name, seconds in medians.items():
        print(
            f"{name:28s} {seconds:7.2f} s  {1000 * seconds / num_frames:7.2f} ms/frame  "
            f"speed-up {base / seconds:5.1f}x"
        )
    for length in lengths:
        ours = results[1]["vpq"][f"k{(length - 1) * 5}"]["All"]["pq"]
        print(f"VPQ k{(length - 1) * 5:<3d} vpsnet-style {reference[length]:.6f}  ours {ours:.6f}")
        if abs(ours - reference[length]) > 1e-9:
            print("error: the two evaluators disagree", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
