"""COCO writers: panoptic PNG + JSON that panopticapi reads back, instance results as RLE."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_utils
import pytest
from panopticapi.utils import rgb2id
from PIL import Image

from panoptic.evaluation.coco_writers import (
    CocoInstanceWriter,
    CocoPanopticWriter,
    SegmentColorGenerator,
    id_to_rgb,
    instances_to_coco,
)

CATS = [
    {"id": 1, "name": "person", "isthing": 1, "color": [220, 20, 60]},
    {"id": 2, "name": "car", "isthing": 1, "color": [0, 0, 142]},
    {"id": 10, "name": "sky", "isthing": 0, "color": [70, 130, 180]},
]


def test_color_generator_follows_category_colors():
    colors = SegmentColorGenerator(CATS, np.random.default_rng(0))
    assert colors.color(1) == (220, 20, 60)  # first segment: the category colour
    jittered = [colors.color(1) for _ in range(50)]
    assert len(set(jittered)) == 50 and (220, 20, 60) not in jittered
    assert all(max(abs(a - b) for a, b in zip(c, (220, 20, 60))) <= 30 for c in jittered)
    assert colors.color(10) == (70, 130, 180)
    assert colors.color(10) != (70, 130, 180)  # a second sky segment stays distinct
    assert colors.segment_id(2) == 0 + 256 * 0 + 256 * 256 * 142
    with pytest.raises(KeyError, match="unknown category_id 5"):
        colors.color(5)


def test_panoptic_writer_round_trip_through_panopticapi_decoding(tmp_path: Path):
    id_map = np.zeros((20, 30), np.int32)
    id_map[2:8, 3:10] = 4
    id_map[10:18, 0:30] = 9
    id_map[0:5, 20:25] = 11
    segments = [
        {"id": 4, "category_id": 1, "score": np.float32(0.75)},
        {"id": 9, "category_id": 10},
        {"id": 11, "category_id": 1},
        {"id": 12, "category_id": 2},  # absent from the map: dropped
    ]
    writer = CocoPanopticWriter(tmp_path, CATS, "pred")
    annotation = writer.add(7, id_map, segments, "img/000000000007.jpg")
    json_path = writer.write_json()
    assert annotation["file_name"] == "000000000007.png"
    decoded = rgb2id(np.array(Image.open(writer.png_dir / "000000000007.png"), dtype=np.uint32))
    infos = {s["id"]: s for s in annotation["segments_info"]}
    assert len(infos) == 3 and set(np.unique(decoded).tolist()) == {0, *infos}
    for old_id, info in zip((4, 9, 11), annotation["segments_info"]):
        assert np.array_equal(decoded == info["id"], id_map == old_id)
        assert info["area"] == int((id_map == old_id).sum())
    assert annotation["segments_info"][0]["bbox"] == [3, 2, 7, 6]
    assert annotation["segments_info"][0]["score"] == pytest.approx(0.75)
    assert annotation["segments_info"][0]["id"] == 220 + 256 * 20 + 256 * 256 * 60
    saved = json.loads(json_path.read_text())
    assert saved["annotations"][0]["image_id"] == 7 and len(saved["categories"]) == 3
    with pytest.raises(ValueError, match=r"holds ids \[5\]"):
        writer.add(8, np.full((3, 3), 5), segments)


def test_id_to_rgb_encoding():
    ids = np.array([[0, 1, 256, 65536 + 2]])
    assert id_to_rgb(ids).tolist() == [[[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 1]]]


def test_instance_results_decode_to_the_masks(tmp_path: Path):
    masks = np.zeros((2, 6, 8), dtype=bool)
    masks[0, 1:4, 2:5] = True
    masks[1, 0:6, 7] = True
    results = instances_to_coco(
        3,
        np.array([[2, 1, 5, 4], [7, 0, 8, 6]]),
        np.array([0.9, 0.2]),
        np.array([1, 0]),
        {0: 5, 1: 9},
        masks,
    )
    assert [r["category_id"] for r in results] == [9, 5]
    assert results[0]["bbox"] == [2.0, 1.0, 3.0, 3.0] and results[1]["area"] == 6.0
    for result, mask in zip(results, masks):
        rle = {**result["segmentation"], "counts": result["segmentation"]["counts"].encode()}
        assert np.array_equal(mask_utils.decode(rle).astype(bool), mask)
    writer = CocoInstanceWriter(tmp_path / "res.json", {0: 5, 1: 9})
    writer.add(3, np.zeros((0, 4)), np.zeros(0), np.zeros(0), np.zeros((0, 6, 8), bool))
    writer.add(4, np.array([[0, 0, 2, 2]]), np.array([0.5]), np.array([0]))
    assert json.loads(writer.write_json().read_text()) == [
        {"image_id": 4, "category_id": 5, "bbox": [0.0, 0.0, 2.0, 2.0], "score": 0.5}
    ]
