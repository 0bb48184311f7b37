"""``CocoPanopticMetric``: streaming PQ for validation and ``tools/test.py``.

Each processed image is matched in memory by :func:`panoptic.evaluation.pq.pq_image`
(no PNG round trip); only its small per-image counts are kept, so mmengine
gathers them cheaply from every rank and the main process sums them in
dataset order. The logged keys are in percent: ``PQ``, ``SQ``, ``RQ`` for
All, with ``_th`` (Things) and ``_st`` (Stuff) suffixes; a split without any
counted category is left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from panoptic.evaluation.coco_writers import CocoPanopticWriter
from panoptic.evaluation.pq import (
    ImagePQ,
    PQAccumulator,
    format_pq_table,
    pq_image,
    results_to_json,
)
from panoptic.registry import METRICS

SPLIT_SUFFIXES = {"All": "", "Things": "_th", "Stuff": "_st"}


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _plain_segments(segments: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    plain = []
    for segment in segments:
        plain.append({k: v.item() if hasattr(v, "item") else v for k, v in segment.items()})
    return plain


def _with_areas(id_map: np.ndarray, segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill missing ground-truth areas by counting them in the map."""
    if all("area" in s for s in segments):
        return segments
    ids, counts = np.unique(id_map, return_counts=True)
    area_of = dict(zip(ids.tolist(), counts.tolist()))
    return [s if "area" in s else {**s, "area": area_of.get(int(s["id"]), 0)} for s in segments]


def pq_metrics(results: Mapping[str, Any]) -> dict[str, float]:
    """Logged PQ keys in percent (``PQ``, ``SQ``, ``RQ``, ``PQ_th``, ..., ``RQ_st``)."""
    metrics = {}
    for split, suffix in SPLIT_SUFFIXES.items():
        if split not in results:
            continue
        for key in ("pq", "sq", "rq"):
            metrics[f"{key.upper()}{suffix}"] = 100.0 * float(results[split][key])
    return metrics


@METRICS.register_module()
class CocoPanopticMetric(BaseMetric):
    """PQ / SQ / RQ of panoptic predictions, with panopticapi's exact rules.

    Data samples (``PanopticDataSample.to_dict()``) must carry ``pred_panoptic``
    and ``gt_panoptic`` (``id_map`` (H, W) at the original size and
    ``segments``; ground-truth segments with ``iscrowd`` and their JSON
    ``area``) and the ``img_id`` metainfo. Categories come from
    ``dataset_meta["categories"]``.

    Args:
        output_dir: when set, predictions are also written there as COCO
            panoptic PNGs (``panoptic_pred/``) with ``panoptic_pred.json``, and
            the results as ``panoptic_metrics.json`` in panopticapi's shape.
        collect_device: ``"cpu"`` or ``"gpu"``, for gathering across ranks.
        prefix: key prefix (default ``"panoptic"``).
        collect_dir: folder for gathering on CPU (mmengine's default when None).
    """

    default_prefix = "panoptic"

    def __init__(
        self,
        output_dir: str | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
        collect_dir: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.output_dir = Path(output_dir) if output_dir else None
        self._writer: CocoPanopticWriter | None = None
        self._category_set: frozenset[int] | None = None

    @property
    def categories(self) -> list[dict[str, Any]]:
        """The dataset's COCO panoptic category dicts."""
        if not self.dataset_meta or not self.dataset_meta.get("categories"):
            raise KeyError(
                "CocoPanopticMetric needs dataset_meta['categories'] (COCO panoptic category "
                "dicts); the Runner sets it from the dataset's metainfo."
            )
        return list(self.dataset_meta["categories"])

    def process(self, data_batch: Any, data_samples: Sequence[Mapping[str, Any]]) -> None:
        """Match each image and keep its counts (and its written annotation).

        Raises:
            KeyError: a sample lacks ``pred_panoptic`` or ``gt_panoptic``, or
                its ids or categories are inconsistent (naming the image).
            ValueError: the two maps of an image differ in size.
        """
        if self._category_set is None:
            self._category_set = frozenset(int(c["id"]) for c in self.categories)
        for sample in data_samples:
            image_id = sample.get("img_id")
            for key in ("pred_panoptic", "gt_panoptic"):
                if key not in sample:
                    raise KeyError(
                        f"CocoPanopticMetric: the sample of image {image_id} has no '{key}'"
                        + (
                            "; the test pipeline must load the panoptic annotation"
                            if key == "gt_panoptic"
                            else "; the model must predict panoptic maps"
                        )
                    )
            pred, gt = sample["pred_panoptic"], sample["gt_panoptic"]
            pred_map, gt_map = _numpy(pred["id_map"]), _numpy(gt["id_map"])
            pred_segments = _plain_segments(pred["segments"])
            gt_segments = _with_areas(gt_map, _plain_segments(gt["segments"]))
            image = pq_image(
                gt_map, gt_segments, pred_map, pred_segments, self._category_set, image_id
            )
            annotation = None
            if self.output_dir is not None:
                annotation = self._write(image_id, pred_map, pred_segments, sample)
            self.results.append((image, annotation))

    def _write(
        self,
        image_id: Any,
        pred_map: np.ndarray,
        pred_segments: list[dict[str, Any]],
        sample: Mapping[str, Any],
    ) -> dict[str, Any]:
        if self._writer is None:
            assert self.output_dir is not None
            self._writer = CocoPanopticWriter(self.output_dir, self.categories)
        file_name = Path(sample["img_path"]).name if sample.get("img_path") else None
        return self._writer.add(image_id, pred_map, pred_segments, file_name)

    def compute_metrics(self, results: list[tuple[ImagePQ, dict[str, Any] | None]]) -> dict:
        """Sum the per-image counts in order; log the table; return percent metrics."""
        accumulator = PQAccumulator(self.categories)
        for image, _ in results:
            accumulator.add(image)
        pq_results = accumulator.results()
        print_log(
            "Panoptic quality (percent):\n" + format_pq_table(pq_results, self.categories),
            logger="current",
        )
        if self.output_dir is not None:
            self._write_files(pq_results, [a for _, a in results if a is not None])
        self._writer = None
        return pq_metrics(pq_results)

    def _write_files(self, pq_results: dict[str, Any], annotations: list[dict[str, Any]]) -> None:
        assert self.output_dir is not None
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output_dir / "panoptic_pred.json", "w") as f:
            json.dump({"annotations": annotations, "categories": self.categories}, f)
        with open(self.output_dir / "panoptic_metrics.json", "w") as f:
            json.dump(results_to_json(pq_results), f, indent=1)
