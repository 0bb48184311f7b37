"""``PackPanopticInputs``: arrays to tensors and a ``PanopticDataSample``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from mmengine.structures import BaseDataElement, InstanceData, PixelData

from panoptic.registry import TRANSFORMS
from panoptic.structures.panoptic_data_sample import PanopticDataSample

# Shapes: N instances, T frames, H/W height/width.

META_KEYS = (
    "img_id",
    "img_path",
    "seg_map_path",
    "ori_shape",
    "img_shape",
    "scale_factor",
    "pad_shape",
    "flip",
    "flip_direction",
    "video_id",
    "frame_index",
    "sample_idx",
)


def pack_frame(
    results: dict[str, Any], meta_keys: tuple[str, ...]
) -> tuple[torch.Tensor, PanopticDataSample]:
    """One frame's (3, H, W) input tensor and data sample."""
    img = results["img"]
    inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))  # (3, H, W)
    sample = PanopticDataSample()
    if "gt_masks" in results:
        instances = InstanceData()
        instances.boxes = torch.from_numpy(results["gt_boxes"]).float()
        instances.labels = torch.from_numpy(results["gt_labels"]).long()
        instances.masks = torch.from_numpy(results["gt_masks"]).bool()
        instances.iscrowd = torch.from_numpy(results["gt_iscrowd"]).bool()
        instances.instance_ids = torch.from_numpy(results["gt_instance_ids"]).long()
        sample.gt_instances = instances
    if "gt_sem_seg" in results:
        sem = torch.from_numpy(np.ascontiguousarray(results["gt_sem_seg"])).long()
        sample.gt_sem_seg = PixelData(data=sem[None])  # (1, H, W)
    if "gt_pan_id_map" in results:
        id_map = torch.from_numpy(np.ascontiguousarray(results["gt_pan_id_map"])).int()
        sample.gt_panoptic = BaseDataElement(id_map=id_map, segments=results["gt_segments"])
    metainfo = {k: results[k] for k in meta_keys if k in results}
    metainfo.setdefault("pad_shape", results.get("img_shape", img.shape[:2]))
    for key in ("ori_shape", "img_shape", "pad_shape"):
        if key in metainfo:
            metainfo[key] = tuple(int(v) for v in metainfo[key])
    sample.set_metainfo(metainfo)
    return inputs, sample


@TRANSFORMS.register_module()
class PackPanopticInputs:
    """Pack a frame into ``dict(inputs=(3, H, W), data_samples=PanopticDataSample)``.

    A clip (``frames``) packs into ``inputs`` (T, 3, H, W) and a list of T data
    samples whose metainfo ``clip_pos`` gives their place in the clip (0 = key
    frame). A uint8 image stays uint8; a float32 one (torch resize) stays
    float32; channels stay BGR (the data preprocessor converts).

    Args:
        meta_keys: result keys copied into the data sample's metainfo.
    """

    def __init__(self, meta_keys: tuple[str, ...] = META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: dict[str, Any]) -> dict[str, Any]:
        if "frames" in results:
            packed = [pack_frame(frame, self.meta_keys) for frame in results["frames"]]
            for pos, (_, sample) in enumerate(packed):
                sample.set_metainfo(dict(clip_pos=pos))
            inputs = torch.stack([p[0] for p in packed])  # (T, 3, H, W)
            return dict(inputs=inputs, data_samples=[p[1] for p in packed])
        inputs, sample = pack_frame(results, self.meta_keys)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f"PackPanopticInputs(meta_keys={self.meta_keys})"
