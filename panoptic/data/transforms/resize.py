"""``Resize``: to a fixed size or keeping the aspect ratio."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from panoptic.data.transforms.geometry import refresh_instances, resize_nearest
from panoptic.data.transforms.panoptic_transform import PanopticTransform
from panoptic.registry import TRANSFORMS

# Shapes: N instances, T frames, H/W height/width.

MAP_KEYS = ("gt_masks", "gt_sem_seg", "gt_pan_id_map")


def target_size(
    height: int, width: int, scale: tuple[int, int], keep_ratio: bool
) -> tuple[int, int]:
    """Output (height, width) for an image and a (w, h) scale.

    With ``keep_ratio`` the image is scaled as large as possible while its long
    side stays within ``max(scale)`` and its short side within ``min(scale)``.
    """
    if not keep_ratio:
        return scale[1], scale[0]
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


def resize_image_torch(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize (align_corners=False) in float32, as YOLACT does at inference.

    Args:
        img: (H, W, 3) uint8 or float32.

    Returns:
        (height, width, 3) float32.
    """
    tensor = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32))
    tensor = tensor.permute(2, 0, 1)[None].contiguous()  # (1, 3, H, W), as the authors lay it out
    out = F.interpolate(tensor, (height, width), mode="bilinear", align_corners=False)
    return out[0].permute(1, 2, 0).contiguous().numpy()  # (height, width, 3)


@TRANSFORMS.register_module()
class Resize(PanopticTransform):
    """Resize the image; masks and label maps follow with nearest neighbour.

    Annotations whose size differs from the image's before the resize are left
    alone (evaluation pipelines load the ground truth after the resize and keep
    it at the original resolution). Boxes are recomputed from the masks;
    instances that vanish are dropped.

    Args:
        scale: (w, h) target, or an int for a square.
        keep_ratio: keep the aspect ratio (see :func:`target_size`).
        backend: ``"cv2"`` (bilinear, uint8 stays uint8) or ``"torch"``
            (float32 ``F.interpolate`` bilinear, align_corners=False; the image
            stays float32 from here on).
    """

    def __init__(
        self, scale: int | tuple[int, int], keep_ratio: bool = True, backend: str = "cv2"
    ) -> None:
        if backend not in ("cv2", "torch"):
            raise ValueError(f"Resize backend must be 'cv2' or 'torch', got '{backend}'")
        self.scale = (scale, scale) if isinstance(scale, int) else (int(scale[0]), int(scale[1]))
        self.keep_ratio = keep_ratio
        self.backend = backend

    def apply(self, results: dict[str, Any], params: None) -> dict[str, Any]:
        img = results["img"]
        old_shape = img.shape[:2]
        height, width = target_size(old_shape[0], old_shape[1], self.scale, self.keep_ratio)
        if self.backend == "torch":
            results["img"] = resize_image_torch(img, height, width)
        else:
            results["img"] = cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)
        for key in MAP_KEYS:
            if key in results and results[key].shape[-2:] == old_shape:
                results[key] = resize_nearest(results[key], height, width)
        if "gt_masks" in results and results["gt_masks"].shape[-2:] == (height, width):
            refresh_instances(results)
        sx, sy = results.get("scale_factor", (1.0, 1.0))
        results["scale_factor"] = (sx * width / old_shape[1], sy * height / old_shape[0])
        results["img_shape"] = (height, width)
        return results
