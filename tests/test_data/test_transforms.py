"""Transforms keep image, masks, boxes, semantic and panoptic maps aligned."""

from __future__ import annotations

import copy
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from panoptic.data import CocoPanopticDataset, PackPanopticInputs, Pad, PhotoMetricDistortion
from panoptic.data.panoptic_io import IGNORE_INDEX
from panoptic.data.transforms import RandomCrop, RandomFlip, Resize
from panoptic.data.transforms.geometry import masks_to_boxes, resize_nearest
from panoptic.data.transforms.resize import target_size
from panoptic.structures.panoptic_data_sample import PanopticDataSample

LOAD = [dict(type="LoadImage"), dict(type="LoadPanopticAnnotations")]


def loaded(coco_sample_dir: Path, idx: int = 0) -> dict:
    dataset = CocoPanopticDataset(
        ann_file="panoptic_examples.json",
        data_root=str(coco_sample_dir),
        data_prefix=dict(img="input_images", seg="panoptic_examples"),
        pipeline=LOAD,
    )
    return dataset[idx]


def assert_consistent(results: dict) -> None:
    """Masks, boxes and the semantic map agree with the panoptic id map pixel for pixel."""
    id_map, sem = results["gt_pan_id_map"], results["gt_sem_seg"]
    assert id_map.shape == sem.shape == results["img"].shape[:2]
    for k, seg_id in enumerate(results["gt_instance_ids"]):
        np.testing.assert_array_equal(results["gt_masks"][k], id_map == seg_id)
        assert results["gt_masks"][k].any()
        assert set(np.unique(sem[id_map == seg_id]).tolist()) == {int(results["gt_labels"][k])}
    np.testing.assert_array_equal(results["gt_boxes"], masks_to_boxes(results["gt_masks"]))
    np.testing.assert_array_equal(sem == IGNORE_INDEX, id_map == 0)
    present = set(np.unique(id_map).tolist()) - {0}
    assert {s["id"] for s in results["gt_segments"]} == present


def test_resize_flip_crop_match_a_direct_reference(coco_sample_dir: Path) -> None:
    raw = loaded(coco_sample_dir)
    results = copy.deepcopy(raw)
    np.random.seed(3)
    _, crop_u, crop_v = np.random.rand(3)
    np.random.seed(3)
    for transform in (
        Resize((300, 200), keep_ratio=True),
        RandomFlip(prob=1.0),
        RandomCrop((150, 120)),
    ):
        results = transform(results)
    assert_consistent(results)
    assert results["flip"] and results["flip_direction"] == "horizontal"

    height, width = target_size(*raw["img"].shape[:2], (300, 200), keep_ratio=True)
    assert (height, width) == (200, 300)
    y0, x0 = int(crop_u * (height - 150 + 1)), int(crop_v * (width - 120 + 1))
    ref_img = cv2.resize(raw["img"], (width, height), interpolation=cv2.INTER_LINEAR)
    ref_img = ref_img[:, ::-1][y0 : y0 + 150, x0 : x0 + 120]
    ref_ids = resize_nearest(raw["gt_pan_id_map"], height, width)[:, ::-1][
        y0 : y0 + 150, x0 : x0 + 120
    ]
    np.testing.assert_array_equal(results["img"], ref_img)
    np.testing.assert_array_equal(results["gt_pan_id_map"], ref_ids)
    assert results["img_shape"] == (150, 120)
    assert results["scale_factor"] == pytest.approx((300 / 640, 200 / 427))
    # Instances that the crop removed are gone, those left keep their ids.
    assert set(results["gt_instance_ids"].tolist()) <= set(raw["gt_instance_ids"].tolist())
    assert len(results["gt_instance_ids"]) < len(raw["gt_instance_ids"])


@pytest.mark.parametrize("direction", ["horizontal", "vertical"])
def test_flip_moves_boxes_with_masks(coco_sample_dir: Path, direction: str) -> None:
    raw = loaded(coco_sample_dir, 1)
    results = RandomFlip(prob=1.0, direction=direction)(copy.deepcopy(raw))
    assert_consistent(results)
    height, width = raw["img"].shape[:2]
    boxes = raw["gt_boxes"].copy()
    if direction == "horizontal":
        boxes[:, [0, 2]] = width - raw["gt_boxes"][:, [2, 0]]
    else:
        boxes[:, [1, 3]] = height - raw["gt_boxes"][:, [3, 1]]
    np.testing.assert_array_equal(results["gt_boxes"], boxes)


def test_fixed_square_resize_with_torch_backend_keeps_gt_at_original_size(
    coco_sample_dir: Path,
) -> None:
    dataset = CocoPanopticDataset(
        ann_file="panoptic_examples.json",
        data_root=str(coco_sample_dir),
        data_prefix=dict(img="input_images", seg="panoptic_examples"),
        pipeline=[
            dict(type="LoadImage"),
            dict(type="Resize", scale=(550, 550), keep_ratio=False, backend="torch"),
            dict(type="LoadPanopticAnnotations"),
            dict(type="PackPanopticInputs"),
        ],
        test_mode=True,
    )
    raw = loaded(coco_sample_dir, 1)
    out = dataset[1]
    sample = out["data_samples"]
    assert out["inputs"].dtype == torch.float32 and out["inputs"].shape == (3, 550, 550)
    # The authors' FastBaseTransform: float (1, H, W, 3) -> contiguous (1, 3, H, W).
    img = torch.from_numpy(raw["img"]).float()[None].permute(0, 3, 1, 2).contiguous()
    expected = F.interpolate(img, (550, 550), mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(out["inputs"], expected, rtol=0, atol=0)
    assert sample.ori_shape == (360, 640) and sample.img_shape == (550, 550)
    np.testing.assert_array_equal(sample.gt_panoptic.id_map.numpy(), raw["gt_pan_id_map"])
    assert sample.gt_instances.masks.shape[-2:] == (360, 640)
    assert sample.gt_panoptic.segments == raw["gt_segments"]


def test_pad_fills_targets_with_their_void_values(coco_sample_dir: Path) -> None:
    raw = loaded(coco_sample_dir)
    results = Pad(size_divisor=32, pad_val=7)(copy.deepcopy(raw))
    assert results["pad_shape"] == (448, 640)
    assert results["img"].shape == (448, 640, 3)
    assert (results["img"][427:] == 7).all()
    assert not results["gt_masks"][:, 427:].any()
    assert (results["gt_sem_seg"][427:] == IGNORE_INDEX).all()
    assert (results["gt_pan_id_map"][427:] == 0).all()
    np.testing.assert_array_equal(results["gt_pan_id_map"][:427], raw["gt_pan_id_map"])


def test_photometric_distortion_changes_colours_only(coco_sample_dir: Path) -> None:
    raw = loaded(coco_sample_dir)
    transform = PhotoMetricDistortion()
    changed = 0
    for seed in range(4):
        np.random.seed(seed)
        results = transform(copy.deepcopy(raw))
        assert results["img"].dtype == np.uint8 and results["img"].shape == raw["img"].shape
        np.testing.assert_array_equal(results["gt_pan_id_map"], raw["gt_pan_id_map"])
        changed += int(not np.array_equal(results["img"], raw["img"]))
    assert changed >= 3


def test_a_clip_gets_one_random_draw(coco_sample_dir: Path) -> None:
    raw = loaded(coco_sample_dir)
    transforms = [
        Resize((320, 240), keep_ratio=True),
        RandomFlip(prob=0.5),
        RandomCrop((200, 200)),
        PhotoMetricDistortion(),
        PackPanopticInputs(),
    ]
    flips = set()
    for seed in range(6):
        np.random.seed(seed)
        clip = dict(frames=[copy.deepcopy(raw), copy.deepcopy(raw)])
        for transform in transforms:
            clip = transform(clip)
        inputs, samples = clip["inputs"], clip["data_samples"]
        assert inputs.shape[:2] == (2, 3) and len(samples) == 2
        assert all(isinstance(s, PanopticDataSample) for s in samples)
        torch.testing.assert_close(inputs[0], inputs[1], rtol=0, atol=0)
        torch.testing.assert_close(samples[0].gt_instances.masks, samples[1].gt_instances.masks)
        flips.add(samples[0].flip)
    assert flips == {True, False}


def test_pack_gives_the_documented_types(coco_sample_dir: Path) -> None:
    out = PackPanopticInputs()(loaded(coco_sample_dir))
    sample = out["data_samples"]
    assert out["inputs"].dtype == torch.uint8 and out["inputs"].shape == (3, 427, 640)
    inst = sample.gt_instances
    assert inst.boxes.dtype == torch.float32 and inst.labels.dtype == torch.int64
    assert inst.masks.dtype == torch.bool and inst.iscrowd.dtype == torch.bool
    assert inst.instance_ids.dtype == torch.int64
    assert sample.gt_sem_seg.data.shape == (1, 427, 640)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert sample.gt_panoptic.id_map.dtype == torch.int32
    for key in ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "pad_shape"):
        assert key in sample.metainfo
    assert sample.video_id == -1 and sample.frame_index == 0
    assert set(sample.gt_panoptic.segments[0]) == {
        "id",
        "category_id",
        "isthing",
        "iscrowd",
        "area",
        "bbox",
    }
