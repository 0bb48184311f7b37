"""Loading transforms: the image, and the panoptic annotation with its targets."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from panoptic.data.panoptic_io import IGNORE_INDEX, VOID_ID, read_image, read_panoptic_png
from panoptic.data.transforms.geometry import masks_to_boxes
from panoptic.data.transforms.panoptic_transform import PanopticTransform
from panoptic.registry import TRANSFORMS

# Shapes: N instances, T frames, H/W height/width.

SEGMENT_KEYS = ("id", "category_id", "isthing", "iscrowd", "area", "bbox")


class BadSampleWarning(UserWarning):
    """A broken sample that a non-strict loader skipped or repaired."""


def _fail(transform: Any, message: str, error: type[Exception]) -> None:
    """Raise (strict) or count and warn (non-strict)."""
    if transform.strict:
        raise error(message)
    transform.num_warnings += 1
    warnings.warn(message, BadSampleWarning, stacklevel=3)


@TRANSFORMS.register_module()
class LoadImage(PanopticTransform):
    """Read ``img_path`` as (H, W, 3) uint8 BGR unless ``img`` is already present.

    Sets ``img``, ``img_shape``, ``ori_shape`` (h, w), ``scale_factor`` (1, 1) and
    ``flip`` (False).

    Args:
        strict: raise on an unreadable image (naming the file); when False,
            warn, count it in ``num_warnings`` and drop the item (training
            then draws another one).
    """

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self.num_warnings = 0

    def apply(self, results: dict[str, Any], params: None) -> dict[str, Any] | None:
        if "img" not in results:
            try:
                results["img"] = read_image(results["img_path"])
            except (FileNotFoundError, ValueError) as err:
                _fail(self, str(err), type(err))
                return None
        img = results["img"]
        results["img_shape"] = img.shape[:2]
        results["ori_shape"] = img.shape[:2]
        results.setdefault("scale_factor", (1.0, 1.0))
        results.setdefault("flip", False)
        results.setdefault("flip_direction", None)
        return results


@TRANSFORMS.register_module()
class LoadPanopticAnnotations(PanopticTransform):
    """Read the panoptic PNG and build every target from it and ``segments_info``.

    Adds ``gt_pan_id_map`` (H, W) int32, ``gt_segments`` (COCO segment dicts),
    ``gt_sem_seg`` (H, W) int64 (things first, then stuff, VOID 255) and the
    instance targets of thing segments (crowd included): ``gt_masks`` (N, H, W)
    bool, ``gt_boxes`` (N, 4) float32 x1y1x2y2, ``gt_labels`` (N,) int64,
    ``gt_iscrowd`` (N,) bool, ``gt_instance_ids`` (N,) int64 segment ids.
    ``pan_id_map`` in the data info (synthetic data) replaces reading the PNG.

    Args:
        strict: raise on a missing/corrupt PNG, a JSON segment absent from the
            PNG or a PNG id absent from the JSON. When False: warn and count in
            ``num_warnings``; a missing PNG drops the item, absent segments are
            dropped and unknown PNG ids become VOID.
    """

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self.num_warnings = 0

    def apply(self, results: dict[str, Any], params: None) -> dict[str, Any] | None:
        path = str(results.get("seg_map_path", "<no seg_map_path>"))
        if "pan_id_map" in results:
            id_map = results.pop("pan_id_map").astype(np.int32)
        else:
            try:
                id_map = read_panoptic_png(path)
            except (FileNotFoundError, ValueError) as err:
                _fail(self, str(err), type(err))
                return None
        expected = (results.get("height"), results.get("width"))
        if None not in expected and id_map.shape != expected:
            _fail(self, f"{path}: PNG is {id_map.shape}, the JSON says {expected}", ValueError)
            return None
        segments = list(results["segments_info"])
        uniq, inverse = np.unique(id_map, return_inverse=True)
        inverse = inverse.reshape(id_map.shape)
        png_ids = set(uniq.tolist()) - {VOID_ID}
        json_ids = {s["id"] for s in segments}
        missing = sorted(json_ids - png_ids)
        if missing:
            _fail(self, f"{path}: JSON segment ids {missing} do not occur in the PNG", ValueError)
            segments = [s for s in segments if s["id"] not in missing]
        unknown = sorted(png_ids - json_ids)
        if unknown:
            _fail(self, f"{path}: PNG ids {unknown} are not in the JSON segments_info", ValueError)

        label_of = {s["id"]: s["label"] for s in segments}
        uniq_labels = np.array([label_of.get(i, IGNORE_INDEX) for i in uniq.tolist()], np.int64)
        results["gt_sem_seg"] = uniq_labels[inverse]
        known = np.array([i in label_of for i in uniq.tolist()])
        results["gt_pan_id_map"] = np.where(known[inverse], id_map, VOID_ID).astype(np.int32)
        results["gt_segments"] = [{k: s[k] for k in SEGMENT_KEYS} for s in segments]

        things = [s for s in segments if s["isthing"]]
        position = {i: k for k, i in enumerate(uniq.tolist())}
        thing_pos = np.array([position[s["id"]] for s in things], np.int64)
        masks = inverse[None] == thing_pos[:, None, None]  # (N, H, W)
        results["gt_masks"] = masks
        results["gt_boxes"] = masks_to_boxes(masks)
        results["gt_labels"] = np.array([s["label"] for s in things], np.int64)
        results["gt_iscrowd"] = np.array([bool(s["iscrowd"]) for s in things], bool)
        results["gt_instance_ids"] = np.array([s["id"] for s in things], np.int64)
        return results
