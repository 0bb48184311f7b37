"""Writers of predictions in COCO formats: panoptic PNG + JSON, instance results JSON.

Panoptic predictions become what ``panopticapi.evaluation.pq_compute`` reads: a
PNG per image whose pixel id is ``R + 256 G + 256^2 B`` and an annotation JSON
listing each image's segments. Segment ids are colours derived from category
colours as panopticapi's ``IdGenerator`` derives them: the first segment of a
category takes the category colour, later ones a random jitter of it (up to 30
per channel) that no segment of the image uses yet; stuff colours are kept
free for stuff. Instance predictions become the COCO results list that
``COCO.loadRes`` reads, with masks as compressed RLE.

Shapes: N instances, H/W height/width.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from scipy import ndimage

MAX_JITTER = 30
# Panoptic maps are flat regions: without row filters, zlib level 3 gives files
# smaller than OpenCV's default that decode 2.4x and encode 3x faster.
PNG_PARAMS = [cv2.IMWRITE_PNG_COMPRESSION, 3, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]


def id_to_rgb(id_map: np.ndarray) -> np.ndarray:
    """Encode an (H, W) id map as (H, W, 3) uint8 RGB with ``id = R + 256 G + 256^2 B``."""
    ids = np.asarray(id_map).astype(np.uint32)
    return ids[..., None].view(np.uint8).reshape(*ids.shape, 4)[..., :3].copy()


class SegmentColorGenerator:
    """Unique segment colours (hence ids) near category colours, for one image.

    Args:
        categories: COCO panoptic category dicts with ``id``, ``isthing`` and ``color``.
        rng: source of the jitter; a fixed seed gives reproducible files.
    """

    def __init__(self, categories: Sequence[Mapping[str, Any]], rng: np.random.Generator) -> None:
        self.categories = {int(c["id"]): c for c in categories}
        self.rng = rng
        self.taken: set[tuple[int, int, int]] = {(0, 0, 0)}
        self.stuff_used: set[int] = set()
        for category in self.categories.values():
            if not category["isthing"]:
                self.taken.add(self._base(category))

    @staticmethod
    def _base(category: Mapping[str, Any]) -> tuple[int, int, int]:
        r, g, b = (int(v) for v in category["color"])
        return r, g, b

    def color(self, category_id: int) -> tuple[int, int, int]:
        """A colour for a new segment of ``category_id``, never returned before.

        Raises:
            KeyError: the category id is unknown.
        """
        if category_id not in self.categories:
            raise KeyError(f"unknown category_id {category_id}")
        category = self.categories[category_id]
        base = self._base(category)
        if not category["isthing"] and category_id not in self.stuff_used:
            self.stuff_used.add(category_id)
            return base
        if category["isthing"] and base not in self.taken:
            self.taken.add(base)
            return base
        while True:
            jitter = self.rng.integers(-MAX_JITTER, MAX_JITTER + 1, size=3)
            r, g, b = (int(v) for v in np.clip(np.array(base) + jitter, 0, 255))
            if (r, g, b) not in self.taken:
                self.taken.add((r, g, b))
                return r, g, b

    def segment_id(self, category_id: int) -> int:
        """The id ``R + 256 G + 256^2 B`` of a new colour for ``category_id``."""
        r, g, b = self.color(category_id)
        return r + 256 * g + 256 * 256 * b


def _boxes_xywh(labels: np.ndarray, num_labels: int) -> list[list[int]]:
    """Tight (x, y, w, h) box of each label ``0..num_labels-1`` of an (H, W) label map."""
    boxes = []
    for found in ndimage.find_objects(labels + 1, max_label=num_labels):
        if found is None:
            boxes.append([0, 0, 0, 0])
            continue
        rows, cols = found
        boxes.append([cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start])
    return boxes


def encode_panoptic(
    id_map: np.ndarray,
    segments: Sequence[Mapping[str, Any]],
    colors: SegmentColorGenerator,
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Recolour one predicted panoptic map for a COCO panoptic PNG.

    Args:
        id_map: (H, W) integer segment ids, 0 = VOID.
        segments: segment dicts with ``id`` and ``category_id`` (``score``,
            ``instance_id`` kept when present). Segments absent from the map
            are dropped, since panopticapi rejects them.
        colors: the colour source of this image.

    Returns:
        The (H, W, 3) uint8 RGB picture and the COCO ``segments_info`` list
        (``id``, ``category_id``, ``iscrowd``, ``area``, ``bbox`` and the kept keys).

    Raises:
        ValueError: the map holds an id that no segment lists.
    """
    id_map = np.asarray(id_map)
    listed = np.array([int(s["id"]) for s in segments], dtype=np.int64)
    present, inverse, areas = np.unique(id_map, return_inverse=True, return_counts=True)
    unlisted = present[(present != 0) & ~np.isin(present, listed)]
    if unlisted.size:
        raise ValueError(f"the panoptic map holds ids {unlisted.tolist()} that no segment lists")
    new_ids = np.zeros(present.size, dtype=np.uint32)
    area_of = dict(zip(present.tolist(), areas.tolist()))
    position_of = {int(v): k for k, v in enumerate(present.tolist())}
    inverse = inverse.reshape(id_map.shape)
    boxes = _boxes_xywh(inverse, present.size)
    segments_info = []
    for segment in segments:
        old_id = int(segment["id"])
        if old_id == 0 or old_id not in area_of:
            continue
        new_id = colors.segment_id(int(segment["category_id"]))
        position = position_of[old_id]
        new_ids[position] = new_id
        info = {
            "id": new_id,
            "category_id": int(segment["category_id"]),
            "iscrowd": 0,
            "area": int(area_of[old_id]),
            "bbox": boxes[position],
        }
        for key in ("score", "instance_id", "isthing"):
            if key in segment:
                info[key] = segment[key].item() if hasattr(segment[key], "item") else segment[key]
        segments_info.append(info)
    return id_to_rgb(new_ids[inverse]), segments_info


class CocoPanopticWriter:
    """Collects panoptic predictions as COCO panoptic PNGs plus one JSON.

    Files: ``<out_dir>/<png_dir_name>/<name>.png`` and ``<out_dir>/<png_dir_name>.json``,
    the pair that ``pq_compute(gt_json, pred_json, gt_dir, pred_dir)`` reads.

    Args:
        out_dir: output folder (created).
        categories: COCO panoptic category dicts with ``id``, ``isthing``, ``color``.
        png_dir_name: name of the PNG folder and stem of the JSON.
        seed: seed of the colour jitter.
    """

    def __init__(
        self,
        out_dir: str | Path,
        categories: Sequence[Mapping[str, Any]],
        png_dir_name: str = "panoptic_pred",
        seed: int = 0,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.png_dir = self.out_dir / png_dir_name
        self.json_path = self.out_dir / f"{png_dir_name}.json"
        self.png_dir.mkdir(parents=True, exist_ok=True)
        self.categories = [dict(c) for c in categories]
        self.rng = np.random.default_rng(seed)
        self.annotations: list[dict[str, Any]] = []

    def add(
        self,
        image_id: int,
        id_map: np.ndarray,
        segments: Sequence[Mapping[str, Any]],
        file_name: str | None = None,
    ) -> dict[str, Any]:
        """Write one image's PNG and keep its annotation.

        Args:
            image_id: COCO image id.
            id_map: (H, W) predicted ids at the original image size.
            segments: its segment dicts (``id``, ``category_id``, ...).
            file_name: the image's file name; the PNG takes its stem (default:
                the id on 12 digits, as COCO names files).

        Returns:
            The annotation written to the JSON.
        """
        stem = Path(file_name).stem if file_name else f"{int(image_id):012d}"
        colors = SegmentColorGenerator(self.categories, self.rng)
        rgb, segments_info = encode_panoptic(id_map, segments, colors)
        png_name = f"{stem}.png"
        path = self.png_dir / png_name
        if not cv2.imwrite(str(path), rgb[..., ::-1], PNG_PARAMS):
            raise OSError(f"cannot write panoptic PNG: {path}")
        annotation = {"image_id": image_id, "file_name": png_name, "segments_info": segments_info}
        self.annotations.append(annotation)
        return annotation

    def write_json(self) -> Path:
        """Write the annotation JSON (``annotations`` and ``categories``); returns its path."""
        with open(self.json_path, "w") as f:
            json.dump({"annotations": self.annotations, "categories": self.categories}, f)
        return self.json_path


def encode_masks_rle(masks: np.ndarray) -> list[dict[str, Any]]:
    """Compressed COCO RLE of (N, H, W) bool masks, ``counts`` as str for JSON."""
    masks = np.asarray(masks, dtype=bool)
    if masks.shape[0] == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    for rle in rles:
        rle["counts"] = rle["counts"].decode("ascii")
    return rles


def instances_to_coco(
    image_id: int,
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    label2cat: Mapping[int, int],
    masks: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """COCO result dicts for one image's instances.

    Args:
        image_id: COCO image id.
        boxes: (N, 4) absolute x1y1x2y2 pixels at the original size.
        scores: (N,) confidences.
        labels: (N,) contiguous thing labels.
        label2cat: contiguous label -> dataset category id.
        masks: (N, H, W) bool at the original size, or None for boxes only.

    Returns:
        One dict per instance: ``image_id``, ``category_id``, ``bbox`` (x, y, w, h),
        ``score`` and, with masks, ``segmentation`` (RLE) and ``area``.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    rles = encode_masks_rle(masks) if masks is not None else [None] * len(boxes)
    results = []
    for box, score, label, rle in zip(boxes, np.asarray(scores), np.asarray(labels), rles):
        x1, y1, x2, y2 = (float(v) for v in box)
        result: dict[str, Any] = {
            "image_id": image_id,
            "category_id": int(label2cat[int(label)]),
            "bbox": [x1, y1, x2 - x1, y2 - y1],
            "score": float(score),
        }
        if rle is not None:
            result["segmentation"] = rle
            result["area"] = float(mask_utils.area(rle | {"counts": rle["counts"].encode()}))
        results.append(result)
    return results


class CocoInstanceWriter:
    """Collects instance predictions into a COCO results JSON (``COCO.loadRes`` input).

    Args:
        json_path: the file to write.
        label2cat: contiguous thing label -> dataset category id.
    """

    def __init__(self, json_path: str | Path, label2cat: Mapping[int, int]) -> None:
        self.json_path = Path(json_path)
        self.label2cat = {int(k): int(v) for k, v in label2cat.items()}
        self.results: list[dict[str, Any]] = []

    def add(
        self,
        image_id: int,
        boxes: np.ndarray,
        scores: np.ndarray,
        labels: np.ndarray,
        masks: np.ndarray | None = None,
    ) -> list[dict[str, Any]]:
        """Keep one image's instances (see :func:`instances_to_coco`); returns them."""
        results = instances_to_coco(image_id, boxes, scores, labels, self.label2cat, masks)
        self.results.extend(results)
        return results

    def write_json(self) -> Path:
        """Write the results list; returns its path."""
        self.json_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.json_path, "w") as f:
            json.dump(self.results, f)
        return self.json_path
