"""``RandomCrop``: a random window; instances and segments that vanish are dropped."""

from __future__ import annotations

from typing import Any

import numpy as np

from panoptic.data.transforms.geometry import refresh_instances
from panoptic.data.transforms.panoptic_transform import PanopticTransform
from panoptic.registry import TRANSFORMS

MAP_KEYS = ("gt_masks", "gt_sem_seg", "gt_pan_id_map")


@TRANSFORMS.register_module()
class RandomCrop(PanopticTransform):
    """Crop a (h, w) window at a random place (the whole side when smaller).

    One draw per clip: every frame is cropped at the same place. Boxes are
    recomputed from the cropped masks.

    Args:
        crop_size: (h, w) of the window in pixels.
    """

    def __init__(self, crop_size: tuple[int, int]) -> None:
        self.crop_size = tuple(crop_size)

    def sample_params(self, results: dict[str, Any]) -> tuple[float, float]:
        return float(np.random.rand()), float(np.random.rand())

    def apply(self, results: dict[str, Any], params: tuple[float, float]) -> dict[str, Any]:
        height, width = results["img"].shape[:2]
        crop_h, crop_w = min(self.crop_size[0], height), min(self.crop_size[1], width)
        y0 = int(params[0] * (height - crop_h + 1))
        x0 = int(params[1] * (width - crop_w + 1))
        results["img"] = np.ascontiguousarray(results["img"][y0 : y0 + crop_h, x0 : x0 + crop_w])
        for key in MAP_KEYS:
            if key in results:
                if results[key].shape[-2:] != (height, width):
                    raise ValueError(
                        f"RandomCrop: {key} is {results[key].shape}, image {(height, width)}"
                    )
                window = results[key][..., y0 : y0 + crop_h, x0 : x0 + crop_w]
                results[key] = np.ascontiguousarray(window)
        refresh_instances(results)
        results["img_shape"] = (crop_h, crop_w)
        return results
