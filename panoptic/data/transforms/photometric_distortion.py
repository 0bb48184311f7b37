"""``PhotoMetricDistortion``: random brightness, contrast, saturation and hue."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from panoptic.data.transforms.panoptic_transform import PanopticTransform
from panoptic.registry import TRANSFORMS


@TRANSFORMS.register_module()
class PhotoMetricDistortion(PanopticTransform):
    """Colour jitter on the BGR image, each change applied with probability 0.5.

    One draw per clip. A uint8 image stays uint8 (rounded and clipped).

    Args:
        brightness_delta: largest added brightness.
        contrast_range: (low, high) contrast factor.
        saturation_range: (low, high) saturation factor.
        hue_delta: largest hue shift in degrees.
    """

    def __init__(
        self,
        brightness_delta: float = 32.0,
        contrast_range: tuple[float, float] = (0.5, 1.5),
        saturation_range: tuple[float, float] = (0.5, 1.5),
        hue_delta: float = 18.0,
    ) -> None:
        self.brightness_delta = brightness_delta
        self.contrast_range = (float(contrast_range[0]), float(contrast_range[1]))
        self.saturation_range = (float(saturation_range[0]), float(saturation_range[1]))
        self.hue_delta = hue_delta

    def sample_params(self, results: dict[str, Any]) -> dict[str, float]:
        rand = np.random.rand(4)
        return dict(
            brightness=np.random.uniform(-self.brightness_delta, self.brightness_delta)
            if rand[0] < 0.5
            else 0.0,
            contrast=np.random.uniform(*self.contrast_range) if rand[1] < 0.5 else 1.0,
            saturation=np.random.uniform(*self.saturation_range) if rand[2] < 0.5 else 1.0,
            hue=np.random.uniform(-self.hue_delta, self.hue_delta) if rand[3] < 0.5 else 0.0,
        )

    def apply(self, results: dict[str, Any], params: dict[str, float]) -> dict[str, Any]:
        img = results["img"]
        out = img.astype(np.float32) * params["contrast"] + params["brightness"]
        if params["saturation"] != 1.0 or params["hue"] != 0.0:
            hsv = cv2.cvtColor(np.clip(out, 0, 255) / 255.0, cv2.COLOR_BGR2HSV)
            hsv[..., 0] = (hsv[..., 0] + params["hue"]) % 360.0
            hsv[..., 1] = np.clip(hsv[..., 1] * params["saturation"], 0.0, 1.0)
            out = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR) * 255.0
        if img.dtype == np.uint8:
            out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        results["img"] = out
        return results
