"""``RandomFlip``: horizontal or vertical flip of the image and every target."""

from __future__ import annotations

from typing import Any

import numpy as np

from panoptic.data.transforms.geometry import refresh_instances
from panoptic.data.transforms.panoptic_transform import PanopticTransform
from panoptic.registry import TRANSFORMS

MAP_KEYS = ("gt_masks", "gt_sem_seg", "gt_pan_id_map")


@TRANSFORMS.register_module()
class RandomFlip(PanopticTransform):
    """Flip with probability ``prob``; one draw per image or clip.

    Args:
        prob: flip probability.
        direction: ``"horizontal"`` or ``"vertical"``.
    """

    def __init__(self, prob: float = 0.5, direction: str = "horizontal") -> None:
        if direction not in ("horizontal", "vertical"):
            raise ValueError(f"direction must be 'horizontal' or 'vertical', got '{direction}'")
        self.prob = prob
        self.direction = direction

    def sample_params(self, results: dict[str, Any]) -> bool:
        return bool(np.random.rand() < self.prob)

    def apply(self, results: dict[str, Any], params: bool) -> dict[str, Any]:
        results["flip"] = params
        results["flip_direction"] = self.direction if params else None
        if not params:
            return results
        img_axis = 1 if self.direction == "horizontal" else 0
        results["img"] = np.ascontiguousarray(np.flip(results["img"], axis=img_axis))
        shape = results["img"].shape[:2]
        for key in MAP_KEYS:
            if key in results:
                if results[key].shape[-2:] != shape:
                    raise ValueError(f"RandomFlip: {key} is {results[key].shape}, image {shape}")
                axis = -1 if self.direction == "horizontal" else -2
                results[key] = np.ascontiguousarray(np.flip(results[key], axis=axis))
        refresh_instances(results)
        return results
