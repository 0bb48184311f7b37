"""PanopticDataSample: typed fields with the same names on the gt and pred sides."""

from __future__ import annotations

import pytest
import torch
from mmengine.structures import BaseDataElement, InstanceData, PixelData

from panoptic.structures import PanopticDataSample


def test_fields_round_trip_and_type_checks() -> None:
    meta = dict(img_id=7, ori_shape=(4, 5), video_id=1, frame_index=2)
    sample = PanopticDataSample(metainfo=meta)
    sample.gt_instances = InstanceData(
        boxes=torch.tensor([[0.0, 0.0, 2.0, 3.0]]),
        labels=torch.tensor([1]),
        masks=torch.zeros(1, 4, 5, dtype=torch.bool),
    )
    sample.gt_sem_seg = PixelData(data=torch.zeros(1, 4, 5, dtype=torch.long))
    id_map = torch.zeros(4, 5, dtype=torch.int32)
    sample.pred_panoptic = BaseDataElement(id_map=id_map, segments=[])
    assert sample.img_id == 7 and sample.frame_index == 2
    assert sample.gt_instances.boxes.shape == (1, 4)
    assert sample.pred_panoptic.id_map is id_map
    with pytest.raises(TypeError, match="gt_instances must be a InstanceData"):
        sample.gt_instances = PixelData(data=torch.zeros(1, 2, 2))
    with pytest.raises(TypeError, match="gt_sem_seg"):
        sample.gt_sem_seg = InstanceData()
    del sample.pred_panoptic
    assert "pred_panoptic" not in sample


def test_to_dict_keeps_field_names() -> None:
    sample = PanopticDataSample()
    sample.pred_instances = InstanceData(scores=torch.tensor([0.5]))
    as_dict = sample.to_dict()
    assert "pred_instances" in as_dict
    assert torch.equal(as_dict["pred_instances"]["scores"], torch.tensor([0.5]))
