"""COCO mask AP and box AP through pycocotools' ``COCOeval``, streaming and from files.

Predictions are turned into COCO results (RLE masks) image by image; the
ground truth is either a COCO detection-format annotation file or built in
memory from the samples' ``gt_instances`` (masks and boxes at the original
size). ``COCOeval`` then gives the 12 standard numbers per IoU type, from
pycocotools (the reference, the default) or, when asked with
``backend="hotcoco"`` and installed, from hotcoco's pycocotools-compatible
Rust implementation, which gives the same 12 numbers (tested) faster. One
pycocotools quirk hotcoco does not share: a ground-truth annotation with id 0
is never counted as matched by pycocotools; such ground truth is refused with
hotcoco rather than given different numbers.

Shapes: N instances, H/W height/width.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from panoptic.evaluation.coco_writers import encode_masks_rle, instances_to_coco
from panoptic.registry import METRICS

try:  # optional: a faster COCOeval with the same numbers
    import hotcoco
except ImportError:  # pragma: no cover - depends on the environment
    hotcoco = None  # type: ignore[assignment]

STAT_NAMES = (
    "mAP",
    "mAP_50",
    "mAP_75",
    "mAP_s",
    "mAP_m",
    "mAP_l",
    "AR_1",
    "AR_10",
    "AR_100",
    "AR_s",
    "AR_m",
    "AR_l",
)
IOU_TYPES = ("segm", "bbox")
BACKENDS = ("pycocotools", "hotcoco")


def check_backend(backend: str) -> str:
    """``backend`` if it is known and installed.

    Raises:
        ValueError: an unknown name. ImportError: hotcoco asked for but missing.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown COCOeval backend {backend!r}; choose from {BACKENDS}")
    if backend == "hotcoco" and hotcoco is None:
        raise ImportError("the COCOeval backend 'hotcoco' needs: pip install hotcoco")
    return backend


def _run_cocoeval(
    coco_gt: COCO,
    results: list[dict[str, Any]],
    iou_type: str,
    category_ids: Sequence[int] | None,
    backend: str,
) -> list[float]:
    """Build the detections, evaluate, accumulate and summarise (printing); the 12 stats."""
    if category_ids is not None and not list(category_ids):
        # pycocotools finds no ground truth (-1 everywhere); hotcoco would read [] as "all"
        print("no categories to evaluate")
        return [-1.0] * len(STAT_NAMES)
    if backend == "hotcoco":
        # hotcoco reads the dataset dict (a shallow copy: only the category names, which
        # label its printouts, are filled in)
        categories = [{"name": str(c["id"]), **c} for c in coco_gt.dataset["categories"]]
        dataset = {**coco_gt.dataset, "categories": categories}
        gt = hotcoco.COCO(dataset)
        dt = gt.loadRes(results) if results else hotcoco.COCO({**dataset, "annotations": []})
        evaluator = hotcoco.COCOeval(gt, dt, iou_type)
    else:
        empty = {**coco_gt.dataset, "annotations": []}
        dt = coco_gt.loadRes(results) if results else coco_from_dataset(empty)
        evaluator = COCOeval(coco_gt, dt, iou_type)
    if category_ids is not None:
        evaluator.params.catIds = list(category_ids)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return [float(v) for v in evaluator.stats]


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def coco_from_dataset(dataset: Mapping[str, Any]) -> COCO:
    """A pycocotools ``COCO`` over an in-memory detection-format dict (quietly)."""
    coco = COCO()
    coco.dataset = copy.deepcopy(dict(dataset))
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def load_coco(path: str | Path) -> COCO:
    """Load a COCO detection-format annotation file, naming it on failure."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"COCO annotation file {path} does not exist")
    with open(path) as f:
        dataset = json.load(f)
    for key in ("images", "annotations", "categories"):
        if key not in dataset:
            raise ValueError(f"COCO annotation file {path} has no '{key}'")
    return coco_from_dataset(dataset)


def evaluate_coco_instances(
    coco_gt: COCO,
    results: Sequence[Mapping[str, Any]],
    iou_types: Sequence[str] = IOU_TYPES,
    category_ids: Sequence[int] | None = None,
    backend: str = "pycocotools",
) -> tuple[dict[str, dict[str, float]], str]:
    """The 12 COCO numbers per IoU type with ``COCOeval``.

    Args:
        coco_gt: the ground truth.
        results: COCO result dicts (``image_id``, ``category_id``, ``bbox``
            (x, y, w, h), ``score``, ``segmentation`` RLE for ``"segm"``).
        iou_types: any of ``"segm"``, ``"bbox"``.
        category_ids: categories to evaluate (default: all in the ground truth).
        backend: ``"pycocotools"`` or ``"hotcoco"`` (same numbers).

    Returns:
        ``{iou type: {"mAP": ..., "AR_l": ...}}`` as fractions (-1 where
        pycocotools finds no ground truth) and COCOeval's printed summary.

    Raises:
        KeyError: a result names an image or category that the ground truth lacks.
        ValueError: an unknown IoU type or backend, or segm asked of results without masks.
        ImportError: hotcoco asked for but not installed.
    """
    check_backend(backend)
    if backend == "hotcoco" and any(a.get("id") == 0 for a in coco_gt.dataset["annotations"]):
        raise ValueError(
            "the ground truth has an annotation with id 0: pycocotools counts matches to it "
            "as misses (its matches are stored as ids, and 0 reads as 'unmatched'), hotcoco "
            "does not, so the numbers would differ; renumber the annotations from 1 or use "
            "backend='pycocotools'"
        )
    known_images = set(coco_gt.getImgIds())
    known_categories = set(coco_gt.getCatIds())
    for result in results:
        if result["image_id"] not in known_images:
            raise KeyError(
                f"a result names image {result['image_id']}, absent from the ground truth"
            )
        if result["category_id"] not in known_categories:
            raise KeyError(
                f"a result of image {result['image_id']} has unknown category_id "
                f"{result['category_id']}"
            )
    stats: dict[str, dict[str, float]] = {}
    log = io.StringIO()
    for iou_type in iou_types:
        if iou_type not in IOU_TYPES:
            raise ValueError(f"unknown IoU type {iou_type!r}; use one of {IOU_TYPES}")
        if iou_type == "segm" and any("segmentation" not in r for r in results):
            raise ValueError("segm evaluation needs a 'segmentation' in every result")
        with contextlib.redirect_stdout(log):
            print(f"IoU type: {iou_type}")
            values = _run_cocoeval(
                coco_gt, [dict(r) for r in copy.deepcopy(results)], iou_type, category_ids, backend
            )
        stats[iou_type] = dict(zip(STAT_NAMES, values))
    return stats, log.getvalue()


def gt_annotations(
    image_id: int,
    labels: np.ndarray,
    label2cat: Mapping[int, int],
    boxes: np.ndarray,
    masks: np.ndarray | None,
    iscrowd: np.ndarray | None,
    first_id: int,
) -> list[dict[str, Any]]:
    """COCO detection-format annotations of one image's ground-truth instances.

    Args:
        image_id: COCO image id.
        labels: (N,) contiguous thing labels.
        label2cat: label -> category id.
        boxes: (N, 4) x1y1x2y2 at the original size.
        masks: (N, H, W) bool at the original size, or None.
        iscrowd: (N,) flags, or None for all zero.
        first_id: the annotation id of the first instance.

    Returns:
        Dicts with ``id``, ``image_id``, ``category_id``, ``bbox``, ``area``
        (mask area with masks, else box area), ``iscrowd`` and, with masks, RLE
        ``segmentation``.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    crowd = np.zeros(len(boxes), bool) if iscrowd is None else np.asarray(iscrowd).astype(bool)
    rles = encode_masks_rle(masks) if masks is not None else [None] * len(boxes)
    annotations = []
    for k, (box, label, rle) in enumerate(zip(boxes, np.asarray(labels), rles)):
        x1, y1, x2, y2 = (float(v) for v in box)
        annotation: dict[str, Any] = {
            "id": first_id + k,
            "image_id": image_id,
            "category_id": int(label2cat[int(label)]),
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "area": (x2 - x1) * (y2 - y1),
            "iscrowd": int(crowd[k]),
        }
        if rle is not None:
            annotation["segmentation"] = rle
            annotation["area"] = float(np.asarray(masks)[k].sum())
        annotations.append(annotation)
    return annotations


@METRICS.register_module()
class CocoInstanceMetric(BaseMetric):
    """COCO mask AP and box AP (12 numbers each) of instance predictions.

    Data samples must carry ``pred_instances`` (``boxes``, ``scores``,
    ``labels`` and, for ``"segm"``, ``masks`` at the original size) and the
    ``img_id`` and ``ori_shape`` metainfo; without ``ann_file`` also
    ``gt_instances`` (``boxes``, ``labels``, ``masks``, ``iscrowd``) at the
    original size. Labels map to category ids through ``dataset_meta["label2cat"]``.
    Logged keys: ``segm_mAP``, ``segm_mAP_50``, ..., ``bbox_AR_l`` (fractions).

    Args:
        ann_file: COCO detection-format ground truth; None builds it from the samples.
        iou_types: any of ``"segm"`` and ``"bbox"``.
        output_dir: when set, the results list is written there as
            ``instances_results.json``.
        collect_device: ``"cpu"`` or ``"gpu"``, for gathering across ranks.
        prefix: key prefix (default ``"coco"``).
        collect_dir: folder for gathering on CPU.
        backend: ``"pycocotools"`` (default) or ``"hotcoco"``: same numbers, faster.
    """

    default_prefix = "coco"

    def __init__(
        self,
        ann_file: str | None = None,
        iou_types: Sequence[str] = IOU_TYPES,
        output_dir: str | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
        backend: str = "pycocotools",
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.backend = check_backend(backend)
        for iou_type in iou_types:
            if iou_type not in IOU_TYPES:
                raise ValueError(f"unknown IoU type {iou_type!r}; use one of {IOU_TYPES}")
        self.ann_file = ann_file
        self.iou_types = tuple(iou_types)
        self.output_dir = Path(output_dir) if output_dir else None

    def _label2cat(self) -> dict[int, int]:
        if not self.dataset_meta or "label2cat" not in self.dataset_meta:
            raise KeyError(
                "CocoInstanceMetric needs dataset_meta['label2cat'] (label -> category id); "
                "the Runner sets it from the dataset's metainfo."
            )
        label2cat = {int(k): int(v) for k, v in self.dataset_meta["label2cat"].items()}
        # Instance labels are thing labels, the first ``len(thing_classes)`` semantic labels.
        num_things = len(self.dataset_meta.get("thing_classes", label2cat))
        return {label: cat for label, cat in label2cat.items() if label < num_things}

    def process(self, data_batch: Any, data_samples: Sequence[Mapping[str, Any]]) -> None:
        """Encode each image's predictions (and ground truth) as COCO dicts."""
        label2cat = self._label2cat()
        for sample in data_samples:
            image_id = sample.get("img_id")
            if image_id is None:
                raise KeyError("CocoInstanceMetric: a sample has no 'img_id' metainfo")
            if "pred_instances" not in sample:
                raise KeyError(
                    f"CocoInstanceMetric: the sample of image {image_id} has no pred_instances"
                )
            pred = sample["pred_instances"]
            masks = _numpy(pred["masks"]) if "segm" in self.iou_types else None
            results = instances_to_coco(
                image_id,
                _numpy(pred["boxes"]),
                _numpy(pred["scores"]),
                _numpy(pred["labels"]),
                label2cat,
                masks,
            )
            height, width = (int(v) for v in sample["ori_shape"][:2])
            image = {"id": image_id, "height": height, "width": width}
            gts: list[dict[str, Any]] | None = None
            if self.ann_file is None:
                if "gt_instances" not in sample:
                    raise KeyError(
                        f"CocoInstanceMetric without ann_file: the sample of image {image_id} "
                        "has no gt_instances"
                    )
                gt = sample["gt_instances"]
                gts = gt_annotations(
                    image_id,
                    _numpy(gt["labels"]),
                    label2cat,
                    _numpy(gt["boxes"]),
                    _numpy(gt["masks"]) if "masks" in gt else None,
                    _numpy(gt["iscrowd"]) if "iscrowd" in gt else None,
                    first_id=1,
                )
            self.results.append((image, results, gts))

    def compute_metrics(self, results: list) -> dict[str, float]:
        """Run ``COCOeval`` over all images; return ``<iou type>_<stat>`` keys."""
        label2cat = self._label2cat()
        detections = [r for _, image_results, _ in results for r in image_results]
        if self.ann_file is not None:
            coco_gt = load_coco(self.ann_file)
            category_ids = sorted(set(label2cat.values()) & set(coco_gt.getCatIds()))
        else:
            annotations: list[dict[str, Any]] = []
            for _, _, gts in results:
                for annotation in gts:
                    annotations.append({**annotation, "id": len(annotations) + 1})
            categories = [{"id": cat_id} for cat_id in sorted(set(label2cat.values()))]
            coco_gt = coco_from_dataset(
                {
                    "images": [image for image, _, _ in results],
                    "annotations": annotations,
                    "categories": categories,
                }
            )
            category_ids = None
        if self.output_dir is not None:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            with open(self.output_dir / "instances_results.json", "w") as f:
                json.dump(detections, f)
        stats, summary = evaluate_coco_instances(
            coco_gt, detections, self.iou_types, category_ids, self.backend
        )
        print_log("COCO instance evaluation:\n" + summary, logger="current")
        return {
            f"{iou_type}_{name}": value
            for iou_type, s in stats.items()
            for name, value in s.items()
        }
