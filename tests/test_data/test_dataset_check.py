"""The dataset validator catches each defect on a small corrupted copy."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from panoptic.data.dataset_check import check_panoptic_dataset
from panoptic.data.panoptic_io import read_panoptic_png, write_panoptic_png
from panoptic.data.synthetic import SyntheticConfig, write_image_split, write_video_split

CONFIG = SyntheticConfig(img_size=(48, 48), num_things=(2, 3), num_frames=4, crowd_prob=0.0)


@pytest.fixture(scope="module")
def clean_split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean")
    write_image_split(root, CONFIG, seed=0, num_images=3, split="val", progress=False)
    write_video_split(root, CONFIG, seed=0, num_videos=2, split="val", progress=False)
    return root


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def first_thing(data: dict) -> dict:
    return next(s for s in data["annotations"][0]["segments_info"] if s["id"] >= 1000)


def png_extra_id(data: dict, root: Path) -> None:
    png = root / "panoptic" / "val" / data["annotations"][0]["file_name"]
    id_map = read_panoptic_png(png)
    id_map[:3, :3] = 4242
    write_panoptic_png(png, id_map)


def json_extra_segment(data: dict, root: Path) -> None:
    data["annotations"][0]["segments_info"].append(
        dict(id=4099, category_id=4, iscrowd=0, area=5, bbox=[0, 0, 1, 1])
    )


def unknown_category(data: dict, root: Path) -> None:
    first_thing(data)["category_id"] = 99


def missing_isthing(data: dict, root: Path) -> None:
    del data["categories"][1]["isthing"]


def wrong_area(data: dict, root: Path) -> None:
    first_thing(data)["area"] += 3


def duplicate_segment(data: dict, root: Path) -> None:
    segments = data["annotations"][0]["segments_info"]
    segments.append(dict(segments[0]))


def duplicate_image_id(data: dict, root: Path) -> None:
    data["images"][1]["id"] = data["images"][0]["id"]


def empty_segments(data: dict, root: Path) -> None:
    data["annotations"][2]["segments_info"] = []


def image_without_annotation(data: dict, root: Path) -> None:
    del data["annotations"][1]


def missing_png(data: dict, root: Path) -> None:
    (root / "panoptic" / "val" / data["annotations"][0]["file_name"]).unlink()


def segment_without_category(data: dict, root: Path) -> None:
    del first_thing(data)["category_id"]


def broken_image(data: dict, root: Path) -> None:
    (root / "images" / "val" / data["images"][0]["file_name"]).write_bytes(b"garbage")


CORRUPTIONS: list[tuple[Callable[[dict, Path], None], str]] = [
    (png_extra_id, "png_id_not_in_json"),
    (json_extra_segment, "json_id_not_in_png"),
    (unknown_category, "unknown_category"),
    (missing_isthing, "missing_isthing"),
    (wrong_area, "area_mismatch"),
    (duplicate_segment, "duplicate_segment_id"),
    (duplicate_image_id, "duplicate_image_id"),
    (empty_segments, "empty_image"),
    (image_without_annotation, "empty_image"),
    (missing_png, "bad_png"),
    (broken_image, "bad_image"),
    (segment_without_category, "json_structure"),
]


def test_clean_split_passes(clean_split: Path) -> None:
    report = check_panoptic_dataset(
        clean_split / "annotations" / "panoptic_val.json",
        clean_split / "panoptic" / "val",
        clean_split / "images" / "val",
    )
    assert report.issues == [] and report.num_images == 3
    assert "OK" in report.format()


@pytest.mark.parametrize(("corrupt", "kind"), CORRUPTIONS, ids=[c.__name__ for c, _ in CORRUPTIONS])
def test_each_defect_is_reported(
    clean_split: Path, tmp_path: Path, corrupt: Callable[[dict, Path], None], kind: str
) -> None:
    root = copy_tree(clean_split, tmp_path / "copy")
    ann_file = root / "annotations" / "panoptic_val.json"
    data = json.loads(ann_file.read_text())
    corrupt(data, root)
    ann_file.write_text(json.dumps(data))
    report = check_panoptic_dataset(ann_file, root / "panoptic" / "val", root / "images" / "val")
    assert kind in report.kinds()
    assert report.num_errors >= 1
    assert kind in report.format()


@pytest.mark.parametrize(
    ("frame_indices", "message"),
    [([0, 1, 1, 3], "repeated"), ([0, 1, 2, 5], "gaps"), ([0, 2, 1, 3], None)],
)
def test_broken_video_frame_order_is_reported(
    clean_split: Path, tmp_path: Path, frame_indices: list[int], message: str | None
) -> None:
    root = copy_tree(clean_split, tmp_path / "copy")
    ann_file = root / "annotations" / "video_panoptic_val.json"
    data = json.loads(ann_file.read_text())
    for image, t in zip(data["images"][:4], frame_indices):
        image["frame_index"] = t
    ann_file.write_text(json.dumps(data))
    report = check_panoptic_dataset(ann_file, root / "video_panoptic" / "val")
    order = [i for i in report.issues if i.kind == "frame_order"]
    assert order and all(i.where == "video 0" for i in order)
    if message is None:
        assert all(i.severity == "warning" for i in order)
    else:
        assert any(message in i.message and i.severity == "error" for i in order)


def test_real_coco_sample_is_clean(coco_sample_dir: Path) -> None:
    report = check_panoptic_dataset(
        coco_sample_dir / "panoptic_examples.json",
        coco_sample_dir / "panoptic_examples",
        coco_sample_dir / "input_images",
    )
    assert report.num_errors == 0 and report.num_warnings == 0 and report.num_segments == 50
