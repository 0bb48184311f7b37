"""CocoPanopticDataset and the loading transforms on the real two-image COCO sample."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from panoptic.data import CocoPanopticDataset
from panoptic.data.panoptic_io import IGNORE_INDEX, read_panoptic_png, write_panoptic_png
from panoptic.data.transforms.loading import BadSampleWarning

LOAD = [dict(type="LoadImage"), dict(type="LoadPanopticAnnotations")]


def make_dataset(root: Path, pipeline: list | None = None, **kwargs) -> CocoPanopticDataset:
    return CocoPanopticDataset(
        ann_file="panoptic_examples.json",
        data_root=str(root),
        data_prefix=dict(img="input_images", seg="panoptic_examples"),
        pipeline=LOAD if pipeline is None else pipeline,
        **kwargs,
    )


def copy_sample(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_metainfo_comes_from_the_json(coco_sample_dir: Path) -> None:
    dataset = make_dataset(coco_sample_dir)
    cats = json.loads((coco_sample_dir / "panoptic_examples.json").read_text())["categories"]
    meta = dataset.metainfo
    assert [c["id"] for c in meta["categories"]] == [c["id"] for c in cats]
    things = [c for c in cats if c["isthing"]]
    stuff = [c for c in cats if not c["isthing"]]
    assert len(meta["thing_classes"]) == len(things) == 80
    assert len(meta["stuff_classes"]) == len(stuff) == 53
    assert meta["classes"] == tuple(c["name"] for c in things + stuff)
    assert meta["label2cat"][0] == things[0]["id"]
    assert meta["label2cat"][80] == stuff[0]["id"]
    assert all(meta["cat2label"][cat_id] == label for label, cat_id in meta["label2cat"].items())


def test_every_segment_loads_with_its_json_area(coco_sample_dir: Path) -> None:
    data = json.loads((coco_sample_dir / "panoptic_examples.json").read_text())
    cats = {c["id"]: c for c in data["categories"]}
    dataset = make_dataset(coco_sample_dir)
    label2cat = dataset.metainfo["label2cat"]
    assert len(dataset) == len(data["annotations"]) == 2
    for idx, ann in enumerate(data["annotations"]):
        results = dataset[idx]
        assert results["img_id"] == ann["image_id"]
        id_map = results["gt_pan_id_map"]
        sem = results["gt_sem_seg"]
        assert id_map.shape == sem.shape == results["img"].shape[:2]
        assert [s["id"] for s in results["gt_segments"]] == [s["id"] for s in ann["segments_info"]]
        things = [s for s in ann["segments_info"] if cats[s["category_id"]]["isthing"]]
        assert results["gt_instance_ids"].tolist() == [s["id"] for s in things]
        for k, seg in enumerate(things):
            mask = results["gt_masks"][k]
            assert int(mask.sum()) == seg["area"]
            assert bool(results["gt_iscrowd"][k]) == bool(seg["iscrowd"])
            assert label2cat[int(results["gt_labels"][k])] == seg["category_id"]
            x, y, w, h = seg["bbox"]
            assert results["gt_boxes"][k].tolist() == [x, y, x + w, y + h]
        for seg in ann["segments_info"]:
            where = id_map == seg["id"]
            assert int(where.sum()) == seg["area"]
            assert {label2cat[int(v)] for v in np.unique(sem[where])} == {seg["category_id"]}
        np.testing.assert_array_equal(sem == IGNORE_INDEX, id_map == 0)
    crowd = sum(s["iscrowd"] for a in data["annotations"] for s in a["segments_info"])
    assert crowd > 0


def test_unreadable_image_names_the_file(coco_sample_dir: Path, tmp_path: Path) -> None:
    root = copy_sample(coco_sample_dir, tmp_path / "sample")
    bad = root / "input_images" / "000000142238.jpg"
    bad.write_bytes(b"not a jpeg")
    dataset = make_dataset(root)
    with pytest.raises(ValueError, match=r"000000142238\.jpg"):
        dataset[0]


def test_missing_png_names_the_file(coco_sample_dir: Path, tmp_path: Path) -> None:
    root = copy_sample(coco_sample_dir, tmp_path / "sample")
    (root / "panoptic_examples" / "000000439180.png").unlink()
    dataset = make_dataset(root, test_mode=True)
    with pytest.raises(FileNotFoundError, match=r"000000439180\.png"):
        dataset[1]


def test_json_segment_absent_from_png_is_an_error_or_counted(
    coco_sample_dir: Path, tmp_path: Path
) -> None:
    root = copy_sample(coco_sample_dir, tmp_path / "sample")
    png = root / "panoptic_examples" / "000000142238.png"
    id_map = read_panoptic_png(png)
    gone = json.loads((root / "panoptic_examples.json").read_text())["annotations"][0][
        "segments_info"
    ][0]["id"]
    id_map[id_map == gone] = 0
    write_panoptic_png(png, id_map)
    with pytest.raises(ValueError, match=rf"000000142238.png.*\[{gone}\].*not occur"):
        make_dataset(root)[0]

    lenient = [dict(type="LoadImage"), dict(type="LoadPanopticAnnotations", strict=False)]
    dataset = make_dataset(root, pipeline=lenient)
    with pytest.warns(BadSampleWarning, match=str(gone)):
        results = dataset[0]
    assert gone not in [s["id"] for s in results["gt_segments"]]
    assert dataset.pipeline.transforms[1].num_warnings == 1


def test_png_id_absent_from_json_is_an_error(coco_sample_dir: Path, tmp_path: Path) -> None:
    root = copy_sample(coco_sample_dir, tmp_path / "sample")
    png = root / "panoptic_examples" / "000000142238.png"
    id_map = read_panoptic_png(png)
    id_map[:5, :5] = 777
    write_panoptic_png(png, id_map)
    with pytest.raises(ValueError, match=r"PNG ids \[777\]"):
        make_dataset(root)[0]


def test_unknown_category_in_json_names_the_file(coco_sample_dir: Path, tmp_path: Path) -> None:
    root = copy_sample(coco_sample_dir, tmp_path / "sample")
    ann_file = root / "panoptic_examples.json"
    data = json.loads(ann_file.read_text())
    data["annotations"][0]["segments_info"][0]["category_id"] = 9999
    ann_file.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"panoptic_examples\.json.*unknown category_id 9999"):
        make_dataset(root)
