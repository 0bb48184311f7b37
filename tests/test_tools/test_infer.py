"""tools/infer.py end to end: a small COCO-sized model on the two real COCO images,
its files read back by panopticapi's evaluation and pycocotools."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import cv2
import pytest
import torch
from panopticapi.evaluation import pq_compute
from pycocotools.coco import COCO

from panoptic.apis import inference_image, init_model
from panoptic.data.categories import category_metainfo

ROOT = Path(__file__).resolve().parents[2]
BASE_MODEL = ROOT / "configs/_base_/models/yolact_upsnet_r18_fpn.py"


def _load_tool():
    spec = importlib.util.spec_from_file_location("infer_tool", ROOT / "tools/infer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


infer = _load_tool()


def _write_config(tmp_path: Path) -> Path:
    """The small architecture with COCO's 80 + 53 classes, 128 px input, every detection kept."""
    config = tmp_path / "tiny_coco_panoptic.py"
    config.write_text(
        f"""_base_ = [{str(BASE_MODEL)!r}]
default_scope = "panoptic"
model = dict(
    instance_head=dict(num_classes=80, prior_base_size=128, conf_thresh=0.0),
    semantic_head=dict(num_thing_classes=80, num_stuff_classes=53),
    panoptic_head=dict(num_thing_classes=80, num_stuff_classes=53, score_thresh=0.0),
)
"""
    )
    return config


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp_path = tmp_path_factory.mktemp("infer")
    config = _write_config(tmp_path)
    torch.manual_seed(0)
    model = init_model(config)
    categories = json.loads(
        (ROOT / "tests/data/coco_panoptic_sample/panoptic_coco_categories.json").read_text()
    )
    checkpoint = tmp_path / "tiny.pth"
    torch.save(
        {
            "state_dict": model.state_dict(),
            "meta": {"dataset_meta": category_metainfo(categories)},
        },
        checkpoint,
    )
    return config, checkpoint


def test_help_names_the_inputs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        infer.parse_args(["--help"])
    text = capsys.readouterr().out
    assert "--input" in text and "--precision" in text and "--batch-size" in text


def test_missing_input_is_a_clear_error(
    tiny_model: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, checkpoint = tiny_model
    code = infer.main(
        [str(config), str(checkpoint), "--input", str(tmp_path / "nope*.jpg"), "--out", "x"]
    )
    assert code == 1
    assert "matches no image" in capsys.readouterr().err


def test_outputs_are_read_by_panopticapi_and_pycocotools(
    tiny_model: tuple[Path, Path], coco_sample_dir: Path, tmp_path: Path
) -> None:
    config, checkpoint = tiny_model
    out = tmp_path / "out"
    code = infer.main(
        [
            str(config),
            str(checkpoint),
            "--input",
            str(coco_sample_dir / "input_images"),
            "--out",
            str(out),
            "--batch-size",
            "2",
        ]
    )
    assert code == 0
    predictions = json.loads((out / "panoptic_pred.json").read_text())
    assert {a["image_id"] for a in predictions["annotations"]} == {142238, 439180}
    assert any(
        s["category_id"] <= 90 for a in predictions["annotations"] for s in a["segments_info"]
    )
    for name in ("000000142238", "000000439180"):
        overlay = cv2.imread(str(out / "overlays" / f"{name}.jpg"))
        image = cv2.imread(str(coco_sample_dir / "input_images" / f"{name}.jpg"))
        assert overlay.shape == image.shape

    results = pq_compute(
        str(coco_sample_dir / "panoptic_examples.json"),
        str(out / "panoptic_pred.json"),
        gt_folder=str(coco_sample_dir / "panoptic_examples"),
        pred_folder=str(out / "panoptic_pred"),
    )
    assert 0.0 <= results["All"]["pq"] <= 1.0

    instances = json.loads((out / "instances.json").read_text())
    assert instances and all("segmentation" in r for r in instances)
    gt = COCO(str(coco_sample_dir / "panoptic_coco_detection_format.json"))
    detections = gt.loadRes(str(out / "instances.json"))
    assert len(detections.getAnnIds()) == len(instances)


def test_bf16_batch_matches_inference_image_layout(
    tiny_model: tuple[Path, Path], coco_sample_dir: Path, tmp_path: Path
) -> None:
    config, checkpoint = tiny_model
    image = coco_sample_dir / "input_images" / "000000439180.jpg"
    code = infer.main(
        [
            str(config),
            str(checkpoint),
            "--input",
            str(image),
            "--out",
            str(tmp_path),
            "--precision",
            "bf16",
            "--no-overlays",
        ]
    )
    assert code == 0
    assert not (tmp_path / "overlays").exists()
    model = init_model(config, checkpoint)
    result = inference_image(model, image)
    assert result.pred_panoptic.id_map.shape == cv2.imread(str(image)).shape[:2]
    png = cv2.imread(str(tmp_path / "panoptic_pred" / "000000439180.png"))
    assert png.shape[:2] == result.pred_panoptic.id_map.shape


def test_categories_come_from_the_config_dataset(tmp_path: Path) -> None:
    from mmengine.config import Config

    config = Config.fromfile(str(ROOT / "configs/panoptic/yolact_upsnet_r18_synthetic.py"))
    meta = infer.resolve_dataset_meta(config, tmp_path / "no_meta.pth", None, 4, 3)
    assert meta["thing_classes"] == ("circle", "square", "triangle", "star")
    assert meta["label2cat"] == {label: label + 1 for label in range(7)}
    with pytest.raises(ValueError, match="the model has 80 and 53"):
        infer.resolve_dataset_meta(config, tmp_path / "no_meta.pth", None, 80, 53)
