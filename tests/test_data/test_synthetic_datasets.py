"""Synthetic datasets on the fly, their disk round trip and video clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from panoptic.data import (
    CocoPanopticDataset,
    SyntheticPanopticDataset,
    SyntheticVideoDataset,
    VideoPanopticDataset,
)
from panoptic.data.synthetic import SyntheticConfig, write_image_split, write_video_split
from panoptic.registry import DATASETS

LOAD = [dict(type="LoadImage"), dict(type="LoadPanopticAnnotations")]
ARRAY_KEYS = (
    "img",
    "gt_pan_id_map",
    "gt_sem_seg",
    "gt_masks",
    "gt_boxes",
    "gt_labels",
    "gt_iscrowd",
    "gt_instance_ids",
)
VIDEO = dict(num_frames=5, num_things=(2, 4))


def assert_same_item(a: dict, b: dict) -> None:
    for key in ARRAY_KEYS:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert a["gt_segments"] == b["gt_segments"]
    for key in ("img_id", "height", "width", "video_id", "frame_index", "ori_shape"):
        assert a[key] == b[key], key


def test_image_split_round_trips_through_disk(tmp_path: Path) -> None:
    config = SyntheticConfig(img_size=(64, 80))
    ann_file = write_image_split(
        tmp_path, config, seed=5, num_images=4, split="val", progress=False
    )
    from_disk = CocoPanopticDataset(
        ann_file=str(ann_file),
        data_root=str(tmp_path),
        data_prefix=dict(img="images/val", seg="panoptic/val"),
        pipeline=LOAD,
    )
    on_the_fly = SyntheticPanopticDataset(seed=5, num_images=4, img_size=(64, 80), pipeline=LOAD)
    assert len(from_disk) == len(on_the_fly) == 4
    for key in ("categories", "thing_classes", "stuff_classes", "classes", "label2cat"):
        assert from_disk.metainfo[key] == on_the_fly.metainfo[key], key
    assert from_disk.metainfo["classes"] == (
        "circle",
        "square",
        "triangle",
        "star",
        "sky",
        "ground",
        "water",
    )
    for idx in range(4):
        assert_same_item(from_disk[idx], on_the_fly[idx])


def test_video_split_round_trips_in_frame_order(tmp_path: Path) -> None:
    config = SyntheticConfig(img_size=(64, 64), **VIDEO)
    ann_file = write_video_split(
        tmp_path, config, seed=2, num_videos=2, split="val", progress=False
    )
    from_disk = VideoPanopticDataset(
        ann_file=str(ann_file),
        data_root=str(tmp_path),
        data_prefix=dict(img="video_images/val", seg="video_panoptic/val"),
        pipeline=LOAD,
        test_mode=True,
    )
    on_the_fly = SyntheticVideoDataset(
        seed=2, num_videos=2, img_size=64, pipeline=LOAD, test_mode=True, **VIDEO
    )
    assert len(from_disk) == len(on_the_fly) == 10
    order = [(from_disk[i]["video_id"], from_disk[i]["frame_index"]) for i in range(10)]
    assert order == [(v, t) for v in range(2) for t in range(5)]
    assert [v["id"] for v in from_disk.metainfo["videos"]] == [0, 1]
    for idx in range(10):
        assert_same_item(from_disk[idx], on_the_fly[idx])


def test_training_clips_pair_frames_of_one_video(tmp_path: Path) -> None:
    config = SyntheticConfig(img_size=(64, 64), **VIDEO)
    ann_file = write_video_split(tmp_path, config, seed=1, num_videos=2, progress=False)
    pipeline = [*LOAD, dict(type="RandomFlip", prob=0.5), dict(type="PackPanopticInputs")]
    datasets = [
        VideoPanopticDataset(
            ann_file=str(ann_file),
            data_root=str(tmp_path),
            data_prefix=dict(img="video_images/train", seg="video_panoptic/train"),
            pipeline=pipeline,
            ref_range=2,
        ),
        SyntheticVideoDataset(
            seed=1, num_videos=2, img_size=64, pipeline=pipeline, ref_range=2, **VIDEO
        ),
    ]
    for dataset in datasets:
        for idx in range(len(dataset)):
            out = dataset[idx]
            key, ref = out["data_samples"]
            assert out["inputs"].shape == (2, 3, 64, 64)
            assert key.video_id == ref.video_id == idx // 5
            assert key.frame_index == idx % 5
            assert 0 < abs(key.frame_index - ref.frame_index) <= 2
            assert key.flip == ref.flip
            # The same object keeps its id and class in both frames.
            shared = set(key.gt_instances.instance_ids.tolist()) & set(
                ref.gt_instances.instance_ids.tolist()
            )
            for seg_id in shared:
                k = key.gt_instances.instance_ids.tolist().index(seg_id)
                r = ref.gt_instances.instance_ids.tolist().index(seg_id)
                assert key.gt_instances.labels[k] == ref.gt_instances.labels[r]


def test_video_dataset_rejects_images_without_video_keys(coco_sample_dir: Path) -> None:
    with pytest.raises(ValueError, match="lacks 'video_id'"):
        VideoPanopticDataset(
            ann_file="panoptic_examples.json",
            data_root=str(coco_sample_dir),
            data_prefix=dict(img="input_images", seg="panoptic_examples"),
        )


def test_synthetic_dataset_builds_from_config_and_names_bad_keys() -> None:
    dataset = DATASETS.build(
        dict(
            type="SyntheticPanopticDataset",
            seed=0,
            num_images=3,
            img_size=48,
            thing_classes=["circle", "star"],
            num_things=[1, 2],
            pipeline=LOAD,
        )
    )
    assert dataset.metainfo["thing_classes"] == ("circle", "star")
    assert dataset[2]["img"].shape == (48, 48, 3)
    with pytest.raises(TypeError, match="num_thingz"):
        SyntheticPanopticDataset(seed=0, num_images=1, img_size=48, num_thingz=(1, 2))


@pytest.mark.parametrize("name", ["synthetic_panoptic", "synthetic_video"])
def test_dataset_configs_feed_the_preprocessor(name: str) -> None:
    from mmengine.config import Config
    from mmengine.registry import DefaultScope
    from mmengine.runner import Runner

    from panoptic.data import PanopticDataPreprocessor

    cfg = Config.fromfile(Path(__file__).parents[2] / "configs/_base_/datasets" / f"{name}.py")
    for key in ("train_dataloader", "val_dataloader"):
        loader_cfg = cfg[key].to_dict()
        loader_cfg["batch_size"] = 2
        loader_cfg["dataset"]["img_size"] = 64
        with DefaultScope.overwrite_default_scope("panoptic"):
            loader = Runner.build_dataloader(loader_cfg)
        batch = next(iter(loader))
        pre = PanopticDataPreprocessor(
            mean=[123.68, 116.78, 103.94],
            std=[58.4, 57.12, 57.38],
            bgr_to_rgb=True,
            pad_size_divisor=32,
        )
        out = pre(batch, training=key == "train_dataloader")
        clip_len = 2 if (name == "synthetic_video" and key == "train_dataloader") else 1
        assert out["inputs"].shape == (2 * clip_len, 3, 160, 160)  # the pipeline resizes
        assert len(out["data_samples"]) == 2 * clip_len
        if clip_len == 2:
            samples = out["data_samples"]
            assert samples[0].video_id == samples[1].video_id
            assert [s.clip_pos for s in samples] == [0, 1, 0, 1]
