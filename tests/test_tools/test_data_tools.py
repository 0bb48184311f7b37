"""The data command-line tools: make_synthetic, check_dataset, browse_dataset, demo."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_tool(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_synthetic_then_check_dataset(tmp_path: Path) -> None:
    make = load_tool("make_synthetic")
    check = load_tool("check_dataset")
    args = ["--out", str(tmp_path), "--split", "val", "--num", "3", "--img-size", "48", "64"]
    assert make.main([*args, "--set", "num_things=[1,2]", "crowd_prob=0.0"]) == 0
    ann_file = tmp_path / "annotations" / "panoptic_val.json"
    data = json.loads(ann_file.read_text())
    assert len(data["images"]) == 3 and data["images"][0]["height"] == 48
    seg_dir, img_dir = str(tmp_path / "panoptic" / "val"), str(tmp_path / "images" / "val")
    assert check.main([str(ann_file), "--seg-dir", seg_dir, "--img-dir", img_dir]) == 0
    data["annotations"][0]["segments_info"][0]["area"] += 1
    ann_file.write_text(json.dumps(data))
    assert check.main([str(ann_file), "--seg-dir", seg_dir]) == 1

    assert make.main(["--out", str(tmp_path), "--num", "1", "--video", "--img-size", "48"]) == 0
    assert (tmp_path / "annotations" / "video_panoptic_train.json").is_file()
    assert make.main(["--out", str(tmp_path), "--set", "num_thingz=3"]) == 2


def test_check_dataset_report_names_the_defect(
    tmp_path: Path, coco_sample_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    check = load_tool("check_dataset")
    ann = coco_sample_dir / "panoptic_examples.json"
    broken = json.loads(ann.read_text())
    broken["annotations"][1]["segments_info"][0]["category_id"] = 999
    bad_ann = tmp_path / "bad.json"
    bad_ann.write_text(json.dumps(broken))
    seg_dir = str(coco_sample_dir / "panoptic_examples")
    assert check.main([str(bad_ann), "--seg-dir", seg_dir]) == 1
    report = capsys.readouterr().out
    assert "1 errors" in report and "unknown_category" in report and "999" in report
    assert check.main([str(tmp_path / "absent.json"), "--seg-dir", seg_dir]) == 2
    assert "absent.json" in capsys.readouterr().err


def test_browse_dataset_writes_overlays_and_gifs(tmp_path: Path) -> None:
    browse = load_tool("browse_dataset")
    image_cfg = tmp_path / "images.py"
    image_cfg.write_text(
        "train_dataloader = dict(dataset=dict(type='SyntheticPanopticDataset', seed=0, "
        "num_images=5, img_size=48, pipeline=[]))\n"
    )
    assert browse.main([str(image_cfg), "--out", str(tmp_path / "img"), "--num", "3"]) == 0
    assert sorted(p.name for p in (tmp_path / "img").iterdir()) == ["0.png", "1.png", "2.png"]
    video_cfg = tmp_path / "videos.py"
    video_cfg.write_text(
        "val_dataloader = dict(dataset=dict(type='SyntheticVideoDataset', seed=0, "
        "num_videos=3, img_size=48, num_frames=3, pipeline=[]))\n"
    )
    out = tmp_path / "vid"
    assert browse.main([str(video_cfg), "--out", str(out), "--num", "2", "--split", "val"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["video_0.gif", "video_1.gif"]
    assert browse.main([str(video_cfg), "--out", str(out), "--split", "test"]) == 2


def test_demo_steps_generate_once_and_browse(tmp_path: Path) -> None:
    demo = load_tool("demo")
    data_dir, out_dir = tmp_path / "data", tmp_path / "out"
    demo.generate_data(data_dir, scale=0.004)
    ann = data_dir / "annotations" / "panoptic_train.json"
    assert len(json.loads(ann.read_text())["images"]) == 8
    stamp = ann.stat().st_mtime_ns
    demo.generate_data(data_dir, scale=0.004)
    assert ann.stat().st_mtime_ns == stamp
    demo.browse(data_dir, out_dir, num=2)
    names = sorted(p.name for p in (out_dir / "browse").iterdir())
    assert names == ["0.png", "video_0.gif"]
