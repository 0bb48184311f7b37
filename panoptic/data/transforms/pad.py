"""``Pad``: pad the image (and targets at its size) at the bottom and right."""

from __future__ import annotations

from typing import Any

import numpy as np

from panoptic.data.panoptic_io import IGNORE_INDEX, VOID_ID
from panoptic.data.transforms.panoptic_transform import PanopticTransform
from panoptic.registry import TRANSFORMS


@TRANSFORMS.register_module()
class Pad(PanopticTransform):
    """Pad to a fixed size or to a multiple of ``size_divisor``.

    Masks pad with False, the semantic map with ``seg_pad_val`` and the id map
    with VOID; targets whose size differs from the image's are left alone.

    Args:
        size: (h, w) to pad to, or None.
        size_divisor: pad both sides up to a multiple of it, or None.
        pad_val: image fill value.
        seg_pad_val: semantic map fill value.
    """

    def __init__(
        self,
        size: tuple[int, int] | None = None,
        size_divisor: int | None = None,
        pad_val: float = 0,
        seg_pad_val: int = IGNORE_INDEX,
    ) -> None:
        if (size is None) == (size_divisor is None):
            raise ValueError("Pad needs exactly one of size and size_divisor")
        self.size = None if size is None else tuple(size)
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def apply(self, results: dict[str, Any], params: None) -> dict[str, Any]:
        img = results["img"]
        height, width = img.shape[:2]
        if self.size is not None:
            out_h, out_w = max(self.size[0], height), max(self.size[1], width)
        else:
            div = self.size_divisor
            out_h, out_w = -(-height // div) * div, -(-width // div) * div
        pad_hw = ((0, out_h - height), (0, out_w - width))
        results["img"] = np.pad(img, (*pad_hw, (0, 0)), constant_values=self.pad_val)
        fills = dict(gt_masks=False, gt_sem_seg=self.seg_pad_val, gt_pan_id_map=VOID_ID)
        for key, fill in fills.items():
            if key in results and results[key].shape[-2:] == (height, width):
                lead = ((0, 0),) * (results[key].ndim - 2)
                results[key] = np.pad(results[key], (*lead, *pad_hw), constant_values=fill)
        results["pad_shape"] = (out_h, out_w)
        return results
