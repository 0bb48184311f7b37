"""Streaming metrics: CocoPanopticMetric against panopticapi, CocoInstanceMetric against
pycocotools' COCOeval run directly."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.structures import BaseDataElement, InstanceData
from panopticapi import evaluation as panopticapi_eval
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from panoptic.evaluation import instance_metric
from panoptic.evaluation.instance_metric import STAT_NAMES, CocoInstanceMetric
from panoptic.evaluation.panoptic_metric import CocoPanopticMetric
from panoptic.evaluation.pq_files import read_panoptic_ids
from panoptic.registry import METRICS
from panoptic.structures.panoptic_data_sample import PanopticDataSample


def panoptic_samples(sample_dir: Path, seed: int) -> tuple[list[dict], dict]:
    """Data samples (as ``to_dict()`` gives them) with jittered predictions."""
    gt_json = json.loads((sample_dir / "panoptic_examples.json").read_text())
    rng = np.random.default_rng(seed)
    category_ids = [c["id"] for c in gt_json["categories"]]
    samples = []
    for ann in gt_json["annotations"]:
        gt_map = read_panoptic_ids(sample_dir / "panoptic_examples" / ann["file_name"])
        gt_map = gt_map.astype(np.int32)
        pred_map = np.zeros_like(gt_map)
        pred_segments = []
        for k, segment in enumerate(ann["segments_info"]):
            if rng.random() < 0.2:
                continue
            mask = np.roll(gt_map == segment["id"], int(rng.integers(-10, 11)), axis=1)
            category = segment["category_id"]
            if rng.random() < 0.15:
                category = int(rng.choice(category_ids))
            pred_map[mask] = k + 1
            pred_segments.append({"id": k + 1, "category_id": category, "score": 0.9})
        present = set(np.unique(pred_map).tolist())
        data_sample = PanopticDataSample(
            metainfo={
                "img_id": ann["image_id"],
                "img_path": f"images/{Path(ann['file_name']).stem}.jpg",
                "ori_shape": gt_map.shape,
            }
        )
        data_sample.gt_panoptic = BaseDataElement(
            id_map=torch.from_numpy(gt_map), segments=ann["segments_info"]
        )
        data_sample.pred_panoptic = BaseDataElement(
            id_map=torch.from_numpy(pred_map),
            segments=[s for s in pred_segments if s["id"] in present],
        )
        samples.append(data_sample.to_dict())
    return samples, gt_json


def test_panoptic_metric_matches_panopticapi_on_written_files(coco_sample_dir: Path, tmp_path):
    samples, gt_json = panoptic_samples(coco_sample_dir, seed=0)
    metric = METRICS.build({"type": "CocoPanopticMetric", "output_dir": str(tmp_path)})
    metric.dataset_meta = {"categories": gt_json["categories"]}
    metric.process({}, samples[:1])
    metric.process({}, samples[1:])
    metrics = metric.evaluate(len(samples))

    pred_json = tmp_path / "panoptic_pred.json"
    assert sorted(p.name for p in (tmp_path / "panoptic_pred").iterdir()) == [
        "000000142238.png",
        "000000439180.png",
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        ref = panopticapi_eval.pq_compute(
            str(coco_sample_dir / "panoptic_examples.json"),
            str(pred_json),
            str(coco_sample_dir / "panoptic_examples"),
            str(tmp_path / "panoptic_pred"),
        )
    for split, suffix in (("All", ""), ("Things", "_th"), ("Stuff", "_st")):
        for key in ("pq", "sq", "rq"):
            expected = 100 * ref[split][key]
            assert abs(metrics[f"panoptic/{key.upper()}{suffix}"] - expected) < 1e-10
    assert 20 < metrics["panoptic/PQ"] < 95
    written = json.loads((tmp_path / "panoptic_metrics.json").read_text())
    assert written["All"]["n"] == ref["All"]["n"]
    assert written["per_class"]["1"]["pq"] == pytest.approx(ref["per_class"][1]["pq"], abs=1e-12)


def test_panoptic_metric_results_merge_across_ranks(coco_sample_dir: Path):
    samples, gt_json = panoptic_samples(coco_sample_dir, seed=1)
    meta = {"categories": gt_json["categories"]}
    ranks = [CocoPanopticMetric(), CocoPanopticMetric()]
    for rank, metric in enumerate(ranks):
        metric.dataset_meta = meta
        metric.process({}, samples[rank : rank + 1])
    single = CocoPanopticMetric()
    single.dataset_meta = meta
    single.process({}, samples)
    gathered = ranks[0].compute_metrics(ranks[0].results + ranks[1].results)
    assert gathered == single.compute_metrics(single.results)
    assert set(gathered) == {"PQ", "SQ", "RQ", "PQ_th", "SQ_th", "RQ_th", "PQ_st", "SQ_st", "RQ_st"}


def test_panoptic_metric_names_missing_fields(coco_sample_dir: Path):
    samples, gt_json = panoptic_samples(coco_sample_dir, seed=2)
    metric = CocoPanopticMetric()
    with pytest.raises(KeyError, match="dataset_meta"):
        metric.process({}, samples)
    metric.dataset_meta = {"categories": gt_json["categories"]}
    del samples[0]["gt_panoptic"]
    with pytest.raises(KeyError, match="image 142238 has no 'gt_panoptic'"):
        metric.process({}, samples)


def random_instances(rng: np.random.Generator, H: int, W: int, num: int, num_labels: int):
    masks = np.zeros((num, H, W), dtype=bool)
    boxes = np.zeros((num, 4), dtype=np.float32)
    for k in range(num):
        y, x = rng.integers(0, H - 6), rng.integers(0, W - 6)
        h, w = rng.integers(4, H - y + 1), rng.integers(4, W - x + 1)
        yy, xx = np.mgrid[:H, :W]
        masks[k] = ((yy - y - h / 2) / (h / 2)) ** 2 + ((xx - x - w / 2) / (w / 2)) ** 2 <= 1
        ys, xs = np.nonzero(masks[k])
        boxes[k] = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    return masks, boxes, rng.integers(0, num_labels, size=num)


def instance_samples(seed: int) -> tuple[list[dict[str, Any]], dict[int, int], list[dict]]:
    rng = np.random.default_rng(seed)
    label2cat = {0: 1, 1: 3, 2: 7, 3: 20, 4: 21}  # three things, then stuff labels
    samples, images = [], []
    for image_id in range(6):
        H, W = int(rng.integers(30, 60)), int(rng.integers(30, 60))
        gt_masks, gt_boxes, gt_labels = random_instances(rng, H, W, int(rng.integers(1, 5)), 3)
        iscrowd = rng.random(len(gt_labels)) < 0.15
        keep = rng.random(len(gt_labels)) < 0.8
        keep[0] = True
        jitter = rng.integers(-2, 3, size=(int(keep.sum()), 2))
        pred_masks = np.stack(
            [np.roll(m, tuple(j), axis=(0, 1)) for m, j in zip(gt_masks[keep], jitter)]
        )
        pred_boxes = gt_boxes[keep] + np.repeat(jitter[:, ::-1], 2, axis=1)
        pred_labels = gt_labels[keep].copy()
        pred_labels[rng.random(len(pred_labels)) < 0.2] = 0
        fp_masks, fp_boxes, fp_labels = random_instances(rng, H, W, 2, 3)
        pred_masks = np.concatenate([pred_masks, fp_masks])
        pred_boxes = np.concatenate([pred_boxes, fp_boxes])
        pred_labels = np.concatenate([pred_labels, fp_labels])
        scores = rng.random(len(pred_labels))
        sample = PanopticDataSample(metainfo={"img_id": image_id, "ori_shape": (H, W)})
        sample.gt_instances = InstanceData(
            boxes=torch.from_numpy(gt_boxes),
            labels=torch.from_numpy(gt_labels),
            masks=torch.from_numpy(gt_masks),
            iscrowd=torch.from_numpy(iscrowd),
        )
        sample.pred_instances = InstanceData(
            boxes=torch.from_numpy(pred_boxes.astype(np.float32)),
            labels=torch.from_numpy(pred_labels),
            masks=torch.from_numpy(pred_masks),
            scores=torch.from_numpy(scores.astype(np.float32)),
        )
        samples.append(sample.to_dict())
        images.append(
            {
                "id": image_id,
                "height": H,
                "width": W,
                "gt": (gt_masks, gt_boxes, gt_labels, iscrowd),
                "pred": (pred_masks, pred_boxes, pred_labels, scores),
            }
        )
    return samples, label2cat, images


def reference_stats(images: list[dict], label2cat: dict[int, int]) -> tuple[dict, dict]:
    """pycocotools directly: ground truth and detections encoded here, COCOeval per type."""
    annotations, detections = [], []
    for image in images:
        masks, boxes, labels, iscrowd = image["gt"]
        for mask, box, label, crowd in zip(masks, boxes, labels, iscrowd):
            rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
            x1, y1, x2, y2 = box.tolist()
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image["id"],
                    "category_id": label2cat[int(label)],
                    "segmentation": rle,
                    "area": float(mask.sum()),
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "iscrowd": int(crowd),
                }
            )
        masks, boxes, labels, scores = image["pred"]
        for mask, box, label, score in zip(masks, boxes, labels, scores):
            x1, y1, x2, y2 = (float(v) for v in box)
            detections.append(
                {
                    "image_id": image["id"],
                    "category_id": label2cat[int(label)],
                    "segmentation": mask_utils.encode(np.asfortranarray(mask.astype(np.uint8))),
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "score": float(np.float32(score)),
                }
            )
    dataset = {
        "images": [{"id": i["id"], "height": i["height"], "width": i["width"]} for i in images],
        "annotations": annotations,
        "categories": [{"id": 1}, {"id": 3}, {"id": 7}],
    }
    stats = {}
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = dataset
        gt.createIndex()
        for iou_type in ("segm", "bbox"):
            evaluator = COCOeval(gt, gt.loadRes([dict(d) for d in detections]), iou_type)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
            stats[iou_type] = evaluator.stats.tolist()
    for annotation in dataset["annotations"]:
        annotation["segmentation"]["counts"] = annotation["segmentation"]["counts"].decode()
    return stats, dataset


HOTCOCO = pytest.mark.skipif(instance_metric.hotcoco is None, reason="hotcoco missing")
BACKENDS = ["pycocotools", pytest.param("hotcoco", marks=HOTCOCO)]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_instance_metric_equals_cocoeval(tmp_path: Path, seed: int, backend: str):
    samples, label2cat, images = instance_samples(seed=seed)
    meta = {"label2cat": label2cat, "thing_classes": ["a", "b", "c"]}
    ref, dataset = reference_stats(images, label2cat)
    assert 0.05 < ref["segm"][0] < 0.95 and 0.05 < ref["bbox"][0] < 0.95

    metric = METRICS.build(
        {"type": "CocoInstanceMetric", "output_dir": str(tmp_path), "backend": backend}
    )
    metric.dataset_meta = meta
    metric.process({}, samples[:4])
    metric.process({}, samples[4:])
    metrics = metric.evaluate(len(samples))
    for iou_type in ("segm", "bbox"):
        assert [metrics[f"coco/{iou_type}_{name}"] for name in STAT_NAMES] == ref[iou_type]
    assert len(json.loads((tmp_path / "instances_results.json").read_text())) > 10

    ann_file = tmp_path / "gt.json"
    ann_file.write_text(json.dumps(dataset))
    from_file = CocoInstanceMetric(ann_file=str(ann_file), backend=backend)
    from_file.dataset_meta = meta
    from_file.process({}, samples)
    assert from_file.evaluate(len(samples)) == metrics


def test_instance_metric_without_detections_and_bad_input():
    samples, label2cat, _ = instance_samples(seed=3)
    for sample in samples:
        sample["pred_instances"] = {
            "boxes": torch.zeros((0, 4)),
            "labels": torch.zeros(0, dtype=torch.long),
            "scores": torch.zeros(0),
            "masks": torch.zeros((0, 5, 5), dtype=torch.bool),
        }
    metric = CocoInstanceMetric(iou_types=("bbox",))
    metric.dataset_meta = {"label2cat": label2cat, "thing_classes": ["a", "b", "c"]}
    metric.process({}, samples)
    metrics = metric.evaluate(len(samples))
    assert metrics["coco/bbox_mAP"] == 0.0 and "coco/segm_mAP" not in metrics
    with pytest.raises(ValueError, match="unknown IoU type 'mask'"):
        CocoInstanceMetric(iou_types=("mask",))
    del samples[0]["gt_instances"]
    with pytest.raises(KeyError, match="image 0 has no gt_instances"):
        metric.process({}, samples)


@HOTCOCO
def test_hotcoco_backend_gives_pycocotools_numbers():
    """Twenty randomised sets, a category subset and no detections: all 12 numbers equal."""
    for seed in range(3, 23):
        _, label2cat, images = instance_samples(seed=seed)
        _, dataset = reference_stats(images, label2cat)
        coco_gt = instance_metric.coco_from_dataset(dataset)
        detections = [
            {
                "image_id": image["id"],
                "category_id": label2cat[int(label)],
                "segmentation": instance_metric.encode_masks_rle(mask[None])[0],
                "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                "score": float(score),
            }
            for image in images
            for mask, (x1, y1, x2, y2), label, score in zip(*image["pred"])
        ]
        for subset, results in ((None, detections), ([1, 7], detections), (None, [])):
            runs = [
                instance_metric.evaluate_coco_instances(
                    coco_gt, results, category_ids=subset, backend=backend
                )[0]
                for backend in ("pycocotools", "hotcoco")
            ]
            assert runs[0] == runs[1], (seed, subset, len(results))


def test_unknown_or_missing_backend_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="unknown COCOeval backend"):
        CocoInstanceMetric(backend="detectron2")
    monkeypatch.setattr(instance_metric, "hotcoco", None)
    with pytest.raises(ImportError, match="pip install hotcoco"):
        CocoInstanceMetric(backend="hotcoco")
