"""``PanopticDataSample``: one image (or video frame) with its targets and predictions.

Fields (``gt_*`` and ``pred_*`` carry the same names on both sides):

- ``gt_instances`` / ``pred_instances`` (:class:`mmengine.structures.InstanceData`):
  ``boxes`` (N, 4) float32 absolute x1y1x2y2 pixels, ``labels`` (N,) int64
  contiguous *thing* labels (0..T-1), ``masks`` (N, H, W) bool, ``scores`` (N,)
  (predictions), ``iscrowd`` (N,) bool (ground truth), ``instance_ids`` (N,)
  int64 track / panoptic-segment ids.
- ``gt_sem_seg`` / ``pred_sem_seg`` (:class:`mmengine.structures.PixelData`):
  ``data`` (1, H, W) int64 contiguous semantic labels, things first
  (0..T-1) then stuff (T..T+S-1); VOID is ``ignore_index`` (255).
- ``gt_panoptic`` / ``pred_panoptic`` (:class:`mmengine.structures.BaseDataElement`):
  ``id_map`` (H, W) int32 segment ids (0 = VOID) and ``segments``, a list of
  dicts in COCO panoptic terms: ``id``, ``category_id`` (dataset category id),
  ``isthing``, ``area``, ``bbox`` (x, y, w, h), plus ``iscrowd`` (ground truth),
  ``score`` (predictions) and ``instance_id`` (track id, videos).
- metainfo: ``img_id``, ``img_path``, ``ori_shape``, ``img_shape``,
  ``scale_factor`` (w, h), ``pad_shape``, ``flip``, ``flip_direction``,
  ``video_id``, ``frame_index``.
"""

from __future__ import annotations

from mmengine.structures import BaseDataElement, InstanceData, PixelData


def _typed_property(name: str, dtype: type) -> property:
    private = "_" + name

    def getter(self: BaseDataElement) -> BaseDataElement:
        return getattr(self, private)

    def setter(self: BaseDataElement, value: BaseDataElement) -> None:
        if not isinstance(value, dtype):
            raise TypeError(f"{name} must be a {dtype.__name__}, got {type(value).__name__}")
        self.set_field(value, private, dtype=dtype)

    def deleter(self: BaseDataElement) -> None:
        delattr(self, private)

    return property(getter, setter, deleter, doc=f"{name} ({dtype.__name__})")


class PanopticDataSample(BaseDataElement):
    """Targets and predictions for one image; see the module docstring for fields."""

    gt_instances = _typed_property("gt_instances", InstanceData)
    pred_instances = _typed_property("pred_instances", InstanceData)
    gt_sem_seg = _typed_property("gt_sem_seg", PixelData)
    pred_sem_seg = _typed_property("pred_sem_seg", PixelData)
    gt_panoptic = _typed_property("gt_panoptic", BaseDataElement)
    pred_panoptic = _typed_property("pred_panoptic", BaseDataElement)
